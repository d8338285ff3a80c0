// Who the cluster's members are: one versioned object that the ring, the
// coordinator, the socket layer and the workers all read. A cluster starts at
// epoch 1 with the members of nodes.json (its seeds); every join or leave is a
// new epoch, agreed by a compare-and-set among the members of the epoch before
// (coordinator/membership-change.ts), spread by gossip and kept on disk by each
// socket server (membership.json).
//
// An epoch carries the layouts still live: the newest, and the older ones whose
// data has not yet been copied to the newest one's owners. While more than one
// is live, writes go to the owners in every live layout (W in each) and reads to
// the oldest one's owners, which hold every acknowledged write until the move
// is done (as Garage keeps several layout versions live during a change).
import type { PeerAddress } from '../net/transport.js';
import { initialLayout, rebalance, type Layout } from './layout.js';

export interface MemberSpec {
  id: string;
  host: string;
  port: number;
  restPort: number;
}

/** One layout version: which members hold each partition's replicas from this epoch on. */
export interface EpochLayout {
  epoch: number;
  /** For each partition, the members holding its replicas, in preference order. */
  replicas: string[][];
}

/** The membership as stored, gossiped and agreed on: plain JSON. */
export interface MembershipRecord {
  epoch: number;
  /** The members of this epoch, sorted by id (epoch 1: nodes.json order). */
  members: MemberSpec[];
  /** Members of older live layouts that have left: still reachable until their data has moved. */
  leaving: MemberSpec[];
  /**
   * Every member that has left, by id (absent in records written before it was kept). Such a machine is
   * let in to be told it left: one that was down while it was removed learns so when it comes back.
   */
  left?: string[];
  /** Partitions (Q) and replicas per partition (N): fixed for the cluster's life. */
  partitions: number;
  n: number;
  /** The live layouts, oldest first; the last one is this epoch's. */
  layouts: EpochLayout[];
}

/** The first epoch of a cluster: its seeds, with today's ring as the layout. */
export function initialRecord(seeds: readonly MemberSpec[], partitions: number, n: number): MembershipRecord {
  const layout = initialLayout(
    seeds.map((m) => m.id),
    partitions,
    n,
  );
  return { epoch: 1, members: seeds.map((m) => ({ ...m })), leaving: [], partitions, n, layouts: [{ epoch: 1, replicas: layout.replicas.map((r) => [...r]) }] };
}

/**
 * The next epoch: `members` as the new member set, its layout rebalanced from
 * the current one (moving as little as balance allows). Layouts at or before
 * `settled` (every owner of a newer one has its data) are no longer live.
 */
export function nextRecord(cur: MembershipRecord, members: readonly MemberSpec[], settled: number): MembershipRecord {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const epoch = cur.epoch + 1;
  const layout = rebalance(layoutOf(cur, cur.layouts.at(-1) as EpochLayout), sorted.map((m) => m.id));
  const layouts = [...trimLayouts(cur.layouts, settled), { epoch, replicas: layout.replicas.map((r) => [...r]) }];
  const staying = new Set(sorted.map((m) => m.id));
  const left = [...new Set([...(cur.left ?? []), ...cur.members.map((m) => m.id)])].filter((id) => !staying.has(id)).sort().slice(-1000);
  return { epoch, members: sorted.map((m) => ({ ...m })), leaving: leavers(cur, sorted, layouts), ...(left.length > 0 ? { left } : {}), partitions: cur.partitions, n: cur.n, layouts };
}

/** The same record with the layouts at or before `settled` dropped (the newest always stays). */
export function trimRecord(cur: MembershipRecord, settled: number): MembershipRecord {
  const layouts = trimLayouts(cur.layouts, settled);
  if (layouts.length === cur.layouts.length) return cur;
  return { ...cur, layouts, leaving: leavers(cur, cur.members, layouts) };
}

function trimLayouts(layouts: readonly EpochLayout[], settled: number): EpochLayout[] {
  const newest = layouts.at(-1) as EpochLayout;
  // Layout e is needed while the data of some newer live layout is not all in place; `settled` is the newest
  // epoch whose owners have all their data, so everything older than it can go.
  return layouts.filter((l) => l.epoch >= settled || l === newest);
}

