// Quorum writes with a sloppy quorum (Dynamo 4.5, 4.6). One replica of the
// preference list coordinates the version: it mints the dot and stores it
// durably, then the coordinator sends the resulting state to the other owners
// and answers once W nodes hold it. An owner that is down (in this machine's
// down_system.json, or failing now) is replaced by the next healthy node
// clockwise outside the preference list, which keeps the copy as a hint for
// that owner. A write without a context first reads at quorum and supersedes
// what it saw.
import { dotId } from '../clock/dvv.js';
import { ErrorCode, RingstoreError, replicaFailure, type ReplicaFailure } from '../errors.js';
import { BUCKETS_NS, type Chunked, type KeyState, type TxnMeta, type VersionVectorWire } from '../protocol/messages.js';
import { currentUid } from '../replica/records.js';
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
  /** A bucket record: the user creating the bucket. */
  owner?: string | undefined;
  /** The bucket's record, when the caller has just read it at quorum (to check access): not read again. */
  bucketRecord?: KeyState | undefined;
  /** Answer only once every replica has answered or failed (bucket records). */
  waitAll?: boolean;
  /** The client write's id, the same on every attempt (made here if not given). */
  wid?: string;
  /** A chunked file: `body` is its chunk list (its chunks are stored already). */
  chunked?: ChunkedFile | undefined;
  /** A transaction's write (coordinator/transactions.ts). */
  txn?: TxnMeta | undefined;
  /**
   * A strict quorum: W of the key's owners themselves, no hinted stand-in. A read of R owners then
   * always meets it (R + W > N), which a sloppy quorum does not promise until handoff has run; the
   * read-atomic reads of transactions rest on that.
   */
  strict?: boolean;
}

/** A chunked file's version as the coordinator sends it: the chunking, and the file's size and MD5. */
export type ChunkedFile = Chunked & { size: number; etag: string };

export interface HintedCopy {
  node: string;
  for: string;
}

export interface WriteOutcome {
  preferenceList: string[];
  /** Every node that stored the version: owners, then hinted nodes. */
  written: string[];
  /** Owners that were down or failed: their copy went to a hinted node, or is missing for now. */
  down: string[];
  hinted: HintedCopy[];
  failed: ReplicaFailure[];
  /** Each written node's clock for this key after the write. */
  clocks: Array<{ node: string; clock: KeyState['context'] }>;
  version: string;
  /** The coordinating replica's state after the write. */
  state: KeyState;
}

/** Called when the minting replica says the bucket does not exist: repair it if it does, and say whether to retry. */
export type BucketCheck = (node: string, bucket: string) => Promise<boolean>;

interface Stored {
  node: string;
  hintFor?: string;
  clock: KeyState['context'];
}

/**
 * Write one key. A replica that knows a newer membership epoch refuses the
 * write (STALE_EPOCH): the newer membership is fetched from it and the write
 * made again, under the same write id (readers count it once), so that it
 * reaches the owners of every live layout.
 */
export async function writeKey(c: Cluster, req: WriteRequest, bucketCheck?: BucketCheck): Promise<WriteOutcome> {
  c.requireMember();
  const once = { ...req, wid: req.wid ?? c.rt.random.uuid() };
  for (let attempt = 0; ; attempt++) {
    let stale: string | undefined;
    try {
      const outcome = await writeOnce(c, once, bucketCheck);
      stale = outcome.failed.find((f) => f.code === ErrorCode.STALE_EPOCH)?.node;
      if (stale === undefined || attempt >= 2) return outcome;
    } catch (err) {
      if (!(err instanceof RingstoreError) || attempt >= 2) throw err;
      if (err.code === ErrorCode.STALE_EPOCH) stale = typeof err.details?.node === 'string' ? err.details.node : undefined;
      else {
        // Too few replicas took it because they hold a newer epoch (it changed while the write was out): the
        // bench of a join saw a write refused so by every replica but one. Fetched, and written again.
        const failed = (err.details?.failed ?? []) as Array<{ node?: unknown; code?: unknown }>;
        const refused = err.code === ErrorCode.QUORUM_NOT_REACHED ? failed.find((f) => f.code === ErrorCode.STALE_EPOCH) : undefined;
        if (!refused || typeof refused.node !== 'string') throw err;
        stale = refused.node;
      }
    }
    if (stale !== undefined) await c.refreshMembership(stale).catch(() => undefined);
  }
}

