// hint_drop: the scheduler handed a hinted replica to its owner, which
// acknowledged it. Remove the copy, unless a newer hinted write arrived since
// (then it stays, and the next handoff delivers that too).
import type { MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import type { NodeContext } from '../context.js';
import { validateKey } from '../namespace.js';

export async function handleHintDrop(ctx: NodeContext, m: MessageOf<'hint_drop'>): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  const dropped = await ctx.hints.store(m.owner).removeIf(m.ns, m.key, m.state);
  if (dropped) ctx.hints.unmark(m.owner, m.ns, m.key);
  return { reply: { type: 'hint_drop_reply', dropped } };
}
