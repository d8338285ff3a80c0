// Membership change (Dynamo 4.8-4.9, without a leader): an operator asks any
// member to add or remove one machine; that member's REST app proposes the next
// epoch through a compare-and-set on the membership register, whose acceptors
// are the members of the current epoch. Changes are one member at a time, so a
// majority of one epoch's members and a majority of the next's always share a
// node (as Raft's single-server changes): a proposer that knows an old epoch
// meets the newer one in its promises, takes it and starts again. Two changes
// made at once on different members are thus serialised into consecutive
// epochs, each computed from the one before (the layout is a pure function of
// the previous layout and the new member set), and every node ends with the same.
import { ErrorCode, RingstoreError } from '../errors.js';
import { initialRecord, nextRecord, type MemberSpec, type MembershipRecord } from '../ring/membership.js';
import { compareAndSet } from './cas.js';
import type { Cluster } from './cluster.js';

export const MEMBERSHIP_SPACE = 'membership';
const MEMBERSHIP_KEY = 'members';
const MAX_ATTEMPTS = 5;

export type Change = { join: MemberSpec } | { leave: string };

/** The newer epoch a proposer found in the register: take it and try again with its members. */
class NewerEpoch {
  constructor(readonly record: MembershipRecord) {}
}

/** Make the change; resolves with the epoch that has it, once a majority of the old members accepted it. */
export async function changeMembership(c: Cluster, change: Change): Promise<MembershipRecord> {
  await c.health.current();
  if ('join' in change) await reachable(c, change.join);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const known = c.membership.record;
    let outcome: MembershipRecord | NewerEpoch;
    try {
      outcome = await compareAndSet<MembershipRecord | NewerEpoch>(c, MEMBERSHIP_SPACE, { acceptors: known.members.map((m) => m.id), key: MEMBERSHIP_KEY }, (current) => {
        // Nothing written yet: the register stands for the cluster's first epoch, which every node computes alike.
        const base = (current as MembershipRecord | null) ?? initialRecord(c.config.nodes, c.config.ringSize, c.config.replication.n);
        if (base.epoch > known.epoch) return { result: new NewerEpoch(base) };
        if (base.epoch < known.epoch) {
          throw new RingstoreError(ErrorCode.CONFLICT, `the membership register holds epoch ${base.epoch}, older than the ${known.epoch} this node knows; try again`);
        }
        const next = nextRecord(base, membersAfter(c, base, change), settledEpoch(base, c.membership.record));
        return { write: next, result: next };
      });
    } catch (err) {
      // The change is in the register already (an earlier attempt that seemed to fail): make sure the epoch
      // that has it is told, then say so.
      if (err instanceof RingstoreError && (err.code === ErrorCode.MEMBER_EXISTS || err.code === ErrorCode.NO_SUCH_MEMBER)) await announce(c, known);
      throw err;
    }
    if (outcome instanceof NewerEpoch) {
      // A change chosen in the register that its proposer may never have told anyone of (it failed after
      // a majority accepted, or another proposer's recovery finished it): told now, or no socket server
      // would ever hold it and gossip could not spread it (simulator seed 3555).
      c.membership.adopt(outcome.record);
      await announce(c, outcome.record);
      continue;
    }
    c.membership.adopt(outcome);
    await announce(c, outcome);
    return outcome;
  }
  throw new RingstoreError(ErrorCode.CONFLICT, 'the membership kept changing while this change was proposed; try again');
}

/** A machine is added only once it answers at the address given, as the node it is said to be. */
async function reachable(c: Cluster, m: MemberSpec): Promise<void> {
  try {
    const { reply } = await c.transport.request({ id: m.id, host: m.host, port: m.port }, { type: 'ping' }, [], { timeoutMs: c.config.timeouts.requestMs });
    if (reply.node !== m.id) throw new RingstoreError(ErrorCode.BAD_REQUEST, `the node at ${m.host}:${m.port} is ${reply.node}, not ${m.id}`);
  } catch (err) {
    if (err instanceof RingstoreError && err.code === ErrorCode.BAD_REQUEST) throw err;
    throw new RingstoreError(ErrorCode.NO_SUCH_MEMBER, `no ringstore node answers as ${m.id} at ${m.host}:${m.port}: start it first (scripts/start-node.sh ${m.id} --host ${m.host} --port ${m.port} --rest-port ${m.restPort})`, {
      details: { reason: (err as Error).message },
    });
  }
}

/** The member set after the change, or the reason it cannot be made. */
function membersAfter(c: Cluster, base: MembershipRecord, change: Change): MemberSpec[] {
  if ('join' in change) {
    const j = change.join;
    const same = base.members.find((m) => m.id === j.id);
    if (same) throw new RingstoreError(ErrorCode.MEMBER_EXISTS, `${j.id} is a member already (epoch ${base.epoch})`, { details: { member: same, epoch: base.epoch } });
    const clash = base.members.find((m) => m.host === j.host && (m.port === j.port || m.restPort === j.restPort));
    if (clash) throw new RingstoreError(ErrorCode.BAD_REQUEST, `${j.host}:${j.port} (REST ${j.restPort}) is taken by member ${clash.id}`);
    return [...base.members, j];
  }
  const id = change.leave;
  if (!base.members.some((m) => m.id === id)) {
    throw new RingstoreError(ErrorCode.NO_SUCH_MEMBER, `${id} is not a member (members: ${base.members.map((m) => m.id).join(', ')})`, { details: { epoch: base.epoch } });
  }
  if (base.members.length - 1 < c.n) {
    throw new RingstoreError(ErrorCode.TOO_FEW_MEMBERS, `removing ${id} would leave ${base.members.length - 1} members, fewer than the ${c.n} replicas each file needs (N)`, {
      details: { members: base.members.length, n: c.n },
    });
  }
  return base.members.filter((m) => m.id !== id);
}

/**
 * The newest layout epoch whose data every one of its owners holds, as far as
 * this node knows (its own trimmed record): layouts older than it need not stay
 * live in the next epoch.
 */
function settledEpoch(base: MembershipRecord, local: MembershipRecord): number {
  const kept = local.epoch === base.epoch ? local.layouts[0]?.epoch : undefined;
  return kept ?? base.layouts[0]?.epoch ?? base.epoch;
}

/** Tell every node of the new epoch at once (gossip would within a few rounds); a node that misses it catches up by gossip. */
async function announce(c: Cluster, record: MembershipRecord): Promise<void> {
  const everyone = [...new Set([...record.members, ...record.leaving].map((m) => m.id))];
  await Promise.all(
    everyone.map((id) =>
      c.transport.request(c.peer(id), { type: 'membership_put', record }, [], { timeoutMs: c.config.timeouts.requestMs }).catch((err: unknown) => {
        c.log.info('a node will learn the new membership by gossip', { node: id, epoch: record.epoch, error: (err as Error).message });
      }),
    ),
  );
}
