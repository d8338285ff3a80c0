// Quorum writes. One replica of the preference list coordinates the version:
// it mints the dot and stores it durably, then the coordinator sends the
// resulting state to the other replicas and answers once W hold it. A write
// without a context first reads at quorum and supersedes what it saw.
import { dotId } from '../clock/dvv.js';
import { ErrorCode, RingstoreError, replicaFailure, type ReplicaFailure } from '../errors.js';
import { BUCKETS_NS, type KeyState, type VersionVectorWire } from '../protocol/messages.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';
import { quorumError, readQuorum } from './read.js';
import { pushState, updateReplica, type Bodies } from './replicas.js';

export interface WriteRequest {
  ns: string;
  key: string;
  /** The client's causal context; null for a write that supersedes what the quorum read saw. */
  context: VersionVectorWire | null;
  deleted: boolean;
  body: Buffer;
  contentType?: string | undefined;
  uid?: string | undefined;
  /** Answer only once every replica has answered or failed (bucket records). */
  waitAll?: boolean;
}

export interface WriteOutcome {
  preferenceList: string[];
  written: string[];
  failed: ReplicaFailure[];
  /** Each written replica's clock for this key after the write. */
  clocks: Array<{ node: string; clock: KeyState['context'] }>;
  version: string;
  /** The coordinating replica's state after the write. */
  state: KeyState;
}

/** Called when the minting replica says the bucket does not exist: repair it if it does, and say whether to retry. */
export type BucketCheck = (node: string, bucket: string) => Promise<boolean>;

export async function writeKey(c: Cluster, req: WriteRequest, bucketCheck?: BucketCheck): Promise<WriteOutcome> {
  const targets = c.preferenceList(req.ns, req.key);
  const w = Math.min(c.w, targets.length);
  let context = req.context;
  if (context === null) {
    const seen = await readQuorum(c, req.ns, req.key, { bodies: false });
    if (req.ns !== BUCKETS_NS && seen.merged.siblings.length > c.config.siblings.max) {
      throw new RingstoreError(
        ErrorCode.TOO_MANY_SIBLINGS,
        `${req.key} has ${seen.merged.siblings.length} concurrent versions (the cap is ${c.config.siblings.max}): ` +
          'GET it, choose or merge the versions, and write the result with the X-Context header (or context form field) the GET returned',
        { details: { siblings: seen.merged.siblings.length, max: c.config.siblings.max } },
      );
    }
    context = seen.merged.context;
  }

  // Mint on the first replica that accepts it.
  const failed: ReplicaFailure[] = [];
  let minted: { node: string; state: KeyState; dot: readonly [string, number] } | null = null;
  for (const node of targets) {
    try {
      const r = await mintWithBucketRetry(c, node, { ...req, context }, bucketCheck);
      minted = { node, ...r };
      break;
    } catch (err) {
      if (err instanceof RingstoreError && !isReplicaFault(err)) throw err;
      failed.push(replicaFailure(node, err));
    }
  }
  if (!minted) throw quorumError(`write of ${req.key}`, w, [], failed);
  const m = minted;

  const bodies: Bodies = new Map();
  if (!req.deleted && req.body.length > 0) bodies.set(dotId(m.dot), req.body);
  const others = targets.filter((n) => n !== m.node);
  const pushes = await quorum(others, Math.max(0, w - 1), (node) => pushState(c, node, req.ns, req.key, m.state, bodies, [m.node]));
  // Answer after W, but give the other replicas a moment: on a healthy cluster they
  // are a millisecond behind, and an answer naming all of them is the more useful one.
  const grace = req.waitAll ? Infinity : c.config.timeouts.writeGraceMs;
  const done = pushes.ok.length + pushes.failed.length === others.length ? pushes : ((await settleWithin(pushes.rest, grace)) ?? pushes);
  if (!req.waitAll) void pushes.rest.then((all) => logLate(c, req.key, all.failed));
  const okNodes = new Set([m.node, ...done.ok.map((a) => a.node)]);
  const written = targets.filter((n) => okNodes.has(n));
  const allFailed = [...failed.filter((f) => !okNodes.has(f.node)), ...done.failed];
  if (written.length < w) throw quorumError(`write of ${req.key}`, w, written, allFailed);
  const clockOf = new Map<string, KeyState['context']>([[m.node, m.state.context]]);
  for (const a of done.ok) if (a.value) clockOf.set(a.node, a.value.context);
  return {
    preferenceList: targets,
    written,
    failed: allFailed,
    clocks: written.map((node) => ({ node, clock: clockOf.get(node) ?? {} })),
    version: dotId(m.dot),
    state: m.state,
  };
}

async function mintWithBucketRetry(c: Cluster, node: string, req: WriteRequest & { context: VersionVectorWire }, bucketCheck?: BucketCheck) {
  try {
    return await updateReplica(c, node, req);
  } catch (err) {
    const retry = err instanceof RingstoreError && err.code === ErrorCode.NO_SUCH_BUCKET && bucketCheck && (await bucketCheck(node, req.ns));
    if (!retry) throw err;
    return await updateReplica(c, node, req);
  }
}

/** Failures that mean "this replica could not take part", as opposed to "this request is wrong". */
export function isReplicaFault(err: RingstoreError): boolean {
  return err.code === ErrorCode.PEER_UNAVAILABLE || err.code === ErrorCode.PEER_TIMEOUT || err.code === ErrorCode.INTERNAL || err.code === ErrorCode.MISSING_BODIES;
}

function logLate(c: Cluster, key: string, failed: ReplicaFailure[]): void {
  for (const f of failed) c.log.warn('replica missed a write', { key, node: f.node, error: f.message });
}

function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | null> {
  if (ms === Infinity) return p;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
