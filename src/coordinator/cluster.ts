// The coordinator's view of the cluster: who the nodes are, where a key's
// replicas live, and how to reach them. Any machine's REST app builds one.
import type { ClusterConfig, NodeSpec } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';
import { HealthView } from './health.js';
import { contextKey } from '../rest/context-header.js';
import { clusterSecret } from '../config.js';
import { performance } from 'node:perf_hooks';

export class Cluster {
  readonly ring: Ring;
  readonly health: HealthView;
  /** Signs the causal contexts handed to clients. */
  readonly contextKey: Buffer;
  private readonly byId: Map<string, NodeSpec>;

  constructor(
    readonly config: ClusterConfig,
    /** The node whose REST app this is: named as `coordinator` in answers. */
    readonly self: string,
    readonly transport: Transport,
    readonly log: Logger,
  ) {
    this.ring = new Ring({ version: 1, nodes: config.nodes.map((n) => n.id) }, config.ringSize);
    this.byId = new Map(config.nodes.map((n) => [n.id, n]));
    // The scheduler rewrites the view every tick; a few missed ticks under load do not make it worthless.
    const staleAfter = config.gossip.failureTimeoutMs + 3 * config.gossip.intervalMs;
    this.health = new HealthView(transport, this.peer(self), staleAfter, Math.min(1000, config.timeouts.requestMs), () => performance.now());
    this.contextKey = contextKey(clusterSecret(config));
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
    const n = this.byId.get(id);
    if (!n) throw new RingstoreError(ErrorCode.INTERNAL, `unknown node ${id}`);
    return { id: n.id, host: n.host, port: n.port };
  }

  get nodeIds(): string[] {
    return this.config.nodes.map((n) => n.id);
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
