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
import type { Membership } from '../ring/membership.js';
import { Ring } from '../ring/ring.js';
import type { Runtime } from '../runtime/runtime.js';
import { HealthView } from './health.js';

export class Cluster {
  readonly ring: Ring;
  readonly health: HealthView;
  /** Signs the causal contexts handed to clients. */
  readonly contextKey: Buffer;
  readonly config: ClusterConfig;
  /** The node whose REST app this is: named as `coordinator` in answers. */
  readonly self: string;
  readonly membership: Membership;
  readonly rt: Runtime;
  readonly log: Logger;

  constructor(
    env: NodeEnv,
    readonly transport: Transport,
  ) {
    this.config = env.config;
    this.self = env.self.id;
    this.membership = env.membership;
    this.rt = env.rt;
    this.log = env.log;
    this.ring = new Ring({ version: this.membership.version, nodes: this.membership.ids }, this.config.ringSize);
    // The scheduler pushes its view every tick; a few missed ticks under load do not make it worthless.
    const staleAfter = this.config.gossip.failureTimeoutMs + 3 * this.config.gossip.intervalMs;
    this.health = new HealthView(transport, this.peer(this.self), staleAfter, Math.min(1000, this.config.timeouts.requestMs), () => env.rt.clock.monotonic());
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

  peer(id: string): PeerAddress {
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
    return this.ring.walk(objectKey(ns, key));
  }

  /** The replicas a key belongs on. */
  preferenceList(ns: string, key: string): string[] {
    const walk = this.walk(ns, key);
    return ns === BUCKETS_NS ? [...walk] : walk.slice(0, this.n);
  }
}
