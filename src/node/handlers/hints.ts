// hints: a page of the hinted copies this node holds, with their states, for
// its scheduler's hinted handoff (which reads bodies with `read` + `hint`).
import type { HandlerResult } from '../../net/transport.js';
import type { MessageOf } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';

export async function handleHints(ctx: NodeContext, m: MessageOf<'hints'>): Promise<HandlerResult> {
  const { entries, next } = await ctx.hints.page(m.after, m.limit);
  return { reply: { type: 'hints_reply', entries, next } };
}
