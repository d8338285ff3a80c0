// membership_get: this node's membership record, for a peer or a process of
// this machine that knows an older epoch. membership_put: a newer record (from
// the coordinator of a change, or fetched by the scheduler), kept if newer.
import type { HandlerResult } from '../../net/transport.js';
import type { MessageOf } from '../../protocol/messages.js';
import type { MembershipRecord } from '../../ring/membership.js';
import type { NodeContext } from '../context.js';

export async function handleMembershipGet(ctx: NodeContext, _m: MessageOf<'membership_get'>): Promise<HandlerResult> {
  return { reply: { type: 'membership_get_reply', record: ctx.membership.record } };
}

export async function handleMembershipPut(ctx: NodeContext, m: MessageOf<'membership_put'>): Promise<HandlerResult> {
  return { reply: { type: 'membership_put_reply', epoch: await ctx.keeper.offer(m.record as MembershipRecord) } };
}
