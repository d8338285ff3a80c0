// Buckets are versioned records replicated to every node (namespace $buckets):
// creating writes a record naming a fresh incarnation uid, deleting writes a
// tombstone. Every node applies what it receives, so a node that missed a
// create or delete catches up by read repair, and a stale node cannot bring a
// deleted bucket back.
import { ErrorCode, RingstoreError } from '../errors.js';
import { liveUids } from '../replica/records.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';
import { mergeStates, quorumError, readQuorum, type QuorumRead } from './read.js';
import { listReplica, pushState } from './replicas.js';
import { writeKey, type BucketCheck, type WriteOutcome } from './write.js';

export function readBucket(c: Cluster, bucket: string): Promise<QuorumRead> {
  return readQuorum(c, BUCKETS_NS, bucket, { bodies: false });
}

export function noSuchBucket(bucket: string): RingstoreError {
  return new RingstoreError(ErrorCode.NO_SUCH_BUCKET, `bucket ${bucket} does not exist`, { details: { bucket } });
}

/** Create a bucket, owned by `owner` (a user) or by nobody (open to all); nothing changes if it exists. */
export async function createBucket(c: Cluster, bucket: string, owner: string | null = null): Promise<{ created: boolean; outcome: WriteOutcome | null }> {
  const seen = await readBucket(c, bucket);
  if (liveUids(seen.merged).size > 0) return { created: false, outcome: null };
  // The new incarnation's uid is the id of the version that creates it (minted by the replica).
  const outcome = await writeKey(c, { ns: BUCKETS_NS, key: bucket, context: seen.merged.context, deleted: false, body: Buffer.alloc(0), waitAll: true, ...(owner ? { owner } : {}) });
  return { created: true, outcome };
}

export async function deleteBucket(c: Cluster, bucket: string): Promise<WriteOutcome> {
  const seen = await readBucket(c, bucket);
  if (liveUids(seen.merged).size === 0) throw noSuchBucket(bucket);
  return writeKey(c, { ns: BUCKETS_NS, key: bucket, context: seen.merged.context, deleted: true, body: Buffer.alloc(0), waitAll: true });
}

export interface BucketInfo {
  name: string;
  created: string;
  /** The user that owns it (null: open to all). */
  owner: string | null;
}

export async function listBuckets(c: Cluster): Promise<BucketInfo[]> {
  const targets = c.nodeIds;
  const need = Math.min(c.r, targets.length);
  const q = await quorum(targets, need, (node) => listReplica(c, node, BUCKETS_NS));
  if (q.ok.length < need) throw quorumError('bucket list', need, q.ok.map((a) => a.node), q.failed);
  const byName = new Map<string, Array<Parameters<typeof mergeStates>[0][number]>>();
  for (const a of q.ok) for (const e of a.value) byName.set(e.key, [...(byName.get(e.key) ?? []), e.state]);
  const out: BucketInfo[] = [];
  for (const [name, states] of byName) {
    const merged = mergeStates(states);
    const live = merged.siblings.filter((s) => !s.deleted);
    if (live.length === 0) continue;
    // The incarnation writes go to (the least uid) says who owns the bucket.
    const current = [...live].sort((a, b) => ((a.uid ?? '') < (b.uid ?? '') ? -1 : 1))[0];
    out.push({ name, created: new Date(Math.min(...live.map((s) => s.ts))).toISOString(), owner: current?.owner ?? null });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** When a replica refuses a write for want of the bucket: if the bucket exists, give the replica its record and retry. */
export const repairBucketRecord =
  (c: Cluster): BucketCheck =>
  async (node, bucket) => {
    const seen = await readBucket(c, bucket);
    if (liveUids(seen.merged).size === 0) return false;
    await pushState(c, node, BUCKETS_NS, bucket, seen.merged, new Map(), []);
    c.log.info('bucket record repaired', { bucket, node });
    return true;
  };
