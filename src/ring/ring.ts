// Consistent hashing with the Dynamo paper's strategy 3: the 32-bit hash space
// is cut into Q equal partitions, and a layout (layout.ts) says which N members
// hold each partition's replicas. A key's preference list is its partition's
// replica list; the fall-backs a sloppy quorum uses are the other members, in
// the order met walking clockwise through the following partitions. This module
// only maps keys to nodes; the ring is a pure function of the layout.
import { partitionOf, partitionOfHash } from './hash.js';
import { initialLayout } from './layout.js';

/** What a cluster's first ring is computed from: a membership's version and its member ids in claim order. */
export interface RingMembers {
  readonly version: number;
  readonly nodes: readonly string[];
}

/** One layout version: each partition's replicas. */
export interface RingLayout {
  readonly version: number;
  readonly replicas: readonly (readonly string[])[];
}

export class Ring {
  readonly version: number;
  readonly partitions: number;
  /** The first replica of each partition. */
  readonly owners: readonly string[];
  /** For each partition, the members holding its replicas, in preference order. */
  readonly replicas: readonly (readonly string[])[];
  /** For each partition, every member: its replicas, then the others clockwise. */
  private readonly walks: readonly (readonly string[])[];

  /**
   * The ring of one layout version, or of a cluster's first membership (partitions
   * dealt round-robin, see layout.ts; every member in each list, so that
   * preferenceList(key, n) takes the first n).
   */
  constructor(source: RingMembers | RingLayout, partitions?: number) {
    this.version = source.version;
    this.replicas = 'replicas' in source ? source.replicas : initialLayout(source.nodes, partitions ?? 0, source.nodes.length).replicas;
    this.partitions = this.replicas.length;
    this.owners = this.replicas.map((r) => r[0] as string);
    this.walks = this.replicas.map((_, p) => this.walkFrom(p));
  }

  /** The partition a hash falls in: partition i covers [i*2^32/Q, (i+1)*2^32/Q). */
  partitionOf(hash: number): number {
    return partitionOfHash(hash, this.partitions);
  }

  partitionOfKey(key: string): number {
    return partitionOf(key, this.partitions);
  }

  /** The first n of the key's replicas (all of them by default): where its copies live. */
  preferenceList(key: string, n?: number): string[] {
    const list = this.replicas[this.partitionOfKey(key)] as readonly string[];
    return list.slice(0, n ?? list.length);
  }

  /** Every member, from the key: the preference list, then the fall-backs a sloppy quorum uses. */
  walk(key: string): readonly string[] {
    return this.walks[this.partitionOfKey(key)] as readonly string[];
  }

  private walkFrom(p: number): string[] {
    const seen: string[] = [];
    for (let i = 0; i < this.partitions; i++) {
      for (const m of this.replicas[(p + i) % this.partitions] as readonly string[]) if (!seen.includes(m)) seen.push(m);
    }
    return seen;
  }
}
