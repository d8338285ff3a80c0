// A node that started on an empty disk takes part in Paxos again only once it
// holds every peer's acceptor records (storage/paxos-store.ts says why): each
// tick, while its socket server says it is recovering, page through every
// peer's records and hand them to it; once all peers have answered in full,
// tell it it is complete. A peer that is down holds it back: that peer may be
// the only other one that saw a promise this node made and forgot.
import { peerAddress, type SchedulerContext } from './context.js';

const PAGE = 500;

export async function paxosRecoveryRound(ctx: SchedulerContext): Promise<string | void> {
  const self = peerAddress(ctx, ctx.self);
  const status = await ctx.transport.request(self, { type: 'paxos_adopt', records: [], complete: false });
  if (!status.reply.recovering) return;
  let taken = 0;
  for (const peer of ctx.env.membership.ids) {
    if (peer === ctx.self) continue;
    let after: string | undefined;
    for (;;) {
      const { reply } = await ctx.transport.request(peerAddress(ctx, peer), { type: 'paxos_dump', limit: PAGE, ...(after !== undefined ? { after } : {}) });
      if (reply.records.length > 0) await ctx.transport.request(self, { type: 'paxos_adopt', records: reply.records, complete: false });
      taken += reply.records.length;
      if (reply.next === null) break;
      after = reply.next;
    }
  }
  await ctx.transport.request(self, { type: 'paxos_adopt', records: [], complete: true });
  return `took in ${taken} Paxos records from every peer: recovered`;
}
