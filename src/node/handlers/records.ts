// Keeping the in-memory bucket registry in step with stored bucket records, and
// removing a bucket's files once its incarnation has ended on this node.
import type { KeyState } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';
import { liveUids } from '../buckets.js';

export async function applyBucketRecord(ctx: NodeContext, bucket: string, state: KeyState): Promise<void> {
  if (!ctx.buckets.apply(bucket, state)) return;
  const purged = await ctx.store.purgeBucket(bucket, liveUids(state));
  ctx.log.info('bucket incarnation ended: files removed', { bucket, purged });
}
