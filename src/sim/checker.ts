// What must hold once a run's faults are healed and the cluster has settled,
// checked on the replicas themselves:
// - every replica that acknowledged a write still has it, or a version that
//   superseded it (its context covers the write's dot); a hinted copy has
//   reached its owner (a disk wiped after the write excuses its copies);
// - after a read-repair pass, the owners of every key hold the same versions,
//   and those versions are concurrent writes: none covers another, each from a
//   client write of its own, no more than were written;
// - every hint is drained;
// - every bucket exists on every node, or on none.
// Writes into a bucket incarnation that has since ended are excused: deleting
// the bucket removed them.
import { covers, dotId, sync, type Dot } from '../clock/dvv.js';
import { BUCKETS_NS, type KeyState } from '../protocol/messages.js';
import { incarnationEnded, liveUids, visible } from '../replica/records.js';
import type { RunningNode } from '../node/server.js';
import type { SimCluster, SimNode } from './cluster.js';
import { currentMembers, memberCoordinator, ownsNow } from './membership.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';
import type { AckedWrite, History } from './workload.js';

export async function ownState(n: SimNode, ns: string, key: string, node: RunningNode | undefined = n.running?.node): Promise<KeyState | null> {
  return (await node?.ctx.store.read(ns, key)) ?? null;
}

function wipedAfter(n: SimNode, at: number): boolean {
  return n.wipes.some((t) => t >= at);
}

/** The bucket's record as all the running nodes know it together (merged). */
async function record(cluster: SimCluster, bucket: string): Promise<KeyState | null> {
  let merged: KeyState | null = null;
  for (const n of cluster.upNodes()) {
    const s = await ownState(n, BUCKETS_NS, bucket);
    if (s) merged = merged ? (sync(merged, s) as KeyState) : s;
  }
  return merged;
}

async function excused(cluster: SimCluster, w: AckedWrite): Promise<boolean> {
  return w.ns !== BUCKETS_NS && incarnationEnded(await record(cluster, w.ns), w.uid);
}

/**
 * Whether a replica's state still has an acknowledged version: the version
 * itself (same dot, same client write), or a version whose clock covers its
 * dot, i.e. written by someone who had seen it. (A version that superseded it
 * and was superseded in turn leaves one whose clock covers it too: contexts
 * only grow.) Merely covering the dot in the state's context is not enough: a
 * dot minted twice would hide the second write behind the first.
 */
export function holds(state: KeyState | null, w: Pick<AckedWrite, 'dot' | 'wid'>): boolean {
  if (!state) return false;
  return state.siblings.some((s) => (s.dot[0] === w.dot[0] && s.dot[1] === w.dot[1] && s.wid === w.wid) || (s.clock !== undefined && covers(s.clock, w.dot)));
}

/** Each copy a node acknowledged is still held (or superseded), or a hinted copy has reached its owner. */
export async function checkAcknowledged(cluster: SimCluster, history: History): Promise<string[]> {
  const problems: string[] = [];
  for (const w of history.acked) {
    if (await excused(cluster, w)) continue;
    const holders: Array<{ node: string; as: string; hintOn?: string }> = w.written.filter((x) => w.preferenceList.includes(x)).map((x) => ({ node: x, as: 'replica' }));
    for (const h of w.hinted) holders.push({ node: h.for, as: `owner of the hint on ${h.node}`, hintOn: h.node });
    for (const { node, as, hintOn } of holders) {
      const n = cluster.node(node);
      if (wipedAfter(n, w.sentAt)) continue;
      // A membership change moved the key away from it (and it dropped it once the new owners had it): checkFinalOwners.
      if (!ownsNow(cluster, n, w.ns, w.key)) continue;
      if (hintOn !== undefined && wipedAfter(cluster.node(hintOn), w.sentAt)) continue;
      const state = await ownState(n, w.ns, w.key);
      if (!holds(state, w)) {
        problems.push(`lost write: ${w.op} ${w.ns}/${w.key} version ${w.version} (acknowledged at ${w.at.toFixed(1)} ms, written ${w.written.join(',')}) is not on ${node} (${as}): it has ${state ? describe(state) : 'nothing'}`);
      }
    }
  }
  return problems;
}

