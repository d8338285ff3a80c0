// list: every key of a namespace this replica holds, with its state.
import { BUCKETS_NS, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { validateBucketName } from '../../storage/names.js';
import type { NodeContext } from '../context.js';

export async function handleList(ctx: NodeContext, m: MessageOf<'list'>): Promise<HandlerResult> {
  if (m.ns === BUCKETS_NS) return { reply: { type: 'list_reply', entries: ctx.buckets.entries() } };
  validateBucketName(m.ns);
  return { reply: { type: 'list_reply', entries: await ctx.store.list(m.ns) } };
}
