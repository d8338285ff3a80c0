// Moving partitions (Dynamo 4.9, riak_core's handoff): after a membership
// change, each machine copies in the partitions the newest layout gives it and
// the oldest live layout did not, from that layout's owners (they hold every
// acknowledged write: writes go to the owners of every live layout while the
// move lasts). It starts once every node has taken up the new epoch (its
// heartbeat says so), since from then on no writer skips the new owners.
//
// For each source, the machine pages through the source's keys of those
// partitions (partition_keys), reads each key with its contents, checks every
// content against its MD5 (the etag), and merges it into its own socket
// server with sync (dotted version vectors: nothing newer is overwritten).
// The cursor of each source is kept in transfers.json (this scheduler is its
// only writer), so a crash of either side resumes where it stopped. The rate
// is throttled (transfer.bytesPerSec). Once every partition is in, the
// machine reports the epoch as synced in its heartbeat; when every owner of
// the newest layout has, each machine trims the older layouts (settle), and an
// old owner drops the partitions it owns in no live layout.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { dotId, syncChanges } from '../clock/dvv.js';
import type { KeyState, TransferStatus } from '../protocol/messages.js';
import { collectBodies, deliverState } from '../replica/deliver.js';
import { partitionOf, registerKey } from '../ring/hash.js';
import { trimRecord, type MembershipRecord } from '../ring/membership.js';
import { hasBody } from '../storage/layout.js';
import { peerAddress, type SchedulerContext } from './context.js';
import { adopt } from './membership.js';

export const TRANSFERS_JSON = 'transfers.json';
const PAGE = 128;
const COPY_CONCURRENCY = 8;

interface Task {
  source: string;
  partitions: number[];
  cursor: string | null;
  done: boolean;
  /** The source's Paxos registers of these partitions (locks), after the keys: cursor, and whether all are in. */
  paxosCursor?: string | null;
  paxosDone?: boolean;
}

interface TransferState {
  /** The epoch this plan is for (the newest live layout's), and the oldest live layout it copies from. */
  epoch: number;
  base?: number;
  /** The newest epoch whose partitions are all in. */
  synced: number;
  tasks: Task[];
  keys: number;
  bytes: number;
  /** Keys whose content did not match its MD5 from some source (taken from another). */
  corrupt: number;
  /** The newest settled epoch after which this machine dropped what it no longer owns. */
  cleaned?: number;
}

const states = new WeakMap<SchedulerContext, TransferState>();

/** What /cluster shows of this machine's transfers. */
export function transferStatus(ctx: SchedulerContext): { status: TransferStatus; synced: number } {
  const s = states.get(ctx);
  if (!s) return { status: { epoch: 0, pending: 0, done: 0, keys: 0, bytes: 0 }, synced: 0 };
  const pending = s.tasks.filter((t) => !t.done).reduce((n, t) => n + t.partitions.length, 0);
  const done = s.tasks.filter((t) => t.done).reduce((n, t) => n + t.partitions.length, 0);
  return { status: { epoch: s.epoch, pending, done, keys: s.keys, bytes: s.bytes }, synced: s.synced };
}

async function load(ctx: SchedulerContext): Promise<TransferState> {
  let s = states.get(ctx);
  if (s) return s;
  try {
    s = JSON.parse((await ctx.vol.disk.readFile(join(ctx.nodeDir, TRANSFERS_JSON))).toString('utf8')) as TransferState;
  } catch {
    s = { epoch: 0, synced: 0, tasks: [], keys: 0, bytes: 0, corrupt: 0 };
  }
  states.set(ctx, s);
  return s;
}

async function save(ctx: SchedulerContext, s: TransferState): Promise<void> {
  await ctx.vol.writeFileAtomic(join(ctx.nodeDir, TRANSFERS_JSON), `${JSON.stringify(s)}\n`);
}

