// update: this replica coordinates a write. It mints the version's dot under its
// own actor and stores it before answering, so two writes with the same context
// always get distinct dots and both survive as siblings.
import { ErrorCode, RingstoreError } from '../../errors.js';
import { BUCKETS_NS, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { failpoint } from '../../runtime/failpoint.js';
import { admitWrite, requireOwner, targetStore, type NodeContext } from '../context.js';
import { applyBucketRecord } from './records.js';
import { validateKey } from '../namespace.js';

export async function handleUpdate(ctx: NodeContext, m: MessageOf<'update'>, body: Buffer): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  return admitWrite(ctx, m.epoch, () => update(ctx, m, body));
}

async function update(ctx: NodeContext, m: MessageOf<'update'>, body: Buffer): Promise<HandlerResult> {
  let uid: string | undefined;
  if (m.ns !== BUCKETS_NS) {
    // The coordinator says which incarnation it found at quorum; a node that does not know it as live
    // has a stale record, and is given the current one before it may take the write.
    uid = m.uid ?? ctx.buckets.currentUid(m.ns);
    if (!uid || !ctx.buckets.isLive(m.ns, uid)) {
      throw new RingstoreError(ErrorCode.NO_SUCH_BUCKET, `bucket ${m.ns} does not exist here${m.uid ? ` as incarnation ${m.uid}` : ''}`, { details: { bucket: m.ns } });
    }
  }
  // A context can only have seen this node's versions that it minted: anything above is forged or corrupt.
  const claimed = m.context[ctx.identity.actor] ?? 0;
  if (claimed > ctx.identity.ceiling) {
    throw new RingstoreError(ErrorCode.INVALID_CONTEXT, `the context claims version ${claimed} of ${ctx.identity.actor}, which never minted it`);
  }
  if (body.length > ctx.config.maxObjectBytes) {
    throw new RingstoreError(ErrorCode.TOO_LARGE, `file of ${body.length} bytes is over the limit of ${ctx.config.maxObjectBytes}`);
  }
  const hinted = m.hint !== undefined && m.hint !== ctx.identity.node;
  if (!hinted && m.ns !== BUCKETS_NS) requireOwner(ctx, m.ns, m.key, m.epoch);
  const { state, dot } = await targetStore(ctx, m.hint).update(m.ns, m.key, m.context, {
    deleted: m.deleted,
    body,
    contentType: m.contentType,
    uid,
    uidFromDot: m.ns === BUCKETS_NS && !m.deleted,
    wid: m.wid,
    ...(m.chunked && m.ns !== BUCKETS_NS ? { chunked: m.chunked } : {}),
    ...(m.txn && m.ns !== BUCKETS_NS ? { txn: m.txn } : {}),
    ...(m.ns === BUCKETS_NS && !m.deleted && m.owner ? { owner: m.owner } : {}),
  });
  // Tests kill a participant of a transaction here: its version stored, not yet answered.
  if (m.txn) failpoint('node.txn-apply');
  if (hinted) ctx.hints.mark(m.hint as string, m.ns, m.key);
  else if (m.ns === BUCKETS_NS) await applyBucketRecord(ctx, m.key, state);
  return { reply: { type: 'update_reply', state, dot } };
}
