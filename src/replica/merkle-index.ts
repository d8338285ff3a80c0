// The leaves of this node's Merkle trees (replica/merkle.ts), kept up to date
// as its replicas change, so that anti-entropy's `merkle` request costs a copy
// of some leaves and not a pass over every key (at a million keys per node a
// pass is minutes of reads, and anti-entropy asks for one per peer per round).
// A leaf is the XOR of its keys' entry hashes: each commit of the store XORs
// the key's old entry out and its new one in (CommitObserver).
//
// After a start (or a failed commit whose key cannot be read) they are built in
// the background by one walk over the keys in name order, a few at a time, with
// the node serving in between; until it ends, `merkle` is refused and the round
// tries again later. During the walk a commit updates the leaves only for keys
// the walk had passed when the commit began (the walk reads the others' states
// when it gets there); a key the walk meets while a commit of it is in flight
// is skipped, and that commit counts in its new state when it ends, as does a
// commit whose key the walk went by meanwhile without meeting it (a drop's
// name leaves the index before the commit ends): every key counts once.
import type { Logger } from '../log.js';
import { BUCKETS_NS, type KeyState } from '../protocol/messages.js';
import type { Clock, Timers } from '../runtime/runtime.js';
import { compareUtf8 } from '../storage/name-index.js';
import type { CommitObserver, Store } from '../storage/store.js';
import { MerkleForest } from './merkle.js';

/**
 * Keys read per slice of the walk: their states come from names.log in one or
 * two reads (a few ms for 256). After each slice the walk rests twice as long
 * as it took, so that it takes at most a third of the node's time: after a
 * restart of every machine, four walks share two cores with the pages and
 * reads being served.
 */
const WALK_SLICE = 256;
const REST_PER_WORK = 2;

/** What the walk reads of a store. */
export type WalkedStore = Pick<Store, 'namespaces' | 'names' | 'peek' | 'peekMany'>;

const keyOf = (ns: string, key: string): string => `${ns}\0${key}`;

export class MerkleIndex implements CommitObserver {
  private leaves: MerkleForest;
  /** Bumped by every walk: an older walk that sees it changed stops. */
  private walks = 0;
  private walking = false;
  /** Namespaces the walk has not finished; null while it lists them (nothing is passed then). */
  private pending: Set<string> | null = null;
  /** Namespaces committed to while the walk listed them: it walks them too. */
  private listedLate = new Set<string>();
  /** The walk's position in the namespace it is in: the last key it counted or skipped. */
  private at: { ns: string; key: string | null } | null = null;
  /** Keys with a commit under way, and whether the walk had counted the key when it began. */
  private readonly committing = new Map<string, boolean>();
  private store: WalkedStore | null = null;
  private stopped = false;
  /** Keys counted by the current walk, for the refusal's message. */
  private walked = 0;

  constructor(
    /** Partitions of the ring (fixed for a cluster's life). */
    readonly q: number,
    private readonly timers: Timers,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Keys per slice of the walk (small in tests, to interleave commits finely). */
    private readonly slice = WALK_SLICE,
    /**
     * Told each key's state as the walk reads it and as commits change it (null:
     * gone), for an index that must see every key once after a start and every
     * change after that (the chunked files, replica/chunked-files.ts).
     */
    private readonly onState: (ns: string, key: string, state: KeyState | null) => void = () => undefined,
  ) {
    this.leaves = new MerkleForest(q);
  }

  /** Whether the leaves are complete: a walk is not under way. */
  get ready(): boolean {
    return this.store !== null && !this.walking;
  }

  /** How far the walk is, for an operator reading a refusal. */
  get progress(): number {
    return this.walked;
  }

  /** Start keeping the leaves of `store` (which must report its commits here). */
  start(store: WalkedStore): void {
    this.store = store;
    this.rebuild();
  }

  stop(): void {
    this.stopped = true;
    this.walks++;
  }

  /** A partition's leaves as hex (all zero when it holds nothing). */
  leavesOf(partition: number): string[] {
    return this.leaves.leavesOf(partition);
  }

  changing(ns: string, key: string): void {
    if (ns !== BUCKETS_NS) this.committing.set(keyOf(ns, key), this.passed(ns, key));
  }

