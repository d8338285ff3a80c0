// Merkle trees per partition over (key, version context), for anti-entropy
// (Dynamo 4.7). A partition's keys fall into LEAVES leaves by the bits of
// their hash just below the partition's; a leaf's hash is the XOR of its keys'
// entry hashes (so it is the same whatever order the keys are met in, and a
// key's change updates it in place), the root is the hash of the leaves. Two
// replicas whose roots agree hold the same versions of that partition; where
// they differ, only the differing leaves' keys are compared.
import { createHash } from 'node:crypto';
import { dotId } from '../clock/dvv.js';
import type { KeyState } from '../protocol/messages.js';
import { objectKey, ringHash } from '../ring/hash.js';

export const LEAVES = 64;
const ZERO = '0'.repeat(32);

/** The hash of one key's versions: its name, its context and its siblings' dots. */
export function entryHash(ns: string, key: string, state: KeyState): Buffer {
  const context = Object.entries(state.context).sort(([a], [b]) => (a < b ? -1 : 1));
  const dots = state.siblings.map((s) => dotId(s.dot)).sort();
  return createHash('md5').update(JSON.stringify([ns, key, context, dots])).digest();
}

/** The partition (of q) and leaf a key falls in. */
export function placeOf(ns: string, key: string, q: number): { partition: number; leaf: number } {
  const h = ringHash(objectKey(ns, key));
  const scaled = Math.floor((h * q * LEAVES) / 2 ** 32);
  return { partition: Math.floor(scaled / LEAVES), leaf: scaled % LEAVES };
}

/** The leaves of some partitions, from their keys' entries. */
export class MerkleForest {
  private readonly leaves = new Map<number, Buffer[]>();

  constructor(readonly q: number) {}

  /** Count a key's entry in, or out if it is in: XOR is its own inverse. */
  toggle(ns: string, key: string, state: KeyState): void {
    const { partition, leaf } = placeOf(ns, key, this.q);
    let row = this.leaves.get(partition);
    if (!row) this.leaves.set(partition, (row = Array.from({ length: LEAVES }, () => Buffer.alloc(16))));
    const h = entryHash(ns, key, state);
    const into = row[leaf] as Buffer;
    for (let i = 0; i < 16; i++) into[i] = (into[i] as number) ^ (h[i] as number);
  }

  /** A partition's leaves as hex (all zero when it holds nothing). */
  leavesOf(partition: number): string[] {
    const row = this.leaves.get(partition);
    return row ? row.map((b) => b.toString('hex')) : Array.from({ length: LEAVES }, () => ZERO);
  }
}

/** A tree's root: the hash of its leaves. */
export function rootOf(leaves: readonly string[]): string {
  return createHash('md5').update(leaves.join('')).digest('hex');
}

/** The leaves where two trees differ. */
export function differingLeaves(a: readonly string[], b: readonly string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < LEAVES; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
