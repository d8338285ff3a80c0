// Anti-entropy for bucket records: each tick, compare this machine's bucket
// records with one random live peer's and send each side what the other lacks.
// With hints this makes every node agree on which buckets exist, even after a
// hint was lost with a disk.
import { equalStates, sync } from '../clock/dvv.js';
import { BUCKETS_NS, type KeyState } from '../protocol/messages.js';
import { peerAddress, shuffledPeers, type SchedulerContext } from './context.js';

export async function bucketSyncRound(ctx: SchedulerContext): Promise<string> {
  const peer = shuffledPeers(ctx, true)[0];
  if (!peer) return 'no live peer';
  const list = async (id: string): Promise<Map<string, KeyState>> => {
    const { reply } = await ctx.transport.request(peerAddress(ctx, id), { type: 'list', ns: BUCKETS_NS });
    return new Map(reply.entries.map((e) => [e.key, e.state]));
  };
  const [mine, theirs] = await Promise.all([list(ctx.self), list(peer)]);
  let sent = 0;
  for (const bucket of new Set([...mine.keys(), ...theirs.keys()])) {
    const a = mine.get(bucket);
    const b = theirs.get(bucket);
    const merged = a && b ? (sync(a, b) as KeyState) : ((a ?? b) as KeyState);
    for (const [id, state] of [[ctx.self, a], [peer, b]] as const) {
      if (state && equalStates(state, merged)) continue;
      await ctx.transport.request(peerAddress(ctx, id), { type: 'sync', ns: BUCKETS_NS, key: bucket, state: merged, bodies: [] });
      sent++;
    }
  }
  return `compared ${mine.size}/${theirs.size} records with ${peer}, sent ${sent}`;
}
