// What every socket handler of a node is given: its storage and its view of
// the buckets. Handlers get this object, never globals, so tests can build one.
import type { ClusterConfig } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { objectKey, partitionOf } from '../ring/hash.js';
import type { Membership } from '../ring/membership.js';
import type { Timers } from '../runtime/runtime.js';
import type { ChunkedFiles } from '../replica/chunked-files.js';
import type { ChunkStore } from '../storage/chunks.js';
import type { IncompleteVersions } from './incomplete.js';
import type { Identity } from '../storage/identity.js';
import type { Journal } from '../storage/journal.js';
import type { PaxosStore } from '../storage/paxos-store.js';
import type { MerkleIndex } from '../replica/merkle-index.js';
import type { Store } from '../storage/store.js';
import type { BucketRegistry } from './buckets.js';
import type { DiskHealth } from './disk-health.js';
import type { GossipRelay } from './gossip-relay.js';
import type { HintStores } from './hints.js';
import type { MembershipKeeper } from './membership-keeper.js';
import type { SchedulerView } from './scheduler-view.js';

export interface NodeContext {
  config: ClusterConfig;
  membership: Membership;
  /** Keeps the membership on disk (membership.json) and takes newer records. */
  keeper: MembershipKeeper;
  identity: Identity;
  journal: Journal;
  store: Store;
  /** The chunks of large files held here. */
  chunks: ChunkStore;
  /** The keys with a version in chunks, for the chunk scrub. */
  chunkedFiles: ChunkedFiles;
  /** Versions the chunk scrub found missing chunks. */
  incomplete: IncompleteVersions;
  /** The Merkle leaves of `store`, kept as it changes (anti-entropy). */
  merkle: MerkleIndex;
  buckets: BucketRegistry;
  hints: HintStores;
  gossip: GossipRelay;
  /** The scheduler's latest view of the cluster, for the REST app. */
  schedulerView: SchedulerView;
  /** Whether this machine's disk takes writes (full, failing), told to peers with the heartbeat. */
  disk: DiskHealth;
  /** Log lines this process could not write. */
  logDropped: () => number;
  /** Paxos acceptor state (compare-and-set registers: locks, transaction decisions). */
  paxos: PaxosStore;
  /** Writes let in and not yet stored, by the epoch their coordinator placed them under. */
  inflight: InflightWrites;
  /** For requests that wait (a Paxos watch). */
  timers: Timers;
  log: Logger;
}

/**
 * Writes let in under an epoch and not yet stored. A node tells in its
 * heartbeat the epoch it has taken up: not its membership's while a write
 * placed under an older one is still being stored here, since a new owner
 * starts copying a partition once every node has taken up the new epoch, and
 * must find every such write on the old owners (Garage's layout "ack" waits
 * for in-flight writes the same way).
 */
export class InflightWrites {
  private readonly byEpoch = new Map<number, number>();

  /** Count a write placed under `epoch` until the returned function is called. */
  admit(epoch: number): () => void {
    this.byEpoch.set(epoch, (this.byEpoch.get(epoch) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.byEpoch.get(epoch) ?? 1) - 1;
      if (left > 0) this.byEpoch.set(epoch, left);
      else this.byEpoch.delete(epoch);
    };
  }

  /** The epoch taken up: `held`, or the oldest epoch a write still being stored was placed under. */
  takenUp(held: number): number {
    let e = held;
    for (const k of this.byEpoch.keys()) e = Math.min(e, k);
    return e;
  }
}

/**
 * A write from a coordinator that knows an older membership epoch than this
 * node is refused: it may not reach the owners of the newer layout, and a
 * partition being copied to them would miss it. The coordinator fetches the
 * newer membership from this node and writes again. A write let in is counted
 * until `store` has finished (see InflightWrites).
 */
export async function admitWrite<T>(ctx: NodeContext, epoch: number | undefined, store: () => Promise<T>): Promise<T> {
  if (epoch !== undefined && epoch < ctx.membership.epoch) {
    throw new RingstoreError(ErrorCode.STALE_EPOCH, `${ctx.identity.node} holds membership epoch ${ctx.membership.epoch}, newer than the writer's ${epoch}`, {
      details: { node: ctx.identity.node, epoch: ctx.membership.epoch },
    });
  }
  const stored = ctx.inflight.admit(epoch ?? ctx.membership.epoch);
  try {
    return await store();
  } finally {
    stored();
  }
}

/**
 * Before this node mints a version of a file into its own data: it must own
 * the key in a live layout of its membership, unless the coordinator placed
 * the write under a newer epoch (this node has yet to hear of it). A
 * coordinator of the same epoch whose record still has the layout this node
 * has trimmed (and whose partitions it has dropped) is refused like an older
 * one: a version minted here over a dropped key would have a context that
 * claims this node's earlier dots of it, and hide them wherever it is synced
 * (simulator seed 1778: a write acknowledged before the move was lost so).
 */
/** Whether this node owns a key in one of the live layouts of the membership it holds. */
export function ownsInLiveLayout(ctx: NodeContext, ns: string, key: string): boolean {
  const rec = ctx.membership.record;
  const partition = partitionOf(objectKey(ns, key), rec.partitions);
  return rec.layouts.some((l) => l.replicas[partition]?.includes(ctx.identity.node));
}

export function requireOwner(ctx: NodeContext, ns: string, key: string, epoch: number | undefined): void {
  if (epoch === undefined || epoch > ctx.membership.epoch) return;
  const rec = ctx.membership.record;
  const self = ctx.identity.node;
  if (ownsInLiveLayout(ctx, ns, key)) return;
  throw new RingstoreError(ErrorCode.STALE_EPOCH, `${ctx.identity.node} owns ${key} in no live layout of epoch ${rec.epoch} (${rec.layouts.length} live): the coordinator's membership is older`, {
    details: { node: self, epoch: rec.epoch },
  });
}

/** Where a write goes: the node's own data, or the hint store of the owner it stands in for. */
export function targetStore(ctx: NodeContext, hint: string | undefined): Store {
  if (!hint || hint === ctx.identity.node) return ctx.store;
  if (!ctx.membership.knows(hint)) {
    throw new RingstoreError(ErrorCode.BAD_MESSAGE, `a hint for ${hint}, which is not a member of this cluster`);
  }
  return ctx.hints.store(hint);
}
