// The acceptor of single-decree Paxos, per key of a space (see
// storage/paxos-store.ts for what is kept, coordinator/cas.ts for the proposer):
// a prepare is promised if its ballot is above every ballot promised so far,
// and answered with what was accepted and committed; an accept is taken if no
// higher ballot was promised since; a commit records the chosen value (and
// clears an acceptance it supersedes). Each change is durable before the answer.
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import type { MessageOf } from '../../protocol/messages.js';
import { failpoint } from '../../runtime/failpoint.js';
import { compareBallots, mergeRecent, type AcceptorState, type Proposal } from '../../storage/paxos-store.js';
import type { NodeContext } from '../context.js';

/** An acceptor that started on an empty disk answers nothing until it has its peers' state (it would be one that forgot). */
function ready(ctx: NodeContext): void {
  if (ctx.paxos.recovering) {
    throw new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${ctx.identity.node} started on an empty disk and is taking in its peers' Paxos state`);
  }
}

/** Dumps stop near this size, well under a frame. */
const DUMP_BYTES = 512 * 1024;

export async function handlePaxosDump(ctx: NodeContext, m: MessageOf<'paxos_dump'>): Promise<HandlerResult> {
  const page = await ctx.paxos.dump(m.after, m.limit, DUMP_BYTES);
  return { reply: { type: 'paxos_dump_reply', records: page.records, next: page.next } };
}

export async function handlePaxosAdopt(ctx: NodeContext, m: MessageOf<'paxos_adopt'>): Promise<HandlerResult> {
  if (ctx.paxos.recovering || m.merge === true) {
    await ctx.paxos.adopt(m.records);
    if (m.complete && ctx.paxos.recovering) {
      await ctx.paxos.recovered();
      ctx.log.info('paxos state taken in from every peer: this node takes part in compare-and-set again');
    }
  }
  return { reply: { type: 'paxos_adopt_reply', recovering: ctx.paxos.recovering } };
}

export async function handlePaxosPrepare(ctx: NodeContext, m: MessageOf<'paxos_prepare'>): Promise<HandlerResult> {
  if (m.epoch !== undefined && m.epoch < ctx.membership.epoch) {
    // A proposer that has not heard of the newer epoch would choose its acceptors among the old owners alone, and
    // could decide what the new owners never see (simulator seed 1435: a REST app restarted with the seeds'
    // epoch decided a register on the owner that had left).
    throw new RingstoreError(ErrorCode.STALE_EPOCH, `${ctx.identity.node} holds membership epoch ${ctx.membership.epoch}, newer than the proposer's ${m.epoch}`, {
      details: { node: ctx.identity.node, epoch: ctx.membership.epoch },
    });
  }
  ready(ctx);
  return ctx.paxos.change(m.space, m.key, (s) => {
    const ok = compareBallots(m.ballot, s.promised) > 0;
    const state: AcceptorState = ok ? { ...s, promised: m.ballot } : s;
    return { state, reply: { reply: { type: 'paxos_prepare_reply', ok, promised: state.promised, accepted: s.accepted, committed: s.committed, recent: s.recent ?? [] } } };
  });
}

export async function handlePaxosAccept(ctx: NodeContext, m: MessageOf<'paxos_accept'>): Promise<HandlerResult> {
  ready(ctx);
  return ctx.paxos.change(m.space, m.key, (s) => {
    // The same request again (a retry, a duplicate) after a higher promise: it was taken, so say so; a
    // refusal would tell the proposer that no owner holds its write.
    const w = m.proposal.w;
    const had = (s.accepted?.w === w && compareBallots(s.accepted.ballot, m.proposal.ballot) === 0) || s.committed?.w === w || (s.recent ?? []).some((n) => n.w === w);
    if (had) return { state: s, reply: { reply: { type: 'paxos_accept_reply', ok: true, promised: s.promised } } };
    const ok = compareBallots(m.proposal.ballot, s.promised) >= 0;
    // The commit this proposal follows, if this acceptor missed it: a later proposer that asks us must
    // find it, or it would decide from an older value (the slot's proposals would look stale to it).
    const caughtUp = ok && m.base ? commit(s, m.base) : s;
    const state: AcceptorState = ok ? { ...caughtUp, promised: m.proposal.ballot, accepted: m.proposal } : s;
    return { state, reply: { reply: { type: 'paxos_accept_reply', ok, promised: state.promised } } };
  });
}

export async function handlePaxosCommit(ctx: NodeContext, m: MessageOf<'paxos_commit'>): Promise<HandlerResult> {
  ready(ctx);
  await ctx.paxos.change(m.space, m.key, (s) => {
    return { state: commit(s, m.proposal), reply: undefined };
  });
  // Tests kill a participant of a transaction here: its intent or decision durable, not yet answered.
  if (m.space.startsWith('txn:')) failpoint(m.space === 'txn:$txns' ? 'node.txn-decision' : 'node.txn-intent');
  return { reply: { type: 'paxos_commit_reply' } };
}

export async function handlePaxosRead(ctx: NodeContext, m: MessageOf<'paxos_read'>): Promise<HandlerResult> {
  const s = await ctx.paxos.read(m.space, m.key);
  return { reply: { type: 'paxos_read_reply', accepted: s.accepted, committed: s.committed, ...(ctx.paxos.recovering ? { recovering: true } : {}) } };
}

/** Answer once the key's committed value changes from the one the caller saw (or after waitMs). */
export function handlePaxosWatch(ctx: NodeContext, m: MessageOf<'paxos_watch'>): Promise<HandlerResult> {
  ready(ctx);
  return new Promise((resolve) => {
    let done = false;
    const finish = (changed: boolean): void => {
      if (done) return;
      done = true;
      stop();
      timer.cancel();
      resolve({ reply: { type: 'paxos_watch_reply', changed } });
    };
    const stop = ctx.paxos.watch((space, key) => {
      if (space === m.space && key === m.key) finish(true);
    });
    const timer = ctx.timers.setTimeout(() => finish(false), m.waitMs, { background: true });
    // Checked after the watch is in place, so a commit in between is not missed.
    ctx.paxos.read(m.space, m.key).then(
      (s) => compareBallots(s.committed?.ballot, m.committed) !== 0 && finish(true),
      () => finish(true),
    );
  });
}

/**
 * The state once `p` is committed (the same object if it is not news): a write that follows the committed
 * one is the next slot whatever its ballot (the one before may have been finished again under a higher
 * ballot); one that does not follow it is newer only if its ballot is (this acceptor missed slots).
 */
function commit(s: AcceptorState, p: Proposal): AcceptorState {
  const c = s.committed;
  if (c && p.w === c.w) return s;
  const follows = c === null || p.prev === c.w;
  if (!follows && compareBallots(p.ballot, c?.ballot) <= 0) return s;
  // An acceptance it settles is cleared; one for the slot after it is kept.
  const a = s.accepted;
  const accepted = a && (a.w === p.w || (a.prev !== p.w && compareBallots(a.ballot, p.ballot) <= 0)) ? null : a;
  const recent = mergeRecent(s.recent ?? [], [{ ballot: p.ballot, prev: p.prev, w: p.w }]);
  return { ...s, accepted, committed: p, recent };
}