async function writeOnce(c: Cluster, req: WriteRequest & { wid: string }, bucketCheck?: BucketCheck): Promise<WriteOutcome> {
  await c.health.current(); // the membership too, if this machine's socket server knows a newer one
  // While partitions move, the owners in every live layout (see Cluster.writeLists). Every message of this
  // write carries the epoch they were chosen under, not the one known when it is sent: a replica that has
  // taken up a newer epoch refuses it (STALE_EPOCH) and the write is made again, so that it cannot land
  // only on old owners after a new owner has copied their partition (simulator seed 2103).
  const epoch = c.membership.epoch;
  const lists = c.writeLists(req.ns, req.key);
  const walk = c.walk(req.ns, req.key);
  const owners = [...new Set(lists.flat())];
  const w = Math.min(c.w, (lists[0] as string[]).length);
  const moving = lists.length > 1;
  // A file is written into the bucket incarnation a quorum knows as live; a replica with an
  // older record refuses it rather than tag it with an incarnation that has ended.
  const bucketRead = req.ns === BUCKETS_NS ? null : req.bucketRecord ? Promise.resolve({ merged: req.bucketRecord }) : readQuorum(c, BUCKETS_NS, req.ns, { bodies: false });
  // Awaited below, after the context read, which may throw first: never leave its failure unhandled.
  bucketRead?.catch(() => undefined);
  const context = req.context ?? (await contextFromQuorum(c, req));
  let uid = req.uid;
  if (bucketRead) {
    uid = currentUid((await bucketRead).merged);
    if (!uid) throw new RingstoreError(ErrorCode.NO_SUCH_BUCKET, `bucket ${req.ns} does not exist`, { details: { bucket: req.ns } });
  }
  const known = await c.health.downSet();
  const downOwners = new Set(owners.filter((n) => known.has(n)));
  // Fall-backs for down owners: the next healthy nodes clockwise, outside the preference list;
  // then those believed down (the belief may be out of date) before the minter keeps the hint.
  const outside = req.strict ? [] : walk.slice(owners.length);
  const fallbacks = [...outside.filter((n) => !known.has(n)), ...outside.filter((n) => known.has(n))];
  const failed: ReplicaFailure[] = [];

  // 1. Mint on the first healthy owner that accepts; if none does, on a fall-back as a hint for an owner.
  let minted: { node: string; hintFor?: string; state: KeyState; dot: readonly [string, number] } | null = null;
  // One id for this client write, on every mint attempt: if a replica that timed out stored it after all, readers see one version.
  const full = { ...req, context, uid, epoch };
  for (const node of owners.filter((n) => !downOwners.has(n))) {
    try {
      minted = { node, ...(await mintWithBucketRetry(c, node, full, bucketCheck)) };
      break;
    } catch (err) {
      if (err instanceof RingstoreError && !isReplicaFault(err)) throw err;
      failed.push(replicaFailure(node, err));
      downOwners.add(node);
    }
  }
  while (!minted && fallbacks.length > 0) {
    const node = fallbacks.shift() as string;
    const hintFor = owners[0] as string;
    try {
      minted = { node, hintFor, ...(await mintWithBucketRetry(c, node, { ...full, hint: hintFor }, bucketCheck)) };
    } catch (err) {
      if (err instanceof RingstoreError && !isReplicaFault(err)) throw err;
      failed.push(replicaFailure(node, err));
    }
  }
  if (!minted) throw quorumError(`write of ${req.key}`, w, [], failed);
  const m = minted;

  // 2. Every other owner gets the new state; an owner that is down or fails gets a hinted copy on a fall-back.
  const bodies: Bodies = new Map();
  if (!req.deleted && req.body.length > 0) bodies.set(dotId(m.dot), req.body);
  const push = async (node: string, hint?: string): Promise<Stored> => {
    const state = await pushState(c, node, req.ns, req.key, m.state, bodies, [m.node], { ...(hint !== undefined ? { hint } : {}), epoch });
    return { node, ...(hint ? { hintFor: hint } : {}), clock: state?.context ?? {} };
  };
  const slot = async (owner: string): Promise<Stored> => {
    if (!downOwners.has(owner)) {
      try {
        return await push(owner);
      } catch (err) {
        failed.push(replicaFailure(owner, err));
        downOwners.add(owner);
        if (req.strict) throw err;
      }
    }
    if (req.strict) throw new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${owner} is believed down, and this write takes no stand-in`);
    for (;;) {
      // When no healthy node is left outside the list (always, for bucket records, which live on every
      // node), the minter keeps the hint: the owner still gets its copy back by handoff. Not a minter that
      // is leaving: once the change settles no member lets it in, and the hint would never be delivered.
      const node = fallbacks.shift() ?? (c.membership.has(m.node) ? m.node : undefined);
      if (node === undefined) throw new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${owner} is down and no member can keep its hinted copy (${m.node} is leaving)`);
      try {
        return await push(node, owner);
      } catch (err) {
        failed.push(replicaFailure(node, err));
        if (node === m.node) throw err;
      }
    }
  };
  const slots = owners.filter((o) => o !== m.node && o !== m.hintFor);
  // A hinted copy kept by the minter is one more copy, but not one more node: it does not count toward W.
  const pushes = await quorum(slots, Math.max(0, w - 1), slot, (stored) => stored.node !== m.node);
  // Answer after W, but give the other replicas a moment: on a healthy cluster they
  // are a millisecond behind, and an answer naming all of them is the more useful one.
  const grace = req.waitAll || moving ? Infinity : c.config.timeouts.writeGraceMs;
  const done = pushes.ok.length + pushes.failed.length === slots.length ? pushes : ((await settleWithin(c, pushes.rest, grace)) ?? pushes);
  if (!req.waitAll) void pushes.rest.then((all) => logLate(c, req.key, all.failed));

  const stored: Stored[] = [{ node: m.node, ...(m.hintFor ? { hintFor: m.hintFor } : {}), clock: m.state.context }, ...done.ok.map((a) => a.value)];
  const written = [...new Set([...owners.filter((o) => stored.some((s) => s.node === o && !s.hintFor)), ...stored.map((s) => s.node)])];
  if (written.length < w) throw quorumError(`write of ${req.key}`, w, written, failed);
  for (const list of moving ? lists : []) {
    // W of each live layout's owners (or the hinted copies standing in for them).
    const copies = new Set(stored.filter((s) => list.includes(s.hintFor ?? s.node)).map((s) => s.hintFor ?? s.node));
    const need = Math.min(c.w, list.length);
    if (copies.size < need) throw quorumError(`write of ${req.key} (partitions are moving: W of the owners in each live layout)`, need, [...copies], failed);
  }
  const clockOf = new Map(stored.map((s) => [s.node, s.clock]));
  return {
    preferenceList: owners,
    written,
    down: owners.filter((o) => downOwners.has(o)),
    hinted: stored.filter((s) => s.hintFor).map((s) => ({ node: s.node, for: s.hintFor as string })),
    failed: failed.filter((f) => !written.includes(f.node)),
    clocks: written.map((node) => ({ node, clock: clockOf.get(node) ?? {} })),
    version: dotId(m.dot),
    state: m.state,
  };
}

