// The coordinator's view of the cluster: who the nodes are, where a key's
// replicas live, and how to reach them. Any machine's REST app builds one.
import type { ClusterConfig, NodeSpec } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';

export class Cluster {
  readonly ring: Ring;
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
   * The replicas of a key. Files: the first N distinct nodes clockwise on the
   * ring. Bucket records: every node, starting from this one.
   */
  preferenceList(ns: string, key: string): string[] {
    if (ns === BUCKETS_NS) {
      const ids = this.nodeIds;
      const i = Math.max(0, ids.indexOf(this.self));
      return [...ids.slice(i), ...ids.slice(0, i)];
    }
    return this.ring.preferenceList(objectKey(ns, key), this.n);
  }
}
