// Hinted replicas (Dynamo 4.6): copies this node holds for another, while that
// owner is down. They live apart from the node's own data, one store per owner
// under <node>/hints/<owner>/, and each one on disk is a hint: the scheduler
// (cron process) lists them in hinted.json and hands them off. This process is
// the only writer of that folder; an in-memory index answers "is any hint held
// for this key" without touching the disk.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { Store, type StoreOptions, type StoreWriter } from '../storage/store.js';

export const HINTS_DIR = 'hints';

export function hintStoreRoot(nodeDir: string, owner: string): string {
  return join(nodeDir, HINTS_DIR, owner);
}

export class HintStores {
  private readonly stores = new Map<string, Store>();
  private readonly index = new Map<string, Set<string>>(); // ns\0key -> owners

  constructor(
    private readonly nodeDir: string,
    private readonly writer: StoreWriter | null,
    private readonly log: Logger,
    private readonly opts: StoreOptions,
  ) {}

  store(owner: string): Store {
    let s = this.stores.get(owner);
    if (!s) {
      s = new Store(hintStoreRoot(this.nodeDir, owner), this.writer, this.log, this.opts);
      this.stores.set(owner, s);
    }
    return s;
  }

  async owners(): Promise<string[]> {
    try {
      return await readdir(join(this.nodeDir, HINTS_DIR));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
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
}
