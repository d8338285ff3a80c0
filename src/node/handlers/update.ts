// update: this replica coordinates a write. It mints the version's dot under its
// own actor and stores it before answering, so two writes with the same context
// always get distinct dots and both survive as siblings.
import { ErrorCode, RingstoreError } from '../../errors.js';
import { BUCKETS_NS, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { targetStore, type NodeContext } from '../context.js';
import { applyBucketRecord } from './records.js';
import { validateKey } from '../namespace.js';

export async function handleUpdate(ctx: NodeContext, m: MessageOf<'update'>, body: Buffer): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  let uid = m.uid;
  if (m.ns === BUCKETS_NS) {
    if (!m.deleted && !uid) throw new RingstoreError(ErrorCode.BAD_MESSAGE, 'a bucket record needs its incarnation uid');
  } else {
    uid = ctx.buckets.currentUid(m.ns);
    if (!uid) throw new RingstoreError(ErrorCode.NO_SUCH_BUCKET, `bucket ${m.ns} does not exist`, { details: { bucket: m.ns } });
  }
  if (body.length > ctx.config.maxObjectBytes) {
    throw new RingstoreError(ErrorCode.TOO_LARGE, `file of ${body.length} bytes is over the limit of ${ctx.config.maxObjectBytes}`);
  }
  const hinted = m.hint !== undefined && m.hint !== ctx.identity.node;
  const { state, dot } = await targetStore(ctx, m.hint).update(m.ns, m.key, m.context, { deleted: m.deleted, body, contentType: m.contentType, uid });
  if (hinted) ctx.hints.mark(m.hint as string, m.ns, m.key);
  else if (m.ns === BUCKETS_NS) await applyBucketRecord(ctx, m.key, state);
  return { reply: { type: 'update_reply', state, dot } };
}
