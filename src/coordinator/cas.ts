// A linearizable compare-and-set register per key, decided by Paxos among the
// key's N owners (as Cassandra's lightweight transactions do). The register is
// a sequence of slots, each decided by single-decree Paxos; a slot is named by
// the committed write it follows, and every proposal says which slot it is for.
//  1. prepare with a fresh ballot; a majority must promise, and say what they
//     accepted, what was last committed, and the last few commits;
//  2. a proposal accepted for the current slot (it follows the latest commit)
//     belongs to a proposer that stopped half-way: it may have been chosen, so
//     it is finished (accepted and committed under our ballot) and the round
//     starts again. A proposal for an earlier slot is stale: that slot was
//     decided, and it never will be;
//  3. the caller decides from the committed value: nothing to write (a read,
//     or a failed comparison) ends here, linearizably; otherwise
//  4. accept the new value for this slot with the same ballot (a majority),
//     then commit it.
// A proposer whose value some owner may have accepted never decides afresh
// until it knows the fate of that slot: from the commits the acceptors
// remember, either its write filled it (done) or another did (then it decides
// again from the new value). Only if that history has moved past its slot does
// it answer OUTCOME_UNKNOWN.
// A majority of the N owners decides (not R or W), so it holds while a
// majority is up; a proposer that loses a ballot race backs off and retries.
// Owners only: no sloppy quorum, a hinted node would be a second majority.
import { ErrorCode, RingstoreError, type ReplicaFailure } from '../errors.js';
import { compareBallots, mergeRecent, type Ballot, type CommitNote, type Proposal } from '../storage/paxos-store.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';

/** What the caller decides from the committed value: write a new one (and answer), or only answer. */
export type Decision<R> = { write: unknown; result: R } | { result: R };

// Enough for 16 proposers contending on one register on a loaded 2-core machine (CI saw 30 run out).
const MAX_ROUNDS = 60;

/** The ballots of one proposing process: higher each time, and past every ballot it has seen refused. */
export class Proposer {
  private last: number;
  readonly actor: string;

  constructor(c: Cluster) {
    // The wall clock only starts the count high; uniqueness comes from the actor, monotony from `last`.
    this.last = Math.floor(c.rt.clock.now()) * 1000;
    this.actor = `${c.self}~${c.rt.random.bytes(4).toString('hex')}`;
  }

  next(): Ballot {
    return { n: ++this.last, actor: this.actor };
  }

  /** A refusal named a higher ballot: the next one goes past it. */
  saw(b: Ballot | null | undefined): void {
    if (b && b.n > this.last) this.last = b.n;
  }
}

const proposers = new WeakMap<Cluster, Proposer>();
function proposerOf(c: Cluster): Proposer {
  let p = proposers.get(c);
  if (!p) proposers.set(c, (p = new Proposer(c)));
  return p;
}

/**
 * Read-modify-write one register: `decide` sees the committed value (null if
 * none) and says what to write. Resolves with the decision's result once its
 * value is committed (or at once when there is nothing to write). `placement`
 * is the bucket and key whose owners hold the register, or the acceptors named
 * outright (the membership register: the members of the current epoch).
 */
