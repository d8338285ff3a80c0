// ping: is this node up, and which incarnation of it is answering.
import type { MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import type { NodeContext } from '../context.js';

export async function handlePing(ctx: NodeContext, _m: MessageOf<'ping'>): Promise<HandlerResult> {
  return { reply: { type: 'pong', node: ctx.identity.node, incarnation: ctx.identity.incarnation, paxos: ctx.paxos.recovering ? 'recovering' : 'ready' } };
}