/** A write without a context supersedes what a quorum read sees, unless there are too many siblings to do that blindly. */
async function contextFromQuorum(c: Cluster, req: WriteRequest): Promise<VersionVectorWire> {
  const seen = await readQuorum(c, req.ns, req.key, { bodies: false, minimal: true });
  if (req.ns !== BUCKETS_NS && seen.merged.siblings.length > c.config.siblings.max) {
    throw new RingstoreError(
      ErrorCode.TOO_MANY_SIBLINGS,
      `${req.key} has ${seen.merged.siblings.length} concurrent versions (the cap is ${c.config.siblings.max}): ` +
        'GET it, choose or merge the versions, and write the result with the X-Context header (or context form field) the GET returned',
      { details: { siblings: seen.merged.siblings.length, max: c.config.siblings.max } },
    );
  }
  return seen.merged.context;
}

async function mintWithBucketRetry(c: Cluster, node: string, req: WriteRequest & { context: VersionVectorWire; hint?: string }, bucketCheck?: BucketCheck) {
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
  return (
    err.code === ErrorCode.PEER_UNAVAILABLE ||
    err.code === ErrorCode.PEER_TIMEOUT ||
    err.code === ErrorCode.INTERNAL ||
    err.code === ErrorCode.MISSING_BODIES ||
    err.code === ErrorCode.FRAME_TOO_LARGE ||
    err.code === ErrorCode.BAD_FRAME ||
    err.code === ErrorCode.BAD_MESSAGE ||
    err.code === ErrorCode.INSUFFICIENT_STORAGE ||
    err.code === ErrorCode.DISK_ERROR ||
    err.code === ErrorCode.READ_ONLY
  );
}

function logLate(c: Cluster, key: string, failed: ReplicaFailure[]): void {
  for (const f of failed) c.log.warn('replica missed a write', { key, node: f.node, error: f.message });
}

function settleWithin<T>(c: Cluster, p: Promise<T>, ms: number): Promise<T | null> {
  if (ms === Infinity) return p;
  return new Promise((resolve) => {
    const t = c.rt.timers.setTimeout(() => resolve(null), ms);
    void p.then((v) => {
      t.cancel();
      resolve(v);
    });
  });
}
