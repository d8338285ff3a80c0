// Collecting the chunks no version needs any more: those of overwritten or
// deleted large files, and those an upload left behind when it failed or its
// client went away. Every chunkGc.intervalMs, the chunks of this machine that
// have been neither written nor touched for chunkGc.graceMs (an upload under
// way touches its chunks on their owners, so a long one keeps them young) are
// offered to every member (chunk_refs): one that any version held anywhere
// names (a sibling, a hinted copy) stays. Only when every member answers, and
// no partitions are moving, are the rest removed, each only if it is still old
// at that instant (an upload that puts an equal chunk meanwhile makes it young).
import type { SchedulerContext } from './context.js';
import { peerAddress } from './context.js';

/** Chunks weighed per round. */
const BATCH = 10_000;

export async function chunkGcRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string> {
  const m = ctx.env.membership;
  if (m.layouts.length > 1) return 'skipped: partitions are moving';
  const now = ctx.rt.clock.monotonic();
  const down = m.everyone.filter((id) => id !== ctx.self && ctx.view.status(id, now) !== 'up');
  if (down.length > 0) return `skipped: ${down.join(', ')} not known up (a version there could name any chunk)`;
  const { graceMs } = ctx.config.chunkGc;
  const self = peerAddress(ctx, ctx.self);
  const { reply } = await ctx.transport.request(self, { type: 'chunk_gc_candidates', graceMs, limit: BATCH });
  const hashes = reply.hashes;
  if (hashes.length === 0) return 'no old chunks';
  const named = new Set<string>();
  for (const id of m.everyone) {
    if (signal.aborted) return 'stopped';
    try {
      const r = await ctx.transport.request(peerAddress(ctx, id), { type: 'chunk_refs', hashes });
      hashes.forEach((h, i) => r.reply.referenced[i] && named.add(h));
    } catch (err) {
      return `skipped: ${id} could not say which chunks are in use (${(err as Error).message})`;
    }
  }
  const unnamed = hashes.filter((h) => !named.has(h));
  if (unnamed.length === 0) return `${hashes.length} old chunk(s), all in use`;
  const removed = (await ctx.transport.request(self, { type: 'chunk_collect', hashes: unnamed, graceMs })).reply.removed;
  if (removed > 0) ctx.log.info('chunks collected', { removed, old: hashes.length });
  return `${hashes.length} old chunk(s): ${removed} no version names removed`;
}