/** A replica's own audit as it boots: what it acknowledged before it went down is still there. */
export async function auditBoot(cluster: SimCluster, n: SimNode, running: RunningNode, history: History): Promise<string[]> {
  const problems: string[] = [];
  for (const w of history.acked) {
    if (!w.written.includes(n.id) || !w.preferenceList.includes(n.id) || wipedAfter(n, w.sentAt)) continue;
    if (w.ns !== BUCKETS_NS && !ownedIn(running, n.id, w.ns, w.key)) continue; // moved away by a membership change
    const state = await ownState(n, w.ns, w.key, running);
    if (holds(state, w)) continue;
    // Files of an incarnation that has ended are purged legitimately, and the purge travels with the states
    // of other replicas (their context covers what they dropped) before this one hears of the record.
    if (w.ns !== BUCKETS_NS) {
      const own = await ownState(n, BUCKETS_NS, w.ns, running);
      const known = await record(cluster, w.ns);
      const merged = own && known ? (sync(own, known) as KeyState) : (own ?? known);
      if (incarnationEnded(merged, w.uid)) continue;
    }
    problems.push(`${n.id} restarted without the version ${w.version} of ${w.ns}/${w.key} it acknowledged at ${w.at.toFixed(1)} ms: it has ${state ? describe(state) : 'nothing'}`);
  }
  return problems;
}

/** Whether the node owns the key in one of the layouts its socket server holds live. */
function ownedIn(running: RunningNode, id: string, ns: string, key: string): boolean {
  const k = objectKey(ns, key);
  return running.ctx.membership.layouts.some((l) => new Ring({ version: l.epoch, replicas: l.replicas }).preferenceList(k).includes(id));
}

/**
 * After a membership change has settled and every key was read (read repair):
 * every acknowledged write is held, or superseded, by every owner of the key
 * in the final layout. The partitions moved under the writes; none may have
 * been left behind.
 */
export async function checkFinalOwners(cluster: SimCluster, history: History, beforeRepair = false): Promise<string[]> {
  const problems: string[] = [];
  const c = memberCoordinator(cluster);
  if (!c) return ['no member is running'];
  for (const w of history.acked) {
    if (w.ns === BUCKETS_NS || (await excused(cluster, w))) continue;
    const owners = c.preferenceList(w.ns, w.key);
    if (beforeRepair) {
      // Before any read repair: the move kept as many copies as the write was acknowledged with (W; one if a
      // disk was wiped since), on the owners of the final layout. Read repair would hide a partition left behind.
      const wiped = cluster.nodes.some((n) => wipedAfter(n, w.sentAt));
      const need = wiped ? 1 : Math.min(cluster.config.replication.w, owners.length);
      const holders: string[] = [];
      for (const o of owners) if (holds(await ownState(cluster.node(o), w.ns, w.key), w)) holders.push(o);
      if (holders.length < need) problems.push(`left behind in the move: ${w.op} ${w.ns}/${w.key} version ${w.version} (acknowledged at ${w.at.toFixed(1)} ms on ${w.written.join(',')}) is on ${holders.length} of its owners in epoch ${c.membership.epoch} [${holders.join(',')}] of [${owners.join(',')}], W=${need}`);
      continue;
    }
    for (const owner of owners) {
      const state = await ownState(cluster.node(owner), w.ns, w.key);
      if (!holds(state, w)) {
        problems.push(`lost in the move: ${w.op} ${w.ns}/${w.key} version ${w.version} (acknowledged at ${w.at.toFixed(1)} ms, written ${w.written.join(',')}) is not on ${owner}, its owner in epoch ${c.membership.epoch}: it has ${state ? describe(state) : 'nothing'}`);
      }
    }
  }
  return problems;
}

/**
 * Dots are never reused: two acknowledged writes with one dot are two writes
 * under one name; and an actor's counters on a key only grow, so a write sent
 * after another was acknowledged, minted by the same actor, has a higher
 * counter (a node that lost its disk and came back as the same actor would
 * mint low counters that the others think they have seen, and drop).
 */
export function reusedDots(history: History): string[] {
  const byDot = new Map<string, AckedWrite>();
  const byActor = new Map<string, AckedWrite[]>();
  const problems: string[] = [];
  for (const w of history.acked) {
    const k = `${w.ns}/${w.key}/${w.version}`;
    const first = byDot.get(k);
    if (first && first.wid !== w.wid) problems.push(`dot reused: ${w.ns}/${w.key} version ${w.version} was minted for two writes (acknowledged at ${first.at.toFixed(1)} and ${w.at.toFixed(1)} ms)`);
    else byDot.set(k, w);
    const a = `${w.ns}/${w.key}/${w.dot[0]}`;
    const earlier = byActor.get(a) ?? [];
    const before = earlier.find((e) => e.at < w.sentAt && e.dot[1] >= w.dot[1] && e.wid !== w.wid);
    if (before) problems.push(`counter went back: ${w.ns}/${w.key} version ${w.version} was sent at ${w.sentAt.toFixed(1)} ms, after ${before.version} was acknowledged at ${before.at.toFixed(1)} ms`);
    earlier.push(w);
    byActor.set(a, earlier);
  }
  return problems;
}

