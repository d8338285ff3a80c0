// Locks that cannot deadlock (issue 15): a lock is a lease that runs out, and
// every grant carries a fencing token (as Chubby's sequencers and etcd's lock
// revisions do) that writes to the file are checked against.
//
// Each file's lock is one record in a compare-and-set register (cas.ts, Paxos
// among the file's N owners): the last fencing token issued, the holder and
// its lease, and a FIFO queue of waiting requests, each with the moment it
// gives up. Every change is a compare-and-set from the record as it is, so two
// coordinators can never both grant: one of them finds the record changed.
// Anyone may move the lock on (an ended lease let go, the head of the queue
// granted): a release does it at once, a waiter does it when the lease it
// waits behind ends, so no single process has to stay alive for the queue to
// move. Times are the coordinators' wall clocks; a coordinator whose clock runs
// ahead may end a lease early, and the fencing token is what keeps the holder
// it ended from overwriting its successor's work.
import { ErrorCode, RingstoreError, type ReplicaFailure } from '../errors.js';
import type { Ballot } from '../storage/paxos-store.js';
import { validateFileName } from '../storage/names.js';
import { compareAndSet, readRegister, tooFewOwners, type Decision } from './cas.js';
import type { Cluster } from './cluster.js';

export interface LockHolder {
  /** The request it was granted to. */
  id: string;
  fencing: number;
  expiresAt: number;
  ttlMs: number;
}

export interface LockWaiter {
  id: string;
  ttlMs: number;
  /** When its request stops waiting (its wait_ms): past it, nobody grants it the lock. */
  deadline: number;
}

export interface LockRecord {
  /** The last fencing token issued for this file; the next grant gets one more. */
  fencing: number;
  holder: LockHolder | null;
  queue: LockWaiter[];
}

export interface Grant {
  fencing: number;
  expiresAt: number;
  ttlMs: number;
}

export const DEFAULT_TTL_MS = 30_000;
export const MAX_TTL_MS = 24 * 3600_000;
export const MAX_WAIT_MS = 300_000;
/** How long a waiting request sleeps between looks at the record when nothing wakes it. */
const WAIT_SLICE_MS = 1000;
/** How much later than the waiter ahead of it a waiter moves the lock on when a lease ends. */
const ADVANCE_STAGGER_MS = 150;

const EMPTY: LockRecord = { fencing: 0, holder: null, queue: [] };
const spaceOf = (bucket: string): string => `lock:${bucket}`;

/** A record as stored; anything else (none yet) is the empty record. */
function asRecord(v: unknown): LockRecord {
  if (v === null || typeof v !== 'object') return EMPTY;
  const r = v as Partial<LockRecord>;
  return { fencing: typeof r.fencing === 'number' ? r.fencing : 0, holder: r.holder ?? null, queue: Array.isArray(r.queue) ? r.queue : [] };
}

/**
 * The record as of `now`: an ended lease let go, waiters that gave up dropped,
 * and the head of the queue granted if the lock is free. The same object when
 * nothing changes.
 */
export function advance(r: LockRecord, now: number): LockRecord {
  let holder = r.holder && r.holder.expiresAt > now ? r.holder : null;
  let queue = r.queue.filter((w) => w.deadline > now);
  let fencing = r.fencing;
  const head = queue[0];
  if (!holder && head) {
    fencing++;
    holder = { id: head.id, fencing, expiresAt: now + head.ttlMs, ttlMs: head.ttlMs };
    queue = queue.slice(1);
  }
  return holder === r.holder && queue.length === r.queue.length ? r : { fencing, holder, queue };
}

/** Write the advanced record if advancing changed it; answer `result` either way. */
function settle<R>(r: LockRecord, a: LockRecord, result: R): Decision<R> {
  return a === r ? { result } : { write: a, result };
}

function grantOf(h: LockHolder): Grant {
  return { fencing: h.fencing, expiresAt: h.expiresAt, ttlMs: h.ttlMs };
}

