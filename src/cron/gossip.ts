// One gossip round (Dynamo 4.8). Collect what peers pushed to this machine's
// socket server (which also vouches for itself), then trade heartbeat tables
// with every peer at once: with the few machines of a ringstore cluster this is
// cheap, and a peer whose port refuses the connection is seen down within one
// tick instead of after the failure timeout. Then hand the merged view to the
// socket server (for the REST app and for peers pulling from it) and write it
// for people: gossip.txt, down_system.json.
import { RingstoreError } from '../errors.js';
import { isRefusal } from '../net/transport.js';
import { catchUpMembership, membershipPush } from './membership.js';
import { DOWN_SYSTEM_JSON, GOSSIP_TXT, writeState } from './files.js';
import { peerAddress, type SchedulerContext } from './context.js';

/** The epoch a peer that refused this machine as a non-member holds, if that is what the error says. */
function notMemberOf(err: unknown): { epoch: number } | null {
  const d = err instanceof RingstoreError ? err.details : undefined;
  return d?.notMember === true && typeof d.epoch === 'number' ? { epoch: d.epoch } : null;
}

/** Exchanges still waiting on a slow peer: the next round does not pile another on. */
const pending = new WeakMap<SchedulerContext, Set<string>>();

export async function gossipRound(ctx: SchedulerContext): Promise<string> {
  // As long as any request may take: on a starved machine a short gossip timeout would itself make healthy nodes look down.
  const timeoutMs = ctx.config.timeouts.requestMs;
  const busy = pending.get(ctx) ?? new Set<string>();
  pending.set(ctx, busy);
  // A member that no longer counts this machine as one answers it only with its epoch (node/server.ts).
  let refusedBy: { node: string; epoch: number } | null = null;
  const exchange = async (id: string): Promise<'ok' | 'refused' | 'failed'> => {
    busy.add(id);
    try {
      const { reply } = await ctx.transport.request(peerAddress(ctx, id), { type: 'gossip', table: ctx.view.table(ctx.rt.clock.monotonic()) }, [], { timeoutMs });
      ctx.view.merge(reply.table, ctx.rt.clock.monotonic());
      // Its own row comes first: the node itself, answering now.
      ctx.view.answered(id, reply.table[0], ctx.rt.clock.monotonic());
      return 'ok';
    } catch (err) {
      const told = notMemberOf(err);
      if (told && told.epoch > (refusedBy?.epoch ?? ctx.env.membership.epoch)) refusedBy = { node: id, epoch: told.epoch };
      if (!isRefusal(err)) return 'failed';
      ctx.view.refused(id, ctx.rt.clock.monotonic());
      return 'refused';
    } finally {
      busy.delete(id);
    }
  };
  const local = await exchange(ctx.self);
  const peers = ctx.view.nodes.filter((n) => n !== ctx.self && !busy.has(n));
  const remote = Promise.all(peers.map(async (p) => [p, await exchange(p)] as const));
  // A peer that hangs must not hold the view back: publish by the end of the tick what has answered;
  // a late answer is merged when it comes and published next round.
  const results = await Promise.race([remote, ctx.rt.timers.sleep(Math.max(100, ctx.config.gossip.intervalMs * 0.8)).then(() => null)]);
  // A newer membership told by a heartbeat is fetched and taken before the view is published.
  const caught = await catchUpMembership(ctx, refusedBy).catch((err: unknown) => {
    ctx.log.warn('could not fetch a newer membership', { error: (err as Error).message });
    return null;
  });
  const now = ctx.rt.clock.monotonic();
  const statuses = ctx.view.statuses(now);
  ctx.counters.gossipRounds++;
  try {
    await ctx.transport.request(peerAddress(ctx, ctx.self), { type: 'view_push', statuses, disks: ctx.view.disks(), workers: ctx.workers(), counters: { ...ctx.counters, logDropped: ctx.env.logDropped?.() ?? 0 }, ...membershipPush(ctx) }, [], { timeoutMs });
    // What peers pulling from our socket server get: the merged view, now rather than next tick.
    await exchange(ctx.self);
  } catch {
    // Our socket server is not answering: the view says so (self refused or silent), and the files below record it.
  }
  const down = ctx.view.down(now);
  const unwritten = [await writeState(ctx, GOSSIP_TXT, ctx.view.render(ctx.self, now, ctx.rt.clock.now())), await writeState(ctx, DOWN_SYSTEM_JSON, down)].filter(Boolean);
  const failed = (results ?? []).filter(([, r]) => r !== 'ok').map(([p, r]) => `${p} ${r}`);
  return `${caught !== null ? `membership epoch ${caught}; ` : ''}local ${local}, ${peers.length} peers${results ? '' : ' (some still answering)'}${failed.length ? ` (${failed.join(', ')})` : ''}, down: [${down.join(', ')}]${unwritten.length ? `; ${unwritten.join(', ')}` : ''}`;
}
