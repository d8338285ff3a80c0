// The keys of this node's store that have a version stored in chunks, in name
// order per bucket: what the scheduler's chunk scrub walks (cron/chunk-scrub.ts),
// so that it costs the large files, not every file. Filled by the Merkle walk
// after a start (which reads every key's state once anyway) and kept by every
// commit after that (MerkleIndex's onState).
import type { KeyState } from '../protocol/messages.js';
import { BTree, compareUtf8 } from '../storage/name-index.js';

export function hasChunks(state: KeyState | null): boolean {
  return state !== null && state.siblings.some((s) => s.chunked !== undefined && !s.deleted);
}

export class ChunkedFiles {
  /** "<ns>\0<key>" in (ns, key) byte order. */
  private readonly keys = new BTree<string, true>(undefined, compareUtf8);

  track(ns: string, key: string, state: KeyState | null): void {
    const k = `${ns}\0${key}`;
    if (hasChunks(state)) this.keys.set(k, true);
    else this.keys.delete(k);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Up to `limit` keys after the cursor (a [ns, key] pair given by an earlier page). */
  page(after: readonly [string, string] | undefined, limit: number): { keys: Array<[string, string]>; next: [string, string] | null } {
    const out: Array<[string, string]> = [];
    const from = after ? `${after[0]}\0${after[1]}` : undefined;
    let more = false;
    const last = this.keys.maxKey();
    if (last === undefined) return { keys: out, next: null };
    this.keys.forRange(from ?? '', last, true, (k: string) => {
      if (k === from) return;
      if (out.length === limit) {
        more = true;
        return { break: true };
      }
      const i = k.indexOf('\0');
      out.push([k.slice(0, i), k.slice(i + 1)]);
      return undefined;
    });
    return { keys: out, next: more ? (out.at(-1) as [string, string]) : null };
  }
}