  changed(ns: string, key: string, was: KeyState | null, next: KeyState | null): void {
    if (ns === BUCKETS_NS) return;
    this.onState(ns, key, next);
    const k = keyOf(ns, key);
    const counted = this.committing.get(k) ?? this.passed(ns, key);
    this.committing.delete(k);
    if (counted) {
      // The walk had counted the old state (or was over) before this commit began.
      if (was) this.leaves.toggle(ns, key, was);
      if (next) this.leaves.toggle(ns, key, next);
    } else if (this.passed(ns, key)) {
      // The walk went by during the commit: it skipped the key, or did not meet it (a drop already applied).
      if (next) this.leaves.toggle(ns, key, next);
    }
    // Else the walk has yet to come to the key, and will read the new state there.
  }

  /** A commit failed and its key cannot be read: the leaves are built again. */
  unknown(ns: string, key: string): void {
    if (ns === BUCKETS_NS) return;
    this.committing.delete(keyOf(ns, key));
    this.rebuild();
  }

  private rebuild(): void {
    if (this.stopped || !this.store) return;
    const walk = ++this.walks;
    this.leaves = new MerkleForest(this.q);
    // Commits under way began before this walk: it has counted none of their keys.
    for (const k of this.committing.keys()) this.committing.set(k, false);
    this.listedLate.clear();
    this.pending = null;
    this.at = null;
    this.walking = true;
    this.walked = 0;
    void this.walk(this.store, walk).catch((err: unknown) => {
      if (walk !== this.walks) return;
      // Anti-entropy stays off on this node until a later commit failure or a restart walks again.
      this.log.warn('building the Merkle leaves failed: anti-entropy is refused by this node until it restarts', { error: (err as Error).message });
    });
  }

  /** Whether the current walk has counted (or skipped) this key already, or will never meet it. */
  private passed(ns: string, key: string): boolean {
    if (!this.walking) return true;
    if (this.pending === null) {
      this.listedLate.add(ns);
      return false;
    }
    if (!this.pending.has(ns)) return true;
    return this.at !== null && this.at.ns === ns && this.at.key !== null && compareUtf8(key, this.at.key) <= 0;
  }

  private async walk(store: WalkedStore, walk: number): Promise<void> {
    const listed = (await store.namespaces()).filter((ns) => ns !== BUCKETS_NS);
    if (walk !== this.walks) return;
    const spaces = [...new Set([...listed, ...this.listedLate])].sort(compareUtf8);
    this.pending = new Set(spaces);
    for (const ns of spaces) {
      this.at = { ns, key: null };
      let after: string | undefined;
      for (;;) {
        // Names and states are read synchronously: no commit lands within a slice.
        const began = this.clock.monotonic();
        const { keys, truncated } = store.names(ns, after, this.slice);
        // A key mid-commit is skipped: its files may hold either state, and its commit counts it in.
        const counted = keys.filter((key) => !this.committing.has(keyOf(ns, key)));
        const states = this.readMany(store, ns, counted);
        counted.forEach((key, i) => {
          const state = states[i];
          if (state) this.leaves.toggle(ns, key, state);
          this.onState(ns, key, state ?? null);
        });
        if (keys.length > 0) this.at.key = keys.at(-1) as string;
        this.walked += keys.length;
        if (!truncated || keys.length === 0) break;
        after = keys.at(-1);
        await this.timers.sleep(Math.max(1, REST_PER_WORK * (this.clock.monotonic() - began)));
        if (walk !== this.walks) return;
      }
      this.pending.delete(ns);
    }
    this.walking = false;
    this.at = null;
    this.log.info('Merkle leaves built', { keys: this.walked });
  }

  /**
   * A key's state for the walk. One that cannot be read (a manifest damaged
   * outside the store) counts as absent rather than stopping the walk: its
   * leaf then differs from the other replicas', and the warning names it.
   */
  private readMany(store: WalkedStore, ns: string, keys: readonly string[]): Array<KeyState | null> {
    try {
      return store.peekMany(ns, keys);
    } catch {
      return keys.map((key) => this.read(store, ns, key)); // find the one that cannot be read
    }
  }

  private read(store: WalkedStore, ns: string, key: string): KeyState | null {
    try {
      return store.peek(ns, key);
    } catch (err) {
      this.log.warn('a key the Merkle walk cannot read counts as absent', { ns, key, error: (err as Error).message });
      return null;
    }
  }
}
