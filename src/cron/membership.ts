// The scheduler's part in spreading membership changes (ring/membership.ts):
// heartbeats carry the epoch each socket server holds, so after a gossip round
// a machine that hears of a newer epoch fetches that record from the node that
// has it, hands it to its own socket server (which keeps it on disk), and takes
// it itself. A change made anywhere reaches every machine within a few rounds,
// also one that was down or wiped while it happened.
import type { PeerEpochs, TransferStatus } from '../protocol/messages.js';

type AntiEntropy = NonNullable<PeerEpochs['ae']>;
import type { MembershipRecord } from '../ring/membership.js';
import { antiEntropyStats } from './anti-entropy.js';
import { transferStatus } from './transfer.js';
import { peerAddress, type SchedulerContext } from './context.js';

/** Members this machine gossips with: every node the membership knows, and itself (also before it joins). */
export function gossipNodes(ctx: SchedulerContext): string[] {
  return [...new Set([...ctx.env.membership.everyone, ctx.self])];
}

/**
 * After a gossip round: take a newer membership that a heartbeat told of, or that a member told in refusing
 * this machine (it left while it could not hear of it). Returns the epoch taken, if any.
 */
export async function catchUpMembership(ctx: SchedulerContext, refusedBy: { node: string; epoch: number } | null = null): Promise<number | null> {
  const m = ctx.env.membership;
  const told = ctx.view.newerEpochs(m.epoch);
  const candidates = refusedBy && refusedBy.epoch > m.epoch ? [refusedBy, ...told.filter((t) => t.node !== refusedBy.node)] : told;
  const timeoutMs = ctx.config.timeouts.requestMs;
  let failure: unknown = null;
  // A heartbeat may tell of an epoch its node no longer holds (it was wiped): the next one is asked then. A few
  // a round, so that unreachable ones cannot hold the round's view back for long.
  for (const candidate of candidates.slice(0, 3)) {
    let record: MembershipRecord;
    try {
      record = (await ctx.transport.request(peerAddress(ctx, candidate.node), { type: 'membership_get' }, [], { timeoutMs })).reply.record as MembershipRecord;
    } catch (err) {
      failure = err;
      continue;
    }
    if (record.epoch <= m.epoch) continue;
    // The socket server first: it keeps the record on disk before anyone acts on it.
    if (candidate.node !== ctx.self) await ctx.transport.request(peerAddress(ctx, ctx.self), { type: 'membership_put', record }, [], { timeoutMs });
    adopt(ctx, record);
    return record.epoch;
  }
  if (failure !== null) throw failure;
  return null;
}

/** Take a record in this process and follow its nodes in the gossip view. */
export function adopt(ctx: SchedulerContext, record: MembershipRecord): void {
  ctx.env.membership.adopt(record);
  ctx.view.setNodes(gossipNodes(ctx), ctx.rt.clock.monotonic());
}

/** What the scheduler tells its socket server with the view: its transfers, its synced epoch, every node's epochs. */
export function membershipPush(ctx: SchedulerContext): { transfers: TransferStatus; synced: number; ae: AntiEntropy; epochs: Record<string, PeerEpochs> } {
  const { status, synced } = transferStatus(ctx);
  const s = antiEntropyStats(ctx);
  const ae = { lastRound: s.lastRound, repaired: s.repaired };
  const epochs: Record<string, PeerEpochs> = {};
  for (const n of ctx.view.nodes) {
    const hb = ctx.view.entry(n)?.heartbeat;
    const marks = ctx.view.epochsOf(n);
    if (hb?.epoch !== undefined) epochs[n] = { epoch: marks.epoch, synced: n === ctx.self ? synced : marks.synced, ...(n === ctx.self ? { ae } : hb.ae ? { ae: hb.ae } : {}) };
  }
  return { transfers: status, synced, ae, epochs };
}
