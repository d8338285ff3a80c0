// A replica's Paxos acceptor state, one small record per key of a space (a
// lock table, transaction decisions): the highest ballot it promised, the
// value it last accepted, and the last value committed. Each change is on disk
// (written to a temporary file, fsynced, renamed, folder fsynced) before the
// acceptor answers, because a promise or an acceptance forgotten in a crash
// would let two proposers both win. Records live under <node>/paxos/, named by
// the SHA-256 of space and key; the process keeps the ones it used in memory,
// and the names of those on disk, so a key that never had one (every file a
// write checks for a lock) costs no disk access and no memory.
import { join } from 'node:path';
import { isErrno } from '../runtime/disk.js';
import { fileStem } from './names.js';
import type { Volume } from './volume.js';

export interface Ballot {
  /** Grows with every proposal a proposer makes (and past every ballot it has seen). */
  n: number;
  /** The proposing process: two proposals never share a ballot. */
  actor: string;
}

/**
 * A value proposed for one slot of a register: the slot is named by the write
 * whose committed value it follows (`prev`), so a proposal left over from a
 * slot that has since been decided is known as stale and never finished. (Not
 * by the committed ballot: a value finished by two proposers is committed under
 * two ballots, and is still one slot.)
 */
export interface Proposal {
  ballot: Ballot;
  value: unknown;
  /** The write whose committed value this one was decided from (null: the register's first value). */
  prev: string | null;
  /** The write's own id: its proposer knows it again, whoever finished it. */
  w: string;
}

/** What a commit leaves in an acceptor's recent history: which write filled the slot after `prev`. */
export interface CommitNote {
  ballot: Ballot;
  prev: string | null;
  w: string;
}

/** How many commits an acceptor remembers, for a proposer to learn whether its write won a slot. */
export const RECENT_COMMITS = 32;

export interface AcceptorState {
  promised: Ballot | null;
  accepted: Proposal | null;
  committed: Proposal | null;
  recent?: CommitNote[];
}

export const EMPTY_ACCEPTOR: AcceptorState = { promised: null, accepted: null, committed: null, recent: [] };

export function compareBallots(a: Ballot | null | undefined, b: Ballot | null | undefined): number {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  return a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0;
}

export class PaxosStore {
  private readonly cache = new Map<string, AcceptorState>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly dir: string;
  /** The stems of the records on disk, read once. */
  private onDisk: Promise<Set<string>> | null = null;
  private readonly watchers = new Set<(space: string, key: string) => void>();

  /**
   * Started on an empty disk: this acceptor may have promised or accepted things it no longer knows, so it
   * answers no Paxos request until it has taken in every peer's records (see adopt). Kept on disk (the
   * RECOVERING file, written before anything else of the node) until then, so a crash does not forget it.
   */
  private recoveringNow = false;
  private readonly marker: string;

  constructor(
    private readonly vol: Volume,
    private readonly nodeDir: string,
  ) {
    this.dir = join(nodeDir, 'paxos');
    this.marker = join(this.dir, 'RECOVERING');
  }

  /** Before the node's identity is created: a data folder without one is an empty disk. */
  async open(): Promise<void> {
    const exists = (path: string): boolean => this.vol.disk.statSync(path) !== null;
    if (!exists(join(this.nodeDir, 'identity.json')) && !exists(this.marker)) {
      await this.vol.mkdirDurable(this.dir);
      await this.vol.writeFileAtomic(this.marker, 'this node started on an empty disk: it takes part in Paxos once it has every peer\'s acceptor state\n');
    }
    this.recoveringNow = exists(this.marker);
  }

  get recovering(): boolean {
    return this.recoveringNow;
  }

  /** Take in a peer's records: each state grows to cover both (the highest promise, acceptance and commit). */
  async adopt(records: ReadonlyArray<{ space: string; key: string; state: AcceptorState }>): Promise<void> {
    for (const r of records) {
      await this.change(r.space, r.key, (s) => {
        const promised = compareBallots(r.state.promised, s.promised) > 0 ? r.state.promised : s.promised;
        const accepted = compareBallots(r.state.accepted?.ballot, s.accepted?.ballot) > 0 ? r.state.accepted : s.accepted;
        const committed = compareBallots(r.state.committed?.ballot, s.committed?.ballot) > 0 ? r.state.committed : s.committed;
        const recent = mergeRecent(s.recent ?? [], r.state.recent ?? []);
        const same = promised === s.promised && accepted === s.accepted && committed === s.committed && recent.length === (s.recent ?? []).length;
        return { state: same ? s : { promised, accepted, committed, recent }, reply: undefined };
      });
    }
  }

