// list: every bucket record this node holds (namespace $buckets, one small
// record per bucket, on every node). A bucket's files are listed a page at a
// time with list_page: a whole bucket in one answer grows without bound.
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import { BUCKETS_NS, type MessageOf } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';

export async function handleList(ctx: NodeContext, m: MessageOf<'list'>): Promise<HandlerResult> {
  if (m.ns !== BUCKETS_NS) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `list is for bucket records (${BUCKETS_NS}); list a bucket's files with list_page`);
  return { reply: { type: 'list_reply', entries: ctx.buckets.entries() } };
}
