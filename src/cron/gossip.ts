// One gossip round: exchange heartbeat tables with this machine's socket server
// (which vouches for itself and passes on what peers sent) and with one random
// peer, then write the view: gossip.txt for people, down_system.json for the
// coordinator.
import { DOWN_SYSTEM_JSON, GOSSIP_TXT, writeState } from './files.js';
import { peerAddress, shuffledPeers, type SchedulerContext } from './context.js';

export async function gossipRound(ctx: SchedulerContext): Promise<string> {
  // As long as any request may take: on a starved machine a short gossip timeout would itself make healthy nodes look down.
  const timeoutMs = ctx.config.timeouts.requestMs;
  const exchange = async (id: string): Promise<boolean> => {
    try {
      const { reply } = await ctx.transport.request(peerAddress(ctx, id), { type: 'gossip', table: ctx.view.table(ctx.now()) }, [], { timeoutMs });
      ctx.view.merge(reply.table, ctx.now());
      return true;
    } catch {
      return false;
    }
  };
  const peer = shuffledPeers(ctx, false)[0];
  // Collect what peers pushed here and our own heartbeat, trade views with one peer,
  // then hand the merged view to our socket server so peers pulling from it get it now, not next tick.
  const local = await exchange(ctx.self);
  const remote = peer ? await exchange(peer) : false;
  await exchange(ctx.self);
  const now = ctx.now();
  const down = ctx.view.down(now);
  await writeState(ctx.nodeDir, GOSSIP_TXT, ctx.view.render(ctx.self, now));
  await writeState(ctx.nodeDir, DOWN_SYSTEM_JSON, down);
  return `local ${local ? 'ok' : 'failed'}, ${peer ?? 'no peer'} ${remote ? 'ok' : 'failed'}, down: [${down.join(', ')}]`;
}