  /** Every peer's records are in: this acceptor answers again. */
  async recovered(): Promise<void> {
    if (!this.recoveringNow) return;
    await this.vol.disk.unlink(this.marker).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
    await this.vol.disk.fsyncDir(this.dir);
    this.recoveringNow = false;
  }

  /** A page of this node's records in the order of their file names, after `after`, of at most `limit` records and about `maxBytes`. */
  async dump(after: string | undefined, limit: number, maxBytes: number): Promise<{ records: Array<{ space: string; key: string; state: AcceptorState }>; next: string | null }> {
    const stems = [...(await this.stems())].filter((n) => after === undefined || n > after).sort();
    const records: Array<{ space: string; key: string; state: AcceptorState }> = [];
    let bytes = 0;
    for (const [i, stem] of stems.entries()) {
      if (records.length >= limit || bytes >= maxBytes) return { records, next: stems[i - 1] ?? null };
      let file: { space: string; key: string; state: AcceptorState };
      try {
        file = JSON.parse((await this.vol.disk.readFile(join(this.dir, `${stem}.json`))).toString('utf8')) as typeof file;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      const cached = this.cache.get(`${file.space}\0${file.key}`);
      const record = { space: file.space, key: file.key, state: cached ?? file.state };
      bytes += JSON.stringify(record).length;
      records.push(record);
    }
    return { records, next: null };
  }

  private stem(space: string, key: string): string {
    return fileStem(`${space}\0${key}`);
  }

  private path(space: string, key: string): string {
    return join(this.dir, `${this.stem(space, key)}.json`);
  }

  private stems(): Promise<Set<string>> {
    this.onDisk ??= this.vol.readdirOrEmpty(this.dir).then(
      (names) => new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length))),
      (err: unknown) => {
        this.onDisk = null; // a failing disk: the next read tries again
        throw err;
      },
    );
    return this.onDisk;
  }

  async read(space: string, key: string): Promise<AcceptorState> {
    const k = `${space}\0${key}`;
    const cached = this.cache.get(k);
    if (cached) return cached;
    if (!(await this.stems()).has(this.stem(space, key))) return EMPTY_ACCEPTOR;
    let state = EMPTY_ACCEPTOR;
    try {
      const file = JSON.parse((await this.vol.disk.readFile(this.path(space, key))).toString('utf8')) as { state: AcceptorState };
      state = file.state;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    this.cache.set(k, state);
    return state;
  }

  /** Called after each change of a key's committed value (a waiting lock request wakes on it). */
  watch(fn: (space: string, key: string) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /**
   * Change a key's state under its lock: `change` returns the new state (or the
   * same object for none) and what to answer; the new state is durable first.
   */
  change<R>(space: string, key: string, change: (s: AcceptorState) => { state: AcceptorState; reply: R }): Promise<R> {
    const k = `${space}\0${key}`;
    const run = async (): Promise<R> => {
      const current = await this.read(space, key);
      const { state, reply } = change(current);
      if (state !== current) {
        await this.vol.mkdirDurable(this.dir);
        await this.vol.writeFileAtomic(this.path(space, key), JSON.stringify({ v: 1, space, key, state }));
        (await this.stems()).add(this.stem(space, key));
        this.cache.set(k, state);
        if (compareBallots(state.committed?.ballot, current.committed?.ballot) !== 0) for (const fn of this.watchers) fn(space, key);
      }
      return reply;
    };
    const prev = this.locks.get(k) ?? Promise.resolve();
    const result = prev.then(run, run);
    const tail = result.catch(() => undefined);
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return result;
  }
}

/** Two acceptors' recent commits together (one note per write), oldest first, at most RECENT_COMMITS. */
export function mergeRecent(a: readonly CommitNote[], b: readonly CommitNote[]): CommitNote[] {
  const byWrite = new Map<string, CommitNote>();
  for (const n of [...a, ...b]) {
    const known = byWrite.get(n.w);
    if (!known || compareBallots(n.ballot, known.ballot) > 0) byWrite.set(n.w, n);
  }
  return [...byWrite.values()].sort((x, y) => compareBallots(x.ballot, y.ballot)).slice(-RECENT_COMMITS);
}