export async function compareAndSet<R>(c: Cluster, space: string, placement: { ns: string; key: string } | { acceptors: readonly string[]; key: string }, decide: (current: unknown) => Decision<R>): Promise<R> {
  // While partitions move, the owners in every live layout together (a majority of them), so that the new
  // owners take part in every decision from the start of the move (they took in the earlier ones with the
  // partition); see membership.ts.
  // Registers placed by key: the acceptors are chosen under this REST app's epoch, told in each prepare; an
  // acceptor that holds a newer one refuses, and the round starts again among the owners of that epoch.
  const byKey = 'acceptors' in placement ? null : placement;
  if (byKey) await c.health.current(); // the membership too, if this machine's socket server knows a newer one
  let epoch = c.membership.epoch;
  let owners = byKey ? c.registerOwners(byKey.ns, byKey.key) : [...(placement as { acceptors: readonly string[] }).acceptors];
  let majority = Math.floor(owners.length / 2) + 1;
  const proposer = proposerOf(c);
  const key = placement.key;
  let lastFailures: ReplicaFailure[] = [];
  // Our write, once decided: its value, the slot it is for, and what to answer once it is chosen.
  let ours: { result: R; proposal: Omit<Proposal, 'ballot'>; mayBeAccepted: boolean } | null = null;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round > 0) await c.rt.timers.sleep(Math.floor(c.rt.random.float() * Math.min(400, 5 * 2 ** round)));
    const ballot = proposer.next();
    const prepared = await quorum(owners, majority, async (node) => {
      const { reply } = await c.transport.request(c.peer(node), { type: 'paxos_prepare', space, key, ballot, ...(byKey ? { epoch } : {}) });
      proposer.saw(reply.promised);
      if (!reply.ok) throw new RingstoreError(ErrorCode.CONFLICT, `${node} promised a higher ballot`);
      return reply;
    });
    const stale = byKey ? prepared.failed.find((f) => f.code === ErrorCode.STALE_EPOCH) : undefined;
    if (byKey && stale) {
      // Nothing of this round is accepted anywhere yet: take the newer membership and prepare again among its
      // owners (a write of ours from an earlier round stays ours: its slot is settled as before).
      await c.refreshMembership(stale.node).catch(() => undefined);
      if (c.membership.epoch > epoch) {
        epoch = c.membership.epoch;
        owners = c.registerOwners(byKey.ns, byKey.key);
        majority = Math.floor(owners.length / 2) + 1;
      }
      lastFailures = prepared.failed;
      continue;
    }
    const promises = prepared.ok.map((a) => a.value);
    if (promises.length < majority) {
      lastFailures = prepared.failed;
      if (unreachable(prepared.failed, owners.length, majority)) throw noMajority(key, majority, prepared.ok.map((a) => a.node), prepared.failed);
      continue; // lost a ballot race: back off, and again with a higher ballot
    }
    const committed = latest(promises.map((p) => p.committed));
    const slot = committed?.w ?? null;
    if (ours && ours.proposal.prev !== slot) {
      // The slot our write was for has been decided: by ours, or by another (then ours never will be).
      const recent = promises.reduce<CommitNote[]>((all, p) => mergeRecent(all, p.recent), []);
      const filled = committed?.w === ours.proposal.w ? committed : recent.find((n) => n.prev === ours?.proposal.prev);
      if (!filled) {
        throw new RingstoreError(ErrorCode.OUTCOME_UNKNOWN, `compare-and-set of ${key}: many writes got in while ours was half-way; read the value to see whether ours took effect`);
      }
      if (filled.w === ours.proposal.w) {
        // Ours, finished by another proposer that may not have told a majority yet: tell them, so that a
        // reader of committed values (a lock check) sees it once we have answered.
        await commitToMajority(c, owners, majority, space, key, { ...ours.proposal, ballot: filled.ballot });
        return ours.result;
      }
      ours = null; // another write won that slot: decide again, from the value as it is now
    }
    // A proposal for this slot that an earlier proposer left half-way may have been chosen: finish it first.
    const inProgress = latest(promises.map((p) => (p.accepted && p.accepted.prev === slot && p.accepted.w !== slot ? p.accepted : null)));
    if (inProgress) {
      const finished = await acceptAndCommit(c, owners, majority, space, key, { ...inProgress, ballot }, committed, proposer);
      if (finished === true && ours && inProgress.w === ours.proposal.w) return ours.result;
      continue;
    }
    if (!ours) {
      const decision = decide(committed ? committed.value : null);
      if (!('write' in decision)) return decision.result;
      ours = { result: decision.result, proposal: { value: decision.write, prev: slot, w: c.rt.random.uuid() }, mayBeAccepted: false };
    }
    const outcome = await acceptAndCommit(c, owners, majority, space, key, { ...ours.proposal, ballot }, committed, proposer);
    if (outcome === true) return ours.result;
    if (outcome === 'maybe') ours.mayBeAccepted = true;
    // Every owner refused it and no earlier round may have left it with one: nobody holds it, decide again.
    else if (!ours.mayBeAccepted) ours = null;
  }
  throw new RingstoreError(ErrorCode.CONFLICT, `compare-and-set of ${key}: too many competing proposals, try again`, {
    details: { failed: lastFailures },
  });
}

/**
 * Phase 2: a majority accepts the proposal, then it is committed. True once chosen and committed;
 * 'refused' if every owner refused it (a higher ballot got in first, and none holds it); 'maybe' if some
 * owner may have accepted it without a majority.
 */
async function acceptAndCommit(c: Cluster, owners: readonly string[], majority: number, space: string, key: string, proposal: Proposal, base: Proposal | null, proposer: Proposer): Promise<true | 'refused' | 'maybe'> {
  const accepted = await quorum(owners, majority, async (node) => {
    const { reply } = await c.transport.request(c.peer(node), { type: 'paxos_accept', space, key, proposal, base });
    proposer.saw(reply.promised);
    if (!reply.ok) throw new RingstoreError(ErrorCode.CONFLICT, `${node} promised a higher ballot`);
    return true;
  });
  if (accepted.ok.length < majority) {
    if (unreachable(accepted.failed, owners.length, majority)) throw noMajority(key, majority, accepted.ok.map((a) => a.node), accepted.failed);
    if (accepted.ok.length > 0) return 'maybe';
    const all = await accepted.rest; // a silent owner may have accepted: only refusals from all of them clear it
    return all.ok.length === 0 && all.failed.every((f) => f.code === ErrorCode.CONFLICT) ? 'refused' : 'maybe';
  }
  await commitToMajority(c, owners, majority, space, key, proposal);
  return true;
}

/** A chosen proposal is committed: every owner is told, and the answer waits for a majority, so that the
 * next round's promises (and readers of committed values) have it even if this proposer goes away now. */
