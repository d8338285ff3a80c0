// Membership changes among the simulator's faults (issue 12): on some seeds a
// spare machine (started, not in the config) joins during the workload, and
// on some a member leaves, each asked of a running member's coordinator as an
// operator would. The checker then waits until the change has settled on
// every member and requires every acknowledged write on every owner of the
// final layout (checker.ts: checkFinalOwners).
import type { Cluster } from '../coordinator/cluster.js';
import { changeMembership, type Change } from '../coordinator/membership.js';
import { transferStatus } from '../cron/transfer.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';
import type { SimCluster, SimNode } from './cluster.js';
import type { Prng } from './prng.js';

export interface MembershipPlan {
  join: boolean;
  leave: boolean;
}

/** Whether this seed changes the membership: a join of the spare, a leave of a seed, both or neither. */
export function membershipPlan(prng: Prng): MembershipPlan {
  return { join: prng.chance(0.3), leave: prng.chance(0.2) };
}

/** Ask a running member to make the change, as an operator would (retrying on another member if it fails). */
export function scheduleChanges(cluster: SimCluster, prng: Prng, plan: MembershipPlan, spare: string | undefined, from: number, to: number): void {
  const loop = cluster.loop;
  const attempt = (change: Change, what: string, tries: number): void => {
    const members = cluster.upNodes().filter((n) => n.running?.node.ctx.membership.has(n.id));
    const via = members.length > 0 ? prng.pick(members) : undefined;
    if (!via?.running) {
      if (tries > 0) loop.schedule(2000, () => attempt(change, what, tries - 1));
      return;
    }
    loop.trace(`membership: ${what} via ${via.id}`);
    void changeMembership(via.running.cluster, change).then(
      (rec) => loop.trace(`membership: ${what} is epoch ${rec.epoch}`),
      (err: unknown) => {
        loop.trace(`membership: ${what} failed (${(err as Error).message.slice(0, 120)})`);
        // Refused for good (a member already, too few left): done; otherwise an operator tries again.
        if (!/MEMBER_EXISTS|TOO_FEW|NO_SUCH_MEMBER|is a member already|would leave|is not a member/.test(String((err as Error).message)) && tries > 0) {
          loop.schedule(2000, () => attempt(change, what, tries - 1));
        }
      },
    );
  };
  if (plan.join && spare) {
    const spec = cluster.specs.get(spare);
    if (spec) loop.schedule(prng.between(from, to - 1000) - loop.now, () => attempt({ join: spec }, `join ${spare}`, 10));
  }
  if (plan.leave) {
    const seeds = cluster.config.nodes.map((m) => m.id);
    const leaver = prng.pick(seeds);
    loop.schedule(prng.between(from, to - 1000) - loop.now, () => attempt({ leave: leaver }, `leave ${leaver}`, 10));
  }
}

/** The members as the running machines know them: the newest epoch any has. */
export function currentMembers(cluster: SimCluster): { epoch: number; members: string[] } {
  let best = { epoch: 0, members: [] as string[] };
  for (const n of cluster.upNodes()) {
    const m = n.running?.node.ctx.membership;
    if (m && m.epoch > best.epoch) best = { epoch: m.epoch, members: m.ids };
  }
  return best;
}

/** What keeps the membership from having settled: members behind the newest epoch, layouts still live, partitions not all in. */
export function unsettled(cluster: SimCluster): string[] {
  const { epoch, members } = currentMembers(cluster);
  const problems: string[] = [];
  for (const id of members) {
    const n = cluster.node(id);
    const m = n.running?.node.ctx.membership;
    const sched = n.running?.scheduler.ctx;
    if (!m || !sched) {
      problems.push(`${id} is not running`);
      continue;
    }
    if (m.epoch < epoch) problems.push(`${id} holds epoch ${m.epoch} of ${epoch}`);
    else if (m.layouts.length > 1) problems.push(`${id} has layouts ${m.layouts.map((l) => l.epoch).join(',')} live (synced ${transferStatus(sched).synced})`);
  }
  return problems;
}

/** Whether the node owns the key in a layout live now, as the members that know the newest epoch hold it (a node that left may have dropped it). */
export function ownsNow(cluster: SimCluster, n: SimNode, ns: string, key: string): boolean {
  let m = n.running?.node.ctx.membership;
  for (const x of cluster.upNodes()) {
    const o = x.running?.node.ctx.membership;
    if (o && o.has(x.id) && (!m || o.epoch > m.epoch || (o.epoch === m.epoch && o.layouts.length < m.layouts.length))) m = o;
  }
  if (!m) return true;
  const k = objectKey(ns, key);
  return m.layouts.some((l) => new Ring({ version: l.epoch, replicas: l.replicas }).preferenceList(k).includes(n.id));
}

/**
 * A running member's coordinator, holding the membership its socket server holds (the REST app takes it
 * on its next request; the checker, which asks it directly, does not wait for one). With `anyNode`, any
 * running machine's when no member runs.
 */
export function memberCoordinator(cluster: SimCluster, anyNode = false): Cluster | undefined {
  const n = cluster.upNodes().find((x) => x.running?.node.ctx.membership.has(x.id)) ?? (anyNode ? cluster.upNodes()[0] : undefined);
  const r = n?.running;
  if (!r) return undefined;
  r.cluster.membership.adopt(r.node.ctx.membership.record);
  return r.cluster;
}