/** The partitions this machine takes in for the newest layout, grouped by the old owner they come from. */
export function plan(record: MembershipRecord, self: string): Task[] {
  const oldest = record.layouts[0];
  const newest = record.layouts.at(-1);
  if (!oldest || !newest || oldest === newest) return [];
  const bySource = new Map<string, number[]>();
  newest.replicas.forEach((owners, p) => {
    const before = oldest.replicas[p] ?? [];
    if (!owners.includes(self) || before.includes(self)) return;
    for (const s of before) bySource.set(s, [...(bySource.get(s) ?? []), p]);
  });
  return [...bySource].sort(([a], [b]) => (a < b ? -1 : 1)).map(([source, partitions]) => ({ source, partitions, cursor: null, done: false }));
}

/** Every node of the live layouts has taken up `epoch` (its heartbeat says so): no writer skips the new owners any more. */
function everyoneAt(ctx: SchedulerContext, record: MembershipRecord, epoch: number): boolean {
  const nodes = new Set(record.layouts.flatMap((l) => l.replicas.flat()));
  for (const n of nodes) if (ctx.view.epochsOf(n).epoch < epoch) return false;
  return true;
}

/** One tick: copy in what the newest layout gives this machine; then settle and clean up what the move left. */
export async function transferRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string | void> {
  const s = await load(ctx);
  const record = ctx.env.membership.record;
  const newest = record.epoch;
  if (record.layouts.length === 1) {
    if (s.synced < newest) {
      s.synced = newest;
      await save(ctx, s);
    }
    return dropUnowned(ctx, record);
  }
  const base = record.layouts[0]?.epoch ?? newest;
  if (s.epoch !== newest || s.base !== base) {
    // A new epoch, or an older layout trimmed (its owners may have left): a new plan. What a source already
    // gave for the same partitions is kept; a crash mid-plan resumes it as it was.
    const before = new Map(s.tasks.map((t) => [`${t.source} ${t.partitions.join(',')}`, t]));
    const tasks = plan(record, ctx.self).map((t) => before.get(`${t.source} ${t.partitions.join(',')}`) ?? t);
    Object.assign(s, { epoch: newest, base, tasks });
    await save(ctx, s);
  }
  if (s.synced < newest && !everyoneAt(ctx, record, newest)) return `epoch ${newest}: waiting for every node to take it up`;
  const copied = { keys: 0, bytes: 0 };
  for (const task of s.tasks) {
    if (task.done || signal.aborted) continue;
    if (ctx.view.status(task.source, ctx.rt.clock.monotonic()) === 'down') continue;
    try {
      await copyFrom(ctx, s, task, signal, copied);
    } catch (err) {
      ctx.log.info('transfer interrupted; resumes next tick', { source: task.source, error: (err as Error).message });
    }
  }
  if (s.synced < newest && complete(ctx, s, record)) {
    s.synced = newest;
    await save(ctx, s);
    ctx.log.info('partitions in', { epoch: newest, keys: s.keys, bytes: s.bytes });
  }
  const settled = settle(ctx, record);
  const left = s.tasks.filter((t) => !t.done).length;
  return `epoch ${newest}: ${copied.keys} keys (${copied.bytes} bytes) copied this tick, ${left} sources left${s.synced >= newest ? ', synced' : ''}${settled ? `; settled at ${settled}` : ''}`;
}

/** Every task done, or every partition of the unfinished ones has R sources done and its other sources are down. */
function complete(ctx: SchedulerContext, s: TransferState, record: MembershipRecord): boolean {
  if (s.tasks.every((t) => t.done)) return true;
  const r = ctx.config.replication.r;
  const now = ctx.rt.clock.monotonic();
  if (s.tasks.some((t) => !t.done && ctx.view.status(t.source, now) !== 'down')) return false;
  const doneFor = new Map<number, number>();
  for (const t of s.tasks) if (t.done) for (const p of t.partitions) doneFor.set(p, (doneFor.get(p) ?? 0) + 1);
  return s.tasks.every((t) => t.done || t.partitions.every((p) => (doneFor.get(p) ?? 0) >= Math.min(r, record.layouts[0]?.replicas[p]?.length ?? 1)));
}