/** Owners agree, and the versions left are concurrent client writes. */
export async function checkReplicas(cluster: SimCluster, history: History, keys: ReadonlyArray<{ ns: string; key: string }>): Promise<string[]> {
  const problems: string[] = [];
  const c = memberCoordinator(cluster, true);
  if (!c) return ['no node is running'];
  for (const { ns, key } of keys) {
    const rec = ns === BUCKETS_NS ? null : await record(cluster, ns);
    if (ns !== BUCKETS_NS && liveUids(rec).size === 0) continue;
    const owners = c.preferenceList(ns, key);
    const seen = new Map<string, string>();
    let reference: KeyState | null = null;
    for (const o of owners) {
      const state = await ownState(cluster.node(o), ns, key);
      const shown = state ? visible(rec, state.siblings.filter((s) => ns === BUCKETS_NS || !incarnationEnded(rec, s.uid))) : [];
      seen.set(o, shown.map((s) => dotId(s.dot)).sort().join(' '));
      if (state && !reference) reference = { context: state.context, siblings: shown };
    }
    if (new Set(seen.values()).size > 1) {
      problems.push(`replicas of ${ns}/${key} differ: ${[...seen].map(([o, v]) => `${o} [${v}]`).join('; ')}`);
      continue;
    }
    if (!reference) continue;
    const live = reference.siblings;
    for (const a of live) {
      for (const b of live) {
        if (a !== b && b.clock && covers(b.clock, a.dot as Dot)) problems.push(`${ns}/${key}: version ${dotId(a.dot)} is kept beside ${dotId(b.dot)}, which supersedes it`);
      }
    }
    const wids = new Set(live.map((s) => s.wid ?? dotId(s.dot)));
    const attempts = history.attempts.get(`${ns}/${key}`) ?? 0;
    if (ns !== BUCKETS_NS && wids.size > attempts) problems.push(`${ns}/${key} has ${wids.size} concurrent versions but only ${attempts} writes were made`);
  }
  return problems;
}

/** Every machine's gossip view calls every machine up (once healed, nothing else is true). */
export function viewsNotUp(cluster: SimCluster): string[] {
  const problems: string[] = [];
  // Members only: the members no longer let in a machine that left, nor one that was never added, so those see them down.
  const { members } = currentMembers(cluster);
  for (const n of cluster.nodes) {
    const sched = n.running?.scheduler.ctx;
    if (!sched || (members.length > 0 && !members.includes(n.id))) continue;
    const now = sched.rt.clock.monotonic();
    // The nodes its view follows: the membership it holds (a spare that never joined follows the seeds and itself).
    const wrong = sched.view.nodes.filter((m) => sched.view.status(m, now) !== 'up').map((m) => `${m} ${sched.view.status(m, now)}`);
    if (wrong.length > 0) problems.push(`${n.id} sees ${wrong.join(', ')}`);
  }
  return problems;
}

export function hintsLeft(cluster: SimCluster): string[] {
  return cluster.nodes
    .filter((n) => (n.running?.node.ctx.hints.size ?? 0) > 0)
    .map((n) => {
      const handoff = n.running?.scheduler.workers.find((w) => w.name === 'handoff')?.status();
      return `${n.id} holds ${n.running?.node.ctx.hints.size} hints (handoff: ${handoff?.lastError ?? handoff?.lastResult ?? 'never ran'})`;
    });
}

/** The live incarnations of each bucket, as each node's registry has them: all equal. */
export function bucketDisagreements(cluster: SimCluster, buckets: readonly string[]): string[] {
  const problems: string[] = [];
  for (const b of buckets) {
    // Members only: a machine that left (or never joined) holds no data of the cluster's.
    const members = cluster.nodes.filter((n) => n.running?.node.ctx.membership.has(n.id) ?? true);
    const views = members.map((n) => [n.id, [...liveUids(n.running?.node.ctx.buckets.get(b))].sort().join(',')] as const);
    if (new Set(views.map(([, v]) => v)).size > 1) problems.push(`bucket ${b} differs: ${views.map(([id, v]) => `${id} [${v || 'none'}]`).join('; ')}`);
  }
  return problems;
}

function describe(state: KeyState): string {
  return `versions [${state.siblings.map((s) => dotId(s.dot)).join(', ')}], context ${JSON.stringify(state.context)}`;
}
