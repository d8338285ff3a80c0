// gossip: a heartbeat table from a scheduler, ours or a peer's (see gossip-relay.ts).
import type { MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import type { NodeContext } from '../context.js';

export async function handleGossip(ctx: NodeContext, m: MessageOf<'gossip'>): Promise<HandlerResult> {
  return { reply: { type: 'gossip_reply', table: ctx.gossip.exchange(m.sender, m.table) } };
}