async function copyFrom(ctx: SchedulerContext, s: TransferState, task: Task, signal: AbortSignal, copied: { keys: number; bytes: number }): Promise<void> {
  const source = peerAddress(ctx, task.source);
  const self = peerAddress(ctx, ctx.self);
  const rate = ctx.config.transfer.bytesPerSec;
  while (!signal.aborted) {
    const started = ctx.rt.clock.monotonic();
    const page = { type: 'partition_keys' as const, partitions: task.partitions, limit: PAGE, ...(task.cursor !== null ? { after: task.cursor } : {}) };
    const { reply } = await ctx.transport.request(source, page);
    // What this node holds of the same stretch, in one request rather than a read per key.
    const here = await ctx.transport.request(self, page);
    const held = new Map(here.reply.entries.map((e) => [`${e.ns}/${e.key}`, e.state]));
    let bytes = 0;
    let keys = 0;
    // Keys of a page are copied several at a time: each costs a read there and an fsynced write here.
    await eachLimit(reply.entries, COPY_CONCURRENCY, async (e) => {
      // Not among this node's keys of the stretch: it has none, unless its own page stopped short.
      const mine = held.get(`${e.ns}/${e.key}`) ?? (here.reply.next === null ? null : undefined);
      const got = await copyKey(ctx, source, self, e.ns, e.key, e.state, mine);
      bytes += got.bytes;
      if (got.copied) keys++;
      if (got.corrupt) s.corrupt++;
    });
    s.keys += keys;
    s.bytes += bytes;
    copied.keys += keys;
    copied.bytes += bytes;
    task.cursor = reply.next;
    const keysDone = reply.next === null;
    if (keysDone) await copyRegisters(ctx, source, self, task, signal);
    task.done = keysDone && task.paxosDone === true;
    await save(ctx, s);
    if (task.done) return;
    // Throttle: a page of B bytes takes at least B / rate seconds.
    const owed = (bytes / rate) * 1000 - (ctx.rt.clock.monotonic() - started);
    if (owed > 0) await ctx.rt.timers.sleep(owed);
  }
}

/**
 * The source's Paxos acceptor state of the registers in these partitions (the
 * locks of their files), merged into this node's: a register's acceptors are
 * its key's owners, so a new owner must know what an old one promised and
 * accepted before it may stand in for it (else a majority of new owners could
 * decide afresh what a majority of old ones already decided).
 */
async function copyRegisters(ctx: SchedulerContext, source: { id: string; host: string; port: number }, self: { id: string; host: string; port: number }, task: Task, signal: AbortSignal): Promise<void> {
  const q = ctx.env.membership.record.partitions;
  const wanted = new Set(task.partitions);
  while (!task.paxosDone && !signal.aborted) {
    const { reply } = await ctx.transport.request(source, { type: 'paxos_dump', limit: 500, ...(task.paxosCursor ? { after: task.paxosCursor } : {}) });
    const records = reply.records.filter((r) => {
      const at = registerKey(r.space, r.key);
      return at !== null && wanted.has(partitionOf(at, q));
    });
    if (records.length > 0) await ctx.transport.request(self, { type: 'paxos_adopt', records, complete: false, merge: true });
    task.paxosCursor = reply.next;
    task.paxosDone = reply.next === null;
  }
}