function lockCas<R>(c: Cluster, bucket: string, file: string, decide: (r: LockRecord, now: number) => Decision<R>): Promise<R> {
  return compareAndSet(c, spaceOf(bucket), { ns: bucket, key: file }, (current) => decide(asRecord(current), c.rt.clock.now()));
}

export interface LockState {
  record: LockRecord;
  /** The committed ballot it was read at (what a watch waits to change). */
  ballot: Ballot | null;
  /** How many owners answered. */
  answered: number;
}

/**
 * The lock record as committed at those of the file's owners that answer. `answered` counts the owners
 * that can vouch for it (not one that started on an empty disk and is still taking in its peers' state);
 * `ever` says whether any answer knew of a lock on the file at all.
 */
async function gather(c: Cluster, bucket: string, file: string): Promise<LockState & { owners: number; majority: number; failed: ReplicaFailure[]; ever: boolean }> {
  const s = await readRegister(c, spaceOf(bucket), { ns: bucket, key: file });
  return { ...s, record: asRecord(s.value) };
}

/**
 * A file's lock record as committed at a majority of its owners (paxos_read):
 * a grant answers only once a majority has it, so this sees every grant that
 * was answered before it started.
 */
export async function readLock(c: Cluster, bucket: string, file: string): Promise<LockState> {
  const s = await gather(c, bucket, file);
  if (s.answered < s.majority) throw tooFewOwners(`the lock of ${file}`, s);
  return s;
}

/** Wait until an owner's committed lock record changes from `ballot`, or `ms` pass. */
async function waitForChange(c: Cluster, bucket: string, file: string, ballot: Ballot | null, ms: number): Promise<void> {
  const owners = c.registerOwners(bucket, file);
  const waitMs = Math.max(1, Math.min(ms, 30_000));
  await new Promise<void>((resolve) => {
    let pending = owners.length;
    const timer = c.rt.timers.setTimeout(resolve, waitMs, { background: true });
    const done = (): void => {
      timer.cancel();
      resolve();
    };
    for (const node of owners) {
      c.transport.request(c.peer(node), { type: 'paxos_watch', space: spaceOf(bucket), key: file, committed: ballot, waitMs }, [], { timeoutMs: waitMs + 1000 }).then(
        ({ reply }) => {
          if (reply.changed) done();
          else if (--pending === 0) done();
        },
        () => {
          if (--pending === 0) done();
        },
      );
    }
  });
}

function conflict(file: string, position: number, why: 'held' | 'waited' | 'gone'): RingstoreError {
  const message = {
    held: `${file} is locked; this request would have been number ${position} in its queue (wait_ms was 0)`,
    waited: `${file} is still locked: this request was number ${position} in its queue when its wait_ms ran out`,
    gone: `${file}: the client stopped waiting for the lock`,
  }[why];
  return new RingstoreError(ErrorCode.CONFLICT, message, { details: { queue_position: position } });
}

/**
 * Take a file's lock: at once if it is free and nobody waits, else in the queue
 * for up to `waitMs` (0: not at all). Resolves with the grant, or rejects with
 * CONFLICT and the request's place in the queue. `abandoned` says the client
 * went away: the request leaves the queue (or lets go of what it got).
 */
