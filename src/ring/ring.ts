// Consistent hashing with the Dynamo paper's strategy 3: the 32-bit hash space
// is cut into Q equal partitions, and the partitions are dealt out to the
// members of a versioned membership. A key's preference list is the first N
// distinct nodes met walking clockwise from its partition. This module only
// maps keys to nodes; the ring is a pure function of the membership.
import { ringHash } from './hash.js';

/** What a ring is computed from: a membership's version and its member ids in claim order. */
export interface RingMembers {
  readonly version: number;
  readonly nodes: readonly string[];
}

export class Ring {
  readonly membership: RingMembers;
  readonly partitions: number;
  /** owner of each partition */
  readonly owners: readonly string[];
  /** For each partition, every node in the order met walking clockwise from it. */
  private readonly walks: readonly (readonly string[])[];

  constructor(membership: RingMembers, partitions: number) {
    if (membership.nodes.length === 0) throw new Error('a ring needs at least one node');
    if (partitions < membership.nodes.length) throw new Error('a ring needs at least one partition per node');
    this.membership = membership;
    this.partitions = partitions;
    this.owners = claim(membership.nodes, partitions);
    this.walks = this.owners.map((_, p) => this.walkFrom(p));
  }

  /** The partition a hash falls in: partition i covers [i*2^32/Q, (i+1)*2^32/Q). */
  partitionOf(hash: number): number {
    return Math.floor((hash * this.partitions) / 2 ** 32);
  }

  partitionOfKey(key: string): number {
    return this.partitionOf(ringHash(key));
  }

  /** The first n distinct nodes clockwise from the key: where its replicas live. */
  preferenceList(key: string, n: number): string[] {
    return this.walk(key).slice(0, n);
  }

  /** Every node, in clockwise order from the key: the preference list, then the fall-backs a sloppy quorum uses. */
  walk(key: string): readonly string[] {
    return this.walks[this.partitionOfKey(key)] as readonly string[];
  }

  private walkFrom(p: number): string[] {
    const seen: string[] = [];
    for (let i = 0; i < this.partitions && seen.length < this.membership.nodes.length; i++) {
      const owner = this.owners[(p + i) % this.partitions] as string;
      if (!seen.includes(owner)) seen.push(owner);
    }
    return seen;
  }
}

/**
 * Deal Q partitions to the nodes round-robin: every node owns Q/k of them
 * (within one), and any run of k consecutive partitions has k distinct owners,
 * so preference lists never repeat a node.
 */
function claim(nodes: readonly string[], partitions: number): string[] {
  return Array.from({ length: partitions }, (_, p) => nodes[p % nodes.length] as string);
}
