// Anti-entropy (Dynamo 4.7): every antiEntropy.intervalMs, this machine
// compares the Merkle trees of the partitions it holds with each other replica
// of them (replica/merkle.ts), and for the leaves that differ asks that peer
// for its keys there, and takes in every version it lacks (merged by dotted
// version vectors, contents checked against their MD5). Each machine pulls
// what it lacks; the peer does the same in its own round, so replicas converge
// without any client read, also a replica whose disk was wiped. Skipped while
// partitions move (the transfer worker is copying them then).
import { differingLeaves, LEAVES } from '../replica/merkle.js';
import { peerAddress, type SchedulerContext } from './context.js';
import { copyKey } from './transfer.js';

const PAGE = 256;

export interface AntiEntropyStats {
  /** When the last round completed, ISO 8601; null before the first. */
  lastRound: string | null;
  /** Keys repaired in it, and since the scheduler started. */
  repaired: number;
  repairedTotal: number;
  rounds: number;
}

const stats = new WeakMap<SchedulerContext, AntiEntropyStats>();

export function antiEntropyStats(ctx: SchedulerContext): AntiEntropyStats {
  let s = stats.get(ctx);
  if (!s) stats.set(ctx, (s = { lastRound: null, repaired: 0, repairedTotal: 0, rounds: 0 }));
  return s;
}

export async function antiEntropyRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string | void> {
  const m = ctx.env.membership;
  if (m.changing || !m.has(ctx.self)) return 'skipped: partitions are moving, or this machine is not a member';
  const layout = m.layouts[0];
  if (!layout) return;
  // Partitions this machine holds, by each peer that holds them too.
  const shared = new Map<string, number[]>();
  layout.replicas.forEach((owners, p) => {
    if (!owners.includes(ctx.self)) return;
    for (const o of owners) if (o !== ctx.self) shared.set(o, [...(shared.get(o) ?? []), p]);
  });
  const self = peerAddress(ctx, ctx.self);
  const now = ctx.rt.clock.monotonic();
  let repaired = 0;
  let compared = 0;
  let differing = 0;
  const unreachable: string[] = [];
  for (const [peer, partitions] of shared) {
    if (signal.aborted) break;
    if (ctx.view.status(peer, now) === 'down') {
      unreachable.push(peer);
      continue;
    }
    try {
      const source = peerAddress(ctx, peer);
      const [mine, theirs] = await Promise.all([
        ctx.transport.request(self, { type: 'merkle', partitions }),
        ctx.transport.request(source, { type: 'merkle', partitions }),
      ]);
      const ours = new Map(mine.reply.trees.map((t) => [t.partition, t]));
      const leaves: number[] = [];
      for (const t of theirs.reply.trees) {
        compared++;
        const o = ours.get(t.partition);
        if (o && o.root === t.root) continue;
        differing++;
        for (const leaf of o ? differingLeaves(o.leaves, t.leaves) : Array.from({ length: LEAVES }, (_, i) => i)) leaves.push(t.partition * LEAVES + leaf);
      }
      if (leaves.length === 0) continue;
      const parts = [...new Set(leaves.map((l) => Math.floor(l / LEAVES)))];
      let after: string | undefined;
      do {
        const { reply } = await ctx.transport.request(source, { type: 'partition_keys', partitions: parts, leaves, limit: PAGE, ...(after !== undefined ? { after } : {}) });
        // copyKey skips a key this node has all of already (a leaf differs for its other keys).
        for (const e of reply.entries) if ((await copyKey(ctx, source, self, e.ns, e.key, e.state)).copied) repaired++;
        after = reply.next ?? undefined;
      } while (after !== undefined && !signal.aborted);
    } catch (err) {
      unreachable.push(peer);
      ctx.log.info('anti-entropy with a peer stopped; next round tries again', { peer, error: (err as Error).message });
    }
  }
  const s = antiEntropyStats(ctx);
  s.lastRound = new Date(ctx.rt.clock.now()).toISOString();
  s.repaired = repaired;
  s.repairedTotal += repaired;
  s.rounds++;
  if (repaired > 0) ctx.log.info('anti-entropy repaired keys', { repaired, partitions: differing });
  return `${compared} partition replicas compared, ${differing} differed, ${repaired} keys repaired${unreachable.length ? ` (not reached: ${unreachable.join(', ')})` : ''}`;
}