export async function acquireLock(c: Cluster, bucket: string, file: string, opts: { ttlMs: number; waitMs: number }, abandoned: () => boolean = () => false): Promise<Grant> {
  validateFileName(file);
  const id = c.rt.random.uuid();
  const deadline = c.rt.clock.now() + opts.waitMs;
  type Step = { grant: Grant } | { position: number };
  const first = await lockCas<Step>(c, bucket, file, (r, now) => {
    const a = advance(r, now);
    if (!a.holder) {
      const holder: LockHolder = { id, fencing: a.fencing + 1, expiresAt: now + opts.ttlMs, ttlMs: opts.ttlMs };
      return { write: { fencing: holder.fencing, holder, queue: [] }, result: { grant: grantOf(holder) } };
    }
    if (opts.waitMs <= 0) return settle(r, a, { position: a.queue.length + 1 });
    return { write: { ...a, queue: [...a.queue, { id, ttlMs: opts.ttlMs, deadline }] }, result: { position: a.queue.length + 1 } };
  });
  if ('grant' in first) return first.grant;
  if (opts.waitMs <= 0) throw conflict(file, first.position, 'held');

  for (;;) {
    const seen = await readLock(c, bucket, file);
    const now = c.rt.clock.now();
    if (seen.record.holder?.id === id) {
      if (!abandoned()) return grantOf(seen.record.holder);
      await releaseLock(c, bucket, file, seen.record.holder.fencing).catch(() => undefined);
      throw conflict(file, 0, 'gone');
    }
    let place = seen.record.queue.findIndex((w) => w.id === id);
    if (place < 0 && now < deadline && !abandoned()) {
      // Neither holder nor waiting, as far as committed values show: ask through Paxos, which finishes
      // a change still under way (a hand-over to us, say) before it answers.
      const fate = await lockCas<{ grant: Grant } | { place: number }>(c, bucket, file, (r) => ({ result: r.holder?.id === id ? { grant: grantOf(r.holder) } : { place: r.queue.findIndex((w) => w.id === id) } }));
      if ('grant' in fate) return fate.grant;
      place = fate.place;
    }
    if (now >= deadline || abandoned() || place < 0) {
      // Stop waiting: out of the queue, unless the lock came to us meanwhile.
      const last = await lockCas<Step>(c, bucket, file, (r, at) => {
        const a = advance(r, at);
        if (a.holder?.id === id) return settle(r, a, { grant: grantOf(a.holder) });
        const i = a.queue.findIndex((w) => w.id === id);
        if (i < 0) return settle(r, a, { position: a.queue.length + 1 });
        return { write: { ...a, queue: a.queue.filter((w) => w.id !== id) }, result: { position: i + 1 } };
      });
      if ('grant' in last) {
        if (!abandoned()) return last.grant;
        await releaseLock(c, bucket, file, last.grant.fencing).catch(() => undefined);
        throw conflict(file, 0, 'gone');
      }
      throw conflict(file, last.position, abandoned() ? 'gone' : 'waited');
    }
    // A lease ended or a waiter gave up: the lock moves on (to the head of the queue, us or not). The first
    // waiter does it at once; each one behind it a little later, in case those ahead went away, so that
    // the waiters do not all propose at the same moment.
    const since = Math.max(seen.record.holder?.expiresAt ?? 0, ...seen.record.queue.filter((w) => w.deadline <= now).map((w) => w.deadline));
    const turn = since + ADVANCE_STAGGER_MS * place;
    if (advance(seen.record, now) !== seen.record && now >= turn) {
      await lockCas(c, bucket, file, (r, at) => settle(r, advance(r, at), null));
      continue;
    }
    // Sleep until something changes: a commit on the record, the lease's end, a waiter's deadline, ours.
    const upcoming = [seen.record.holder?.expiresAt ?? Infinity, ...seen.record.queue.map((w) => w.deadline)].filter((t) => t > now);
    const wake = Math.min(deadline, ...upcoming, turn > now ? turn : Infinity, now + WAIT_SLICE_MS);
    await waitForChange(c, bucket, file, seen.ballot, wake - now + 1);
  }
}

