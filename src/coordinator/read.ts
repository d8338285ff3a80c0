// Quorum reads (Dynamo section 4.5): ask the key's N replicas, one for bodies
// and the rest for their state only, wait for R, and reconcile with DVV sync:
// every version another has superseded drops out, concurrent ones remain as
// siblings. Replicas found stale once all have answered get read repair.
import { dotId, emptyState, equalStates, sync } from '../clock/dvv.js';
import { ErrorCode, RingstoreError, type ReplicaFailure } from '../errors.js';
import { BUCKETS_NS, type KeyState, type Sibling } from '../protocol/messages.js';
import type { Cluster } from './cluster.js';
import { quorum, type Answer } from './quorum.js';
import { pushState, readReplica, type Bodies, type ReplicaRead } from './replicas.js';

export interface QuorumRead {
  preferenceList: string[];
  merged: KeyState;
  answers: Answer<ReplicaRead>[];
  failed: ReplicaFailure[];
  /** Bodies received so far, by dot id. */
  bodies: Bodies;
}

export function mergeStates(states: ReadonlyArray<KeyState | null>): KeyState {
  return states.reduce<KeyState>((acc, s) => (s ? (sync(acc, s) as KeyState) : acc), emptyState<Sibling>());
}

export function quorumError(what: string, required: number, answered: readonly string[], failed: readonly ReplicaFailure[]): RingstoreError {
  // Replicas that refused for want of disk space: the client hears so (507), with every node's reason.
  const full = failed.some((f) => f.code === ErrorCode.INSUFFICIENT_STORAGE);
  return new RingstoreError(
    full ? ErrorCode.INSUFFICIENT_STORAGE : ErrorCode.QUORUM_NOT_REACHED,
    `${what}: ${answered.length} of the ${required} replicas required answered` +
      (answered.length ? ` (${answered.join(', ')})` : '') +
      (failed.length ? `; failed: ${failed.map((f) => `${f.node} (${f.message})`).join('; ')}` : ''),
    { details: { required, answered: [...answered], failed: [...failed] } },
  );
}

/**
 * Where a read goes: the first N healthy nodes of the key's walk (owners, then
 * the fall-backs that hold hinted copies while owners are down). Owners this
 * machine believes down are added last, in case the belief is out of date.
 */
export async function readTargets(c: Cluster, ns: string, key: string): Promise<string[]> {
  const owners = c.preferenceList(ns, key);
  const down = await c.health.downSet();
  const healthy = c.walk(ns, key).filter((n) => !down.has(n)).slice(0, owners.length);
  return [...healthy, ...owners.filter((o) => down.has(o))];
}

/** The owners, those believed up first. */
async function ownersFirstHealthy(c: Cluster, owners: readonly string[]): Promise<string[]> {
  const down = await c.health.downSet();
  return [...owners.filter((o) => !down.has(o)), ...owners.filter((o) => down.has(o))];
}

export interface ReadOptions {
  bodies: boolean;
  need?: number;
  /**
   * Ask only R replicas (more only if some fail), and repair nothing: for a read
   * whose answer is not shown to anyone, such as the context of a blind write
   * (the write then sends its new state to every owner anyway). Any R of the N
   * intersect the W that acknowledged the last write, as R answers of N would.
   */
  minimal?: boolean;
  /** The key's owners only, no stand-in (see WriteRequest.strict). */
  strict?: boolean;
}

export async function readQuorum(c: Cluster, ns: string, key: string, opts: ReadOptions): Promise<QuorumRead> {
  await c.health.current(); // the membership too, if this machine's socket server knows a newer one
  const owners = c.preferenceList(ns, key);
  const targets = opts.strict ? await ownersFirstHealthy(c, owners) : await readTargets(c, ns, key);
  const need = opts.need ?? Math.min(c.r, owners.length);
  const dataNode = targets[0];
  const call = (node: string): Promise<ReplicaRead> => readReplica(c, node, ns, key, opts.bodies && node === dataNode ? 'all' : 'none');
  // Bucket records live on every node: ask R of them (read repair is left to the bucket
  // anti-entropy worker). Files: ask N, answer after R, repair the rest (unless minimal).
  // Either way, when too few answer (a view of who is down can be out of date), ask the next nodes of the walk.
  const minimal = (opts.minimal === true || ns === BUCKETS_NS) && targets.length > need;
  const first = minimal ? targets.slice(0, need) : targets;
  let q = await quorum(first, need, call);
  if (q.ok.length < need) {
    const spare = opts.strict ? targets.filter((n) => !first.includes(n)) : [...targets, ...c.walk(ns, key)].filter((n, i, all) => !first.includes(n) && all.indexOf(n) === i);
    if (spare.length > 0) {
      // The first round gave up as soon as R was out of reach; let its slower answers come in first.
      const before = await q.rest;
      if (before.ok.length < need) {
        const more = await quorum(spare, need - before.ok.length, call);
        q = {
          ok: [...before.ok, ...more.ok],
          failed: [...before.failed, ...more.failed],
          rest: more.rest.then((b) => ({ ok: [...before.ok, ...b.ok], failed: [...before.failed, ...b.failed] })),
        };
      } else {
        q = { ...before, rest: Promise.resolve(before) };
      }
    }
  }
  if (q.ok.length < need) {
    // Say exactly who answered: wait for the stragglers (bounded by the request timeout).
    const all = await q.rest;
    throw quorumError(`read of ${key}`, need, all.ok.map((a) => a.node), all.failed);
  }
  const bodies: Bodies = new Map();
  for (const a of q.ok) for (const [d, b] of a.value.bodies) bodies.set(d, b);
  if (!minimal) void q.rest.then((all) => readRepair(c, ns, key, all.ok, bodies, owners));
  return { preferenceList: owners, merged: mergeStates(q.ok.map((a) => a.value.state)), answers: q.ok, failed: q.failed, bodies };
}

/**
 * Send the reconciled state to every owner whose answer differed from it.
 * Fall-backs are left alone: what they hold is a hint, which handoff delivers.
 */
export async function readRepair(c: Cluster, ns: string, key: string, answers: Answer<ReplicaRead>[], bodies: Bodies, owners: readonly string[]): Promise<void> {
  const merged = mergeStates(answers.map((a) => a.value.state));
  for (const a of answers) {
    if (!owners.includes(a.node)) continue;
    const state = a.value.state ?? emptyState<Sibling>();
    if (equalStates(state, merged)) continue;
    const sources = [...new Set(merged.siblings.flatMap((s) => holdersOf(answers, dotId(s.dot))))];
    try {
      await pushState(c, a.node, ns, key, merged, bodies, sources, { targetState: a.value.state });
      c.log.info('read repair', { ns, key, node: a.node });
    } catch (err) {
      c.log.warn('read repair failed', { ns, key, node: a.node, error: (err as Error).message });
    }
  }
}

/** The nodes among the answers that hold a version, to fetch its body from. */
export function holdersOf(answers: readonly Answer<ReplicaRead>[], id: string): string[] {
  return answers.filter((a) => a.value.state?.siblings.some((s) => dotId(s.dot) === id)).map((a) => a.node);
}