/** Read one key with its contents from the source, check each content against its MD5, merge it here. */
export async function copyKey(
  ctx: SchedulerContext,
  source: { id: string; host: string; port: number },
  self: { id: string; host: string; port: number },
  ns: string,
  key: string,
  listed: KeyState,
  /** This node's state of the key if known (null: it has none); read here when not given. */
  known?: KeyState | null,
): Promise<{ bytes: number; corrupt: boolean; copied: boolean }> {
  // This node may have it all already: from another old owner of the partition, or from writes that reached
  // it directly (a write goes to the owners of every live layout). Then the contents are not read again.
  const here = known !== undefined ? known : (await ctx.transport.request(self, { type: 'read', ns, key, bodies: 'none' })).reply.state;
  if (here && !syncChanges(here, listed)) return { bytes: 0, corrupt: false, copied: false };
  const bodies = new Map<string, Buffer>();
  let corrupt = false;
  let bytes = 0;
  const fetch = async (want: 'all' | 'none' | string[]): Promise<KeyState | null> => {
    const { reply, body } = await ctx.transport.request(source, { type: 'read', ns, key, bodies: want });
    for (const [d, b] of collectBodies(reply.bodies, body)) {
      const sib = reply.state?.siblings.find((x) => dotId(x.dot) === d);
      if (sib && sib.etag && !sib.chunked && createHash('md5').update(b).digest('hex') !== sib.etag) {
        corrupt = true; // not taken from this source: another owner has it right
        continue;
      }
      bodies.set(d, b);
      bytes += b.length;
    }
    return reply.state;
  };
  const state = (await fetch(listed.siblings.some(hasBody) ? 'all' : 'none')) ?? listed;
  const bodyOf = async (dot: string): Promise<Buffer | undefined> => {
    if (!bodies.has(dot)) await fetch([dot]);
    return bodies.get(dot);
  };
  const initial = state.siblings.filter((x) => hasBody(x) && bodies.has(dotId(x.dot))).map((x) => dotId(x.dot));
  if (corrupt) {
    // Keep only the versions whose content checked out; the others come from another source.
    const good = { ...state, siblings: state.siblings.filter((x) => !hasBody(x) || bodies.has(dotId(x.dot))) };
    if (good.siblings.length > 0) await deliverState(ctx.transport, self, ctx.config.maxFrameBytes, { ns, key, state: good }, bodyOf, initial);
    return { bytes, corrupt, copied: true };
  }
  await deliverState(ctx.transport, self, ctx.config.maxFrameBytes, { ns, key, state }, bodyOf, initial);
  return { bytes, corrupt, copied: true };
}

/**
 * Settle: the newest live layout whose owners have all reported its epoch as
 * synced makes every older one unneeded. The trimmed record goes to this
 * machine's socket server (same epoch, fewer layouts) and is taken here; every
 * machine does the same from the same heartbeats, and gossip carries it to the
 * others too. Returns the layout epoch settled at, or null.
 */
function settle(ctx: SchedulerContext, record: MembershipRecord): number | null {
  let settled: number | null = null;
  for (const l of record.layouts.slice(1)) {
    const owners = new Set(l.replicas.flat());
    const synced = [...owners].every((n) => {
      const e = n === ctx.self ? states.get(ctx)?.synced : ctx.view.epochsOf(n).synced;
      return (e ?? 0) >= l.epoch;
    });
    if (synced) settled = l.epoch;
  }
  if (settled === null) return null;
  const trimmed = trimRecord(record, settled);
  if (trimmed === record) return null;
  void ctx.transport
    .request(peerAddress(ctx, ctx.self), { type: 'membership_put', record: trimmed }, [], { timeoutMs: ctx.config.timeouts.requestMs })
    .then(() => adopt(ctx, trimmed))
    .catch((err: unknown) => ctx.log.warn('could not keep the settled membership', { error: (err as Error).message }));
  return settled;
}

/** After settling: this machine's copies of partitions it owns in no live layout go (their owners all have them). */
async function dropUnowned(ctx: SchedulerContext, record: MembershipRecord): Promise<string | void> {
  const owned = new Set<number>();
  for (const l of record.layouts) l.replicas.forEach((list, p) => list.includes(ctx.self) && owned.add(p));
  const s = await load(ctx);
  // Once per settled epoch (a cluster that never changed has nothing to drop).
  if (record.epoch === 1 || (s.cleaned ?? 0) >= record.epoch) return;
  const others = Array.from({ length: record.partitions }, (_, p) => p).filter((p) => !owned.has(p));
  if (others.length === 0) return;
  let dropped = 0;
  for (let more = true; more; ) {
    const { reply } = await ctx.transport.request(peerAddress(ctx, ctx.self), { type: 'partition_drop', partitions: others, epoch: record.epoch, limit: 1000 });
    dropped += reply.dropped;
    more = reply.more;
  }
  s.cleaned = record.epoch;
  await save(ctx, s);
  return dropped > 0 ? `dropped ${dropped} keys of partitions this node no longer owns` : undefined;
}

/** fn over every item, at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
