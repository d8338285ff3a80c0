// view_push: this machine's scheduler hands over its view after a gossip round.
// view: the REST app asks for it (see ../scheduler-view.ts). stats: the socket
// server's own figures (journal, hints held), for /metrics.
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import type { MessageOf } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';

export async function handleViewPush(ctx: NodeContext, m: MessageOf<'view_push'>): Promise<HandlerResult> {
  // Only this machine's own scheduler speaks for this machine's view.
  if (m.sender !== ctx.identity.node) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `view_push from ${m.sender}: only this machine's scheduler pushes its view`);
  ctx.schedulerView.push(m.statuses, m.disks, m.workers, m.counters, { transfers: m.transfers, synced: m.synced, ae: m.ae, epochs: m.epochs });
  return { reply: { type: 'view_push_reply' } };
}

export async function handleSupervisorReport(ctx: NodeContext, m: MessageOf<'supervisor_report'>): Promise<HandlerResult> {
  if (m.sender !== ctx.identity.node) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `supervisor_report from ${m.sender}: only this machine's supervisor reports its processes`);
  ctx.schedulerView.supervised(m.processes);
  return { reply: { type: 'supervisor_report_reply' } };
}

export async function handleStats(ctx: NodeContext, _m: MessageOf<'stats'>): Promise<HandlerResult> {
  return { reply: { type: 'stats_reply', journal: { ...ctx.journal.stats }, hints: ctx.hints.countsByOwner(), logDropped: ctx.logDropped() } };
}

export async function handleView(ctx: NodeContext, _m: MessageOf<'view'>): Promise<HandlerResult> {
  return { reply: { type: 'view_reply', ...ctx.schedulerView.held(), epoch: ctx.membership.epoch, live: ctx.membership.layouts.length } };
}
