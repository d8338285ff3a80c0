// Keeping the in-memory bucket registry in step with stored bucket records, and
// removing from disk (own replicas and hinted copies) the file versions of
// incarnations that have ended.
import { incarnationEnded } from '../../replica/records.js';
import type { KeyState } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';

export async function applyBucketRecord(ctx: NodeContext, bucket: string, state: KeyState): Promise<void> {
  ctx.buckets.set(bucket, state);
  const purged = await purgeEnded(ctx, bucket);
  if (purged > 0) ctx.log.info('bucket incarnation ended: files removed', { bucket, purged });
}

/** Drop the versions of ended incarnations of a bucket, in this node's data and in every hint store. */
export async function purgeEnded(ctx: NodeContext, bucket: string): Promise<number> {
  const record = ctx.buckets.get(bucket);
  if (!record) return 0; // never heard of it: nothing can be known to have ended
  const ended = (uid: string | undefined): boolean => incarnationEnded(record, uid);
  // The record's context names every incarnation it knows: the same context, the same ended ones.
  const fingerprint = JSON.stringify(Object.entries(record.context).sort(([a], [b]) => (a < b ? -1 : 1)));
  let purged = await ctx.store.purgeBucket(bucket, ended, fingerprint);
  for (const owner of await ctx.hints.owners()) purged += await ctx.hints.store(owner).purgeBucket(bucket, ended, fingerprint);
  // A hinted copy left with no version is gone: no longer a hint to hand off.
  for (const { owner, key } of ctx.hints.keysIn(bucket)) {
    if (!(await ctx.hints.store(owner).read(bucket, key))) ctx.hints.unmark(owner, bucket, key);
  }
  return purged;
}