/** Extend the holder's lease (by its ttl, or a new one). */
export async function renewLock(c: Cluster, bucket: string, file: string, token: number, ttlMs?: number): Promise<Grant> {
  validateFileName(file);
  const outcome = await lockCas<{ grant: Grant } | { refused: RingstoreError }>(c, bucket, file, (r, now) => {
    const h = r.holder;
    if (h && h.fencing === token && h.expiresAt > now) {
      const ttl = ttlMs ?? h.ttlMs;
      const holder = { ...h, expiresAt: now + ttl, ttlMs: ttl };
      return { write: { ...r, holder }, result: { grant: grantOf(holder) } };
    }
    return settle(r, advance(r, now), { refused: staleToken(file, token, advance(r, now), 'renew') });
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome.grant;
}

/** Let go of the lock; the next waiter gets it at once. Releasing a lock whose lease already ended is not an error. */
export async function releaseLock(c: Cluster, bucket: string, file: string, token: number): Promise<{ next: Grant | null }> {
  validateFileName(file);
  const outcome = await lockCas<{ next: Grant | null } | { refused: RingstoreError }>(c, bucket, file, (r, now) => {
    if (r.holder?.fencing === token) {
      const a = advance({ ...r, holder: null }, now);
      return { write: a, result: { next: a.holder ? grantOf(a.holder) : null } };
    }
    const a = advance(r, now);
    if (token === r.fencing && !r.holder) return settle(r, a, { next: a.holder ? grantOf(a.holder) : null });
    return settle(r, a, { refused: staleToken(file, token, a, 'release') });
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
}

function staleToken(file: string, token: number, r: LockRecord, what: string): RingstoreError {
  const current = r.holder ? `the lock is held with token ${r.holder.fencing}` : `the lock is free; the last token issued was ${r.fencing}`;
  const why = token === r.fencing && !r.holder ? 'its lease has ended' : token > r.fencing ? 'it was never issued' : 'a newer grant was made since';
  return new RingstoreError(ErrorCode.STALE_LOCK_TOKEN, `cannot ${what} the lock of ${file} with token ${token}: ${why}; ${current}`, {
    details: { current_token: r.holder?.fencing ?? null, last_token: r.fencing },
  });
}

/** What a lock looks like now (GET …/lock). */
export async function describeLock(c: Cluster, bucket: string, file: string): Promise<{ locked: boolean; fencing_token: number | null; expires_at: number | null; last_token: number; queue_length: number }> {
  validateFileName(file);
  const { record } = await readLock(c, bucket, file);
  const now = c.rt.clock.now();
  const holder = record.holder && record.holder.expiresAt > now ? record.holder : null;
  return { locked: holder !== null, fencing_token: holder?.fencing ?? null, expires_at: holder?.expiresAt ?? null, last_token: record.fencing, queue_length: record.queue.filter((w) => w.deadline > now).length };
}

/**
 * May a write of this file go ahead with this token (or none)? While the lease
 * runs, only with the holder's token (423 without one, 409 with another); once
 * it has ended, without a token or with the last one issued, never with an
 * older one: a newer holder may have written since.
 *
 * A majority of the owners is asked. When fewer answer but none of those that
 * did has ever seen a lock on the file, the write goes ahead: a file that was
 * never locked stays as available as before locks existed (sloppy quorum).
 */
export async function checkLock(c: Cluster, bucket: string, file: string, token: number | undefined): Promise<void> {
  const state = await gather(c, bucket, file);
  if (state.answered < state.majority && (state.ever || token !== undefined || state.failed.length === state.owners)) throw tooFewOwners(`the lock of ${file}`, state);
  const r = state.record;
  const now = c.rt.clock.now();
  const held = r.holder && r.holder.expiresAt > now ? r.holder : null;
  if (held) {
    if (token === undefined) {
      throw new RingstoreError(ErrorCode.LOCKED, `${file} is locked until ${new Date(held.expiresAt).toISOString()}: send the holder's token in X-Lock-Token`, {
        details: { expires_at: held.expiresAt },
      });
    }
    if (token !== held.fencing) throw writeStale(file, token, held.fencing);
    return;
  }
  if (token !== undefined && token < r.fencing) throw writeStale(file, token, null, r.fencing);
}

function writeStale(file: string, token: number, current: number | null, last?: number): RingstoreError {
  const now = current !== null ? `the current token is ${current}` : `the lock is free now, and token ${last} was issued after yours`;
  return new RingstoreError(ErrorCode.STALE_LOCK_TOKEN, `lock token ${token} is stale for ${file}: ${now}`, { details: { current_token: current, last_token: last ?? current } });
}
