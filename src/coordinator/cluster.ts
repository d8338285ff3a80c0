// The coordinator's view of the cluster: who the members are, where a key's
// replicas live, and how to reach them. Any machine's REST app builds one (and
// the simulator one per simulated machine).
import { contextKey } from '../clock/context-token.js';
import type { ClusterConfig } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import type { NodeEnv } from '../node-env.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { objectKey } from '../ring/hash.js';
import type { MemberSpec, Membership, MembershipRecord } from '../ring/membership.js';
import { Ring } from '../ring/ring.js';
import type { Runtime } from '../runtime/runtime.js';
import { HealthView } from './health.js';

export class Cluster {
  private rings: { epoch: number; live: number; rings: Ring[] } | null = null;
  readonly health: HealthView;
  /** Signs the causal contexts handed to clients. */
  readonly contextKey: Buffer;
  readonly config: ClusterConfig;
  /** The node whose REST app this is: named as `coordinator` in answers. */
  readonly self: string;
  readonly membership: Membership;
  readonly rt: Runtime;
  readonly log: Logger;
  private readonly selfAddress: PeerAddress;
  /** This machine's address (also before it is a member). */
  readonly selfSpec: MemberSpec;

  constructor(
    env: NodeEnv,
    readonly transport: Transport,
  ) {
    this.config = env.config;
    this.self = env.self.id;
    this.membership = env.membership;
    this.rt = env.rt;
    this.log = env.log;
    // The scheduler pushes its view every tick; a few missed ticks under load do not make it worthless.
    const staleAfter = this.config.gossip.failureTimeoutMs + 3 * this.config.gossip.intervalMs;
    this.selfAddress = { id: env.self.id, host: env.self.host, port: env.self.port };
    this.selfSpec = { ...env.self };
    this.health = new HealthView(transport, this.selfAddress, staleAfter, Math.min(1000, this.config.timeouts.requestMs), () => env.rt.clock.monotonic(), (epoch, live) =>
      epoch > this.membership.epoch || (epoch === this.membership.epoch && live < this.membership.layouts.length) ? this.refreshMembership(this.self) : Promise.resolve(),
    );
    this.contextKey = contextKey(env.secret);
  }

  get n(): number {
    return this.config.replication.n;
  }
  get r(): number {
    return this.config.replication.r;
  }
  get w(): number {
    return this.config.replication.w;
  }

  /** Fetch a node's membership record and take it if it is newer (the REST app learns changes so). */
  async refreshMembership(from: string): Promise<void> {
    const { reply } = await this.transport.request(this.peer(from), { type: 'membership_get' }, [], { timeoutMs: this.config.timeouts.requestMs });
    this.membership.adopt(reply.record as MembershipRecord);
  }

  /** The rings of the live layouts, oldest first (one, unless partitions are moving). */
  get liveRings(): readonly Ring[] {
    const m = this.membership;
    if (!this.rings || this.rings.epoch !== m.epoch || this.rings.live !== m.layouts.length) {
      this.rings = { epoch: m.epoch, live: m.layouts.length, rings: m.layouts.map((l) => new Ring({ version: l.epoch, replicas: l.replicas })) };
    }
    return this.rings.rings;
  }

  /** The newest layout's ring: where partitions are going. */
  get ring(): Ring {
    return this.liveRings.at(-1) as Ring;
  }

  /**
   * The ring reads follow: the oldest live layout's, whose owners hold every
   * acknowledged write until the move to the newer ones is done (writes go to
   * the owners in every live layout, see writeLists).
   */
  get readRing(): Ring {
    return this.liveRings[0] as Ring;
  }

  peer(id: string): PeerAddress {
    // This machine itself, also before it is a member (a node that has started but not yet joined).
    if (id === this.self) return this.selfAddress;
    const a = this.membership.address(id);
    if (!a) throw new RingstoreError(ErrorCode.INTERNAL, `unknown node ${id}`);
    return a;
  }

  get nodeIds(): string[] {
    return this.membership.ids;
  }

  /**
   * Every node in the order a key's replicas are chosen. Files: clockwise on
   * the ring from the key's hash; the first N are its preference list, the
   * rest the fall-backs of a sloppy quorum. Bucket records: every node is an
   * owner, starting from this one.
   */
  walk(ns: string, key: string): readonly string[] {
    if (ns === BUCKETS_NS) {
      const ids = this.nodeIds;
      const i = Math.max(0, ids.indexOf(this.self));
      return [...ids.slice(i), ...ids.slice(0, i)];
    }
    const k = objectKey(ns, key);
    const rings = this.liveRings;
    if (rings.length === 1) return (rings[0] as Ring).walk(k);
    // The read layout's owners, then those of newer layouts, then the fall-backs of the newest.
    const out: string[] = [];
    for (const r of rings) for (const m of r.preferenceList(k)) if (!out.includes(m)) out.push(m);
    for (const m of this.ring.walk(k)) if (!out.includes(m) && this.membership.has(m)) out.push(m);
    return out;
  }

  /** The replicas a key belongs on, as reads find them (the read layout's). */
  preferenceList(ns: string, key: string): string[] {
    if (ns === BUCKETS_NS) return [...this.walk(ns, key)];
    return this.readRing.preferenceList(objectKey(ns, key)).slice(0, this.n);
  }

  /**
   * Writes are coordinated by members only. A machine outside the membership (started to join and not yet
   * added, or left) owns nothing and is let in by no member: a write it coordinated would end as a hint kept
   * on it that nobody takes (the simulator found one stranded on a machine that had left).
   */
  requireMember(): void {
    if (this.membership.knows(this.self)) return;
    throw new RingstoreError(ErrorCode.NOT_A_MEMBER, `${this.self} is not a member of this cluster (epoch ${this.membership.epoch}): write through a member`, {
      details: { epoch: this.membership.epoch, members: this.membership.ids },
    });
  }

  /**
   * The acceptors of a key's register (a lock's): the owners in every live
   * layout together, so that the new owners take part in every decision from
   * the start of a move, and any majority of them meets any other.
   */
  registerOwners(ns: string, key: string): string[] {
    return [...new Set(this.writeLists(ns, key).flat())];
  }

  /**
   * Where a write goes: one owner list per live layout, oldest first. A write
   * is acknowledged once W owners of each have it, so that readers of the old
   * layout and of the new one both find it.
   */
  writeLists(ns: string, key: string): string[][] {
    if (ns === BUCKETS_NS) return [this.preferenceList(ns, key)];
    const k = objectKey(ns, key);
    return this.liveRings.map((r) => r.preferenceList(k).slice(0, this.n));
  }
}
