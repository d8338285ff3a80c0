// Hinted replicas (Dynamo 4.6): copies this node holds for another, while that
// owner is down. They live apart from the node's own data, one store per owner
// under <node>/hints/<owner>/, and each one on disk is a hint. The socket server
// is the only process that touches that folder; an in-memory index answers "is
// any hint held for this key" without touching the disk, and pages through
// every hint for the scheduler's handoff (the `hints` message).
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { KeyState } from '../protocol/messages.js';
import { Store, type StorageEnv, type StoreOptions, type StoreWriter } from '../storage/store.js';

export const HINTS_DIR = 'hints';

export function hintStoreRoot(nodeDir: string, owner: string): string {
  return join(nodeDir, HINTS_DIR, owner);
}

export class HintStores {
  private readonly stores = new Map<string, Store>();
  private readonly index = new Map<string, Set<string>>(); // ns\0key -> owners

  constructor(
    private readonly env: StorageEnv,
    private readonly nodeDir: string,
    private readonly writer: StoreWriter | null,
    private readonly log: Logger,
    private readonly opts: StoreOptions,
  ) {}

  store(owner: string): Store {
    let s = this.stores.get(owner);
    if (!s) {
      s = new Store(this.env, hintStoreRoot(this.nodeDir, owner), this.writer, this.log, this.opts);
      this.stores.set(owner, s);
    }
    return s;
  }

  owners(): Promise<string[]> {
    return this.env.vol.readdirOrEmpty(join(this.nodeDir, HINTS_DIR));
  }

  /** Build the index from disk (at start-up). */
  async load(): Promise<number> {
    let count = 0;
    for (const owner of await this.owners()) {
      const store = this.store(owner);
      await store.sweep();
      for (const ns of await store.namespaces()) {
        for (const { key } of await store.list(ns)) {
          this.mark(owner, ns, key);
          count++;
        }
      }
    }
    return count;
  }

  mark(owner: string, ns: string, key: string): void {
    const k = `${ns}\0${key}`;
    let owners = this.index.get(k);
    if (!owners) this.index.set(k, (owners = new Set()));
    owners.add(owner);
  }

  unmark(owner: string, ns: string, key: string): void {
    const k = `${ns}\0${key}`;
    const owners = this.index.get(k);
    owners?.delete(owner);
    if (owners && owners.size === 0) this.index.delete(k);
  }

  /** How many hinted copies this node holds. */
  get size(): number {
    let n = 0;
    for (const owners of this.index.values()) n += owners.size;
    return n;
  }

  /** Hinted copies held, by owner. */
  countsByOwner(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const owners of this.index.values()) for (const o of owners) out[o] = (out[o] ?? 0) + 1;
    return out;
  }

  /** The owners this node holds a hinted copy of the key for. */
  holders(ns: string, key: string): string[] {
    return [...(this.index.get(`${ns}\0${key}`) ?? [])];
  }

  /** Every hinted key of a namespace, by owner. */
  keysIn(ns: string): Array<{ owner: string; key: string }> {
    const out: Array<{ owner: string; key: string }> = [];
    const prefix = `${ns}\0`;
    for (const [k, owners] of this.index) {
      if (!k.startsWith(prefix)) continue;
      for (const owner of owners) out.push({ owner, key: k.slice(prefix.length) });
    }
    return out;
  }

  /** Up to `limit` hinted copies with their states, in (owner, ns, key) order after the cursor `after`. */
  async page(after: string | undefined, limit: number): Promise<{ entries: Array<{ owner: string; ns: string; key: string; state: KeyState }>; next: string | null }> {
    const all: string[] = [];
    for (const [k, owners] of this.index) {
      const [ns, key] = splitKey(k);
      for (const owner of owners) all.push(`${owner}\0${ns}\0${key}`);
    }
    all.sort();
    const from = after === undefined ? 0 : all.findIndex((c) => c > after);
    const slice = from < 0 ? [] : all.slice(from, from + limit);
    const entries: Array<{ owner: string; ns: string; key: string; state: KeyState }> = [];
    for (const cursor of slice) {
      const [owner, ns, key] = cursor.split('\0') as [string, string, string];
      const state = await this.store(owner).read(ns, key);
      if (state) entries.push({ owner, ns, key, state });
      // Gone (a drop whose bookkeeping a disk error cut short): no longer a hint.
      else this.unmark(owner, ns, key);
    }
    const last = slice.at(-1);
    return { entries, next: last !== undefined && from + limit < all.length ? last : null };
  }
}

function splitKey(k: string): [string, string] {
  const i = k.indexOf('\0');
  return [k.slice(0, i), k.slice(i + 1)];
}