export async function commitToMajority(c: Cluster, owners: readonly string[], majority: number, space: string, key: string, proposal: Proposal): Promise<void> {
  const committed = await quorum(owners, majority, async (node) => {
    await c.transport.request(c.peer(node), { type: 'paxos_commit', space, key, proposal });
    return true;
  });
  if (committed.ok.length < majority) throw noMajority(key, majority, committed.ok.map((a) => a.node), committed.failed);
}

/** A register's committed value, as a reader of the acceptors' state sees it (paxos_read). */
export function committedValue(p: Proposal | null): unknown {
  return p ? p.value : null;
}

/** A register's owners could not muster a majority: what a reader of it answers. */
export function tooFewOwners(what: string, s: { answered: number; majority: number; failed: readonly ReplicaFailure[] }): RingstoreError {
  return new RingstoreError(ErrorCode.QUORUM_NOT_REACHED, `${what}: ${s.answered} of the ${s.majority} owners required could answer` + (s.failed.length ? ` (${s.failed.map((f) => `${f.node}: ${f.message}`).join('; ')})` : ''), {
    details: { required: s.majority, failed: [...s.failed] },
  });
}

export interface RegisterRead {
  /** The committed value (null: none). */
  value: unknown;
  /** The ballot it was committed at (what a watch waits to change). */
  ballot: Ballot | null;
  /** Owners that answered and can vouch for their state (not one still taking in its peers' after a wipe). */
  answered: number;
  owners: number;
  majority: number;
  failed: ReplicaFailure[];
  /** Whether any answer knew of the register at all. */
  ever: boolean;
}

/**
 * A register's value as committed at a majority of its owners (paxos_read),
 * without a ballot of its own (so a read changes nothing on disk, unless owners
 * disagree). A write answers only once a majority has it, so this sees every
 * write answered before it started. The caller checks `answered` against
 * `majority`.
 */
export async function readRegister(c: Cluster, space: string, placement: { ns: string; key: string }): Promise<RegisterRead> {
  const { ns, key } = placement;
  // The register's acceptors as compareAndSet decides among them (both layouts' owners while partitions
  // move): a majority of the read layout's owners alone might miss a write made by the others.
  const owners = c.registerOwners(ns, key);
  const majority = Math.floor(owners.length / 2) + 1;
  // A majority is asked first (owners believed up first): a majority's answers are enough (any majority
  // holds every answered write). The others only when that falls short.
  const down = await c.health.downSet();
  const order = [...owners.filter((o) => !down.has(o)), ...owners.filter((o) => down.has(o))];
  const read = async (node: string) => (await c.transport.request(c.peer(node), { type: 'paxos_read', space, key })).reply;
  const first = await (await quorum(order.slice(0, majority), majority, read)).rest;
  let answers = first.ok;
  let failed = first.failed;
  const counted = answers.filter((a) => a.value.recovering !== true).length;
  if (counted < majority && order.length > majority) {
    const more = await (await quorum(order.slice(majority), majority - counted, read)).rest;
    answers = [...answers, ...more.ok];
    failed = [...failed, ...more.failed];
  }
  let best: Proposal | null = null;
  for (const a of answers) if (a.value.committed && compareBallots(a.value.committed.ballot, best?.ballot) > 0) best = a.value.committed;
  const answered = answers.filter((a) => a.value.recovering !== true).length;
  // Owners that disagree: the newest commit may have reached only some of them so far. It is written back
  // to a majority before it is used (as ABD's reads do), so that every later read sees it too.
  if (best && answers.some((a) => a.value.committed?.w !== best?.w)) await commitToMajority(c, owners, majority, space, key, best);
  return { value: committedValue(best), ballot: best?.ballot ?? null, answered, owners: owners.length, majority, failed, ever: answers.some((a) => a.value.committed !== null || a.value.accepted !== null) };
}

function latest(proposals: ReadonlyArray<Proposal | null>): Proposal | null {
  let best: Proposal | null = null;
  for (const p of proposals) if (p && compareBallots(p.ballot, best?.ballot) > 0) best = p;
  return best;
}

/** Failures that are not lost ballot races (unreachable owners) leave fewer than a majority able to answer. */
function unreachable(failed: readonly ReplicaFailure[], owners: number, majority: number): boolean {
  const down = failed.filter((f) => f.code !== ErrorCode.CONFLICT).length;
  return owners - down < majority;
}

function noMajority(key: string, majority: number, answered: readonly string[], failed: readonly ReplicaFailure[]): RingstoreError {
  return new RingstoreError(
    ErrorCode.QUORUM_NOT_REACHED,
    `compare-and-set of ${key}: ${answered.length} of the ${majority} owners required answered` + (failed.length ? `; failed: ${failed.map((f) => `${f.node} (${f.message})`).join('; ')}` : ''),
    { details: { required: majority, answered: [...answered], failed: [...failed] } },
  );
}