function leavers(cur: MembershipRecord, members: readonly MemberSpec[], layouts: readonly EpochLayout[]): MemberSpec[] {
  const staying = new Set(members.map((m) => m.id));
  const inLayouts = new Set(layouts.flatMap((l) => l.replicas.flat()));
  const known = new Map([...cur.leaving, ...cur.members].map((m) => [m.id, m]));
  return [...known.values()].filter((m) => !staying.has(m.id) && inLayouts.has(m.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

function layoutOf(rec: Pick<MembershipRecord, 'partitions' | 'n' | 'members'>, l: EpochLayout): Layout {
  const members = [...new Set(l.replicas.flat())].sort();
  return { partitions: rec.partitions, n: rec.n, members, replicas: l.replicas };
}

/** Whether a record is well formed: what a node checks before it adopts one from the network or its disk. */
export function recordProblem(r: MembershipRecord): string | null {
  if (r.layouts.length === 0) return 'no layout';
  if (r.layouts.at(-1)?.epoch !== r.epoch) return 'the newest layout is not this epoch\'s';
  const ids = new Set(r.members.map((m) => m.id));
  if (ids.size !== r.members.length) return 'a member is listed twice';
  const known = new Set([...ids, ...r.leaving.map((m) => m.id)]);
  for (const l of r.layouts) {
    if (l.replicas.length !== r.partitions) return `layout ${l.epoch} has ${l.replicas.length} partitions, not ${r.partitions}`;
    for (const list of l.replicas) for (const m of list) if (!known.has(m)) return `layout ${l.epoch} names ${m}, which is no member`;
  }
  return null;
}

/**
 * The membership a process holds: the current record, replaced in place when
 * a newer epoch arrives, so that every reader (ring, coordinator, workers)
 * sees the same version without holding on to an old copy.
 */
export class Membership {
  private rec!: MembershipRecord;
  private byId = new Map<string, MemberSpec>();
  private current = new Set<string>();
  private readonly listeners: Array<(r: MembershipRecord) => void> = [];

  constructor(record: MembershipRecord) {
    this.set(record);
  }

  /** The first epoch, from nodes.json: every node of a new cluster computes the same one. */
  static initial(members: readonly MemberSpec[], partitions = 256, n = 3): Membership {
    return new Membership(initialRecord(members, partitions, n));
  }

  /** Take a newer epoch (or the same epoch with layouts trimmed); false if it is not newer. */
  adopt(record: MembershipRecord): boolean {
    const newer = record.epoch > this.rec.epoch || (record.epoch === this.rec.epoch && record.layouts.length < this.rec.layouts.length);
    if (!newer) return false;
    this.set(record);
    for (const l of this.listeners) l(record);
    return true;
  }

  /** Called after each adopted change. */
  onChange(listener: (r: MembershipRecord) => void): void {
    this.listeners.push(listener);
  }

  private set(record: MembershipRecord): void {
    this.rec = record;
    this.byId = new Map([...record.leaving, ...record.members].map((m) => [m.id, m]));
    this.current = new Set(record.members.map((m) => m.id));
  }

  get record(): MembershipRecord {
    return this.rec;
  }

  get epoch(): number {
    return this.rec.epoch;
  }

  /** The same as epoch: what the ring calls its membership version. */
  get version(): number {
    return this.rec.epoch;
  }

  /** This epoch's members, in claim order. */
  get members(): readonly MemberSpec[] {
    return this.rec.members;
  }

  get ids(): string[] {
    return this.rec.members.map((m) => m.id);
  }

  /** A member of this epoch. */
  has(id: string): boolean {
    return this.current.has(id);
  }

  /** A member of this epoch, or one that left and still holds data of a live layout. */
  knows(id: string): boolean {
    return this.byId.has(id);
  }

  /** A member of this epoch, or one that ever was (a machine that left). */
  everKnew(id: string): boolean {
    return this.byId.has(id) || (this.rec.left?.includes(id) ?? false);
  }

  get(id: string): MemberSpec | undefined {
    return this.byId.get(id);
  }

  /** Where to reach a member's socket server (also one that is leaving); undefined if it is none. */
  address(id: string): PeerAddress | undefined {
    const m = this.byId.get(id);
    return m && { id: m.id, host: m.host, port: m.port };
  }

  /** Every node this epoch knows: members, then those leaving. */
  get everyone(): string[] {
    return [...this.rec.members, ...this.rec.leaving].map((m) => m.id);
  }

  /** The live layouts, oldest first. */
  get layouts(): readonly EpochLayout[] {
    return this.rec.layouts;
  }

  /** More than one layout is live: partitions are moving. */
  get changing(): boolean {
    return this.rec.layouts.length > 1;
  }
}
