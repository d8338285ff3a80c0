// Transactions (issue 16; the design and its reasons are in docs/transactions.md):
// several files written all or nothing, and read so that a committed
// transaction is seen whole or not at all.
//  - An intent per file, in the file's compare-and-set register of space
//    txn:<bucket>, holds the file for one transaction and keeps its prepared
//    content on a majority of the file's owners.
//  - The transaction record, a register at $txns/<id>, is written once, by
//    CAS: committed by the coordinator, or aborted by whoever finds the
//    transaction stalled. The decision is durable before any file changes.
//  - Each file's version is then written as any write is, carrying the
//    transaction's id and write set, and its intent released.
// Nobody waits on a transaction: a held file is a 409 (or, if its intent is
// older than transactions.timeoutMs, settled from the record first).
import { covers } from '../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Sibling, TxnMeta, VersionVectorWire } from '../protocol/messages.js';
import { failpoint } from '../runtime/failpoint.js';
import { validateFileName } from '../storage/names.js';
import { repairBucketRecord } from './buckets.js';
import { compareAndSet, readRegister, tooFewOwners } from './cas.js';
import type { Cluster } from './cluster.js';
import { readFile, versionBody, type FileRead } from './files.js';
import { checkLock } from './locks.js';
import { writeKey, type WriteOutcome } from './write.js';

/** Where transaction records are placed on the ring (a system namespace: never a bucket name). */
export const TXNS_NS = '$txns';
const RECORD_SPACE = 'txn:$txns';
const intentSpace = (bucket: string): string => `txn:${bucket}`;
/** Rounds of a read-atomic read before it gives up (TXN_READ_BUSY). */
const READ_ROUNDS = 4;

export interface TxnOp {
  op: 'put' | 'delete';
  bucket: string;
  file: string;
  /** A put's bytes. */
  content: Buffer;
  /** The client's context for this file (from a read); null: supersede what is there now. */
  context: VersionVectorWire | null;
}

export interface FileRef {
  bucket: string;
  file: string;
}

/** A file's intent: held for `txn`, with what it will write. */
interface Intent {
  txn: string;
  /** When it was taken (this REST app's wall clock, ms): past transactions.timeoutMs anyone may settle it. */
  at: number;
  deleted: boolean;
  /** The content, base64. */
  content: string;
  /** The context the version is written with: the client's, or that of the transaction's read of the file. */
  context: VersionVectorWire;
  files: FileRef[];
}

interface TxnRecord {
  state: 'committed' | 'aborted';
  at: number;
}

export interface TxnFileResult extends FileRef {
  /** The write's outcome, once applied; absent while recovery still has to apply it. */
  outcome?: WriteOutcome;
}

export interface TxnResult {
  txn: string;
  results: TxnFileResult[];
}

function asIntent(v: unknown): Intent | null {
  return v !== null && typeof v === 'object' && typeof (v as Intent).txn === 'string' ? (v as Intent) : null;
}

function asRecord(v: unknown): TxnRecord | null {
  return v !== null && typeof v === 'object' && ((v as TxnRecord).state === 'committed' || (v as TxnRecord).state === 'aborted') ? (v as TxnRecord) : null;
}

function conflict(f: FileRef, why: string, details: Record<string, unknown> & { txn: string }): RingstoreError {
  return new RingstoreError(ErrorCode.TXN_CONFLICT, `${f.bucket}/${f.file}: ${why}; the transaction was aborted and nothing was written`, { details: { bucket: f.bucket, file: f.file, ...details } });
}

const sameFile = (a: FileRef, b: FileRef): boolean => a.bucket === b.bucket && a.file === b.file;
const byName = (a: FileRef, b: FileRef): number => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : a.file < b.file ? -1 : a.file > b.file ? 1 : 0);

/** Check a transaction's shape against the config's limits (the REST app has parsed it). */
export function checkOps(c: Cluster, ops: readonly TxnOp[]): void {
  const { maxFiles, maxFileBytes, maxBytes } = c.config.transactions;
  if (ops.length === 0) throw new RingstoreError(ErrorCode.BAD_REQUEST, 'a transaction needs at least one op');
  if (ops.length > maxFiles) throw new RingstoreError(ErrorCode.TOO_LARGE, `a transaction writes at most ${maxFiles} files (transactions.maxFiles); this one has ${ops.length}`);
  let total = 0;
  for (const [i, op] of ops.entries()) {
    validateFileName(op.file);
    if (ops.findIndex((o) => sameFile(o, op)) !== i) throw new RingstoreError(ErrorCode.BAD_REQUEST, `${op.bucket}/${op.file} is in the transaction twice`);
    if (op.content.length > maxFileBytes) throw new RingstoreError(ErrorCode.TOO_LARGE, `${op.bucket}/${op.file}: ${op.content.length} bytes, over transactions.maxFileBytes (${maxFileBytes})`);
    total += op.content.length;
  }
  if (total > maxBytes) throw new RingstoreError(ErrorCode.TOO_LARGE, `a transaction's content is at most ${maxBytes} bytes (transactions.maxBytes); this one has ${total}`);
}

/**
 * Commit a transaction: every op or none. Throws TXN_CONFLICT (nothing
 * written) when a file is held by another transaction or a given context is
 * stale; a quorum error before the decision leaves intents that recovery
 * aborts after transactions.timeoutMs.
 */
export async function commitTransaction(c: Cluster, ops: readonly TxnOp[]): Promise<TxnResult> {
  c.requireMember();
  checkOps(c, ops);
  const txn = c.rt.random.uuid();
  const files: FileRef[] = ops.map((o) => ({ bucket: o.bucket, file: o.file })).sort(byName);
  const taken: FileRef[] = [];
  const intents = new Map<string, Intent>();
  try {
    // Files in one order for every transaction, so two never each wait for the other's next file.
    for (const f of files) {
      const op = ops.find((o) => sameFile(o, f)) as TxnOp;
      // The context the file's version is written with, fixed in the intent so that every writer of it (a
      // recoverer too) writes the same version: the client's, or that of a read now.
      const context = op.context ?? (await readFile(c, f.bucket, f.file, false, undefined, true)).read.merged.context;
      const intent: Intent = {
        txn,
        at: c.rt.clock.now(),
        deleted: op.op === 'delete',
        content: op.op === 'delete' ? '' : op.content.toString('base64'),
        context,
        files,
      };
      // Counted as taken before the CAS answers: one that fails may have been written all the same (the
      // release below is conditional on the intent naming this transaction).
      taken.push(f);
      await takeIntent(c, f, intent, txn);
      failpoint('txn.intent-taken');
      intents.set(key(f), intent);
      // Read again, holding the file: a transaction that let it go did so after writing it, so this read
      // sees its version, and a context that did not see it is stale.
      const { read, siblings } = await readFile(c, f.bucket, f.file, false, undefined, true);
      await checkLock(c, f.bucket, f.file, undefined);
      if (siblings.some((s) => !covers(context, s.dot))) {
        if (op.context) throw conflict(f, 'the context given is stale: the file has versions it did not see', { reason: 'stale_context', txn });
        // Written between the first read and the intent: the intent takes the newer context.
        intent.context = read.merged.context;
        await replaceIntent(c, f, txn, intent);
      }
    }
  } catch (err) {
    // Undecided, so nobody may commit it now: abort it outright and let go of what it held.
    await decide(c, txn, 'aborted').catch(() => undefined);
    await Promise.all(taken.map((f) => releaseIntent(c, f, txn).catch(() => undefined)));
    throw err;
  }
  failpoint('txn.prepared');
  // The decision, durable on a majority before any file changes. A recoverer that found this transaction
  // stalled may have aborted it first: then nothing is written.
  let decided: TxnRecord['state'];
  try {
    decided = await decide(c, txn, 'committed');
  } catch (err) {
    // The proposal may have reached some acceptors, and whoever decides next finishes it: not a failure.
    throw new RingstoreError(ErrorCode.OUTCOME_UNKNOWN, `transaction ${txn}: its decision may or may not have been written (${(err as Error).message}); it ends committed or aborted on every file within transactions.timeoutMs`, { details: { txn } });
  }
  failpoint('txn.decided');
  if (decided !== 'committed') {
    await Promise.all(taken.map((f) => releaseIntent(c, f, txn).catch(() => undefined)));
    throw conflict(files[0] as FileRef, `transaction ${txn} was aborted by a recoverer (it stayed undecided past ${c.config.transactions.timeoutMs} ms)`, { reason: 'timed_out', txn });
  }
  const results = await Promise.all(
    files.map(async (f): Promise<TxnFileResult> => {
      try {
        const outcome = await writeIntent(c, f, intents.get(key(f)) as Intent);
        failpoint('txn.applied'); // the first file written, the others on their way: half delivered
        return { ...f, outcome };
      } catch (err) {
        // Committed: the intent stays, and recovery applies it.
        c.log.warn('transaction committed, a file not written yet: recovery will', { txn, bucket: f.bucket, file: f.file, error: (err as Error).message });
        return { ...f };
      }
    }),
  );
  failpoint('txn.written');
  // The files are let go only once every one is written: a transaction that takes one of them next starts
  // after all of this one's writes are on their write quorums (recovery lets go of what is left).
  if (results.every((r) => r.outcome)) await Promise.all(files.map((f) => releaseIntent(c, f, txn).catch(() => undefined)));
  return { txn, results };
}

const key = (f: FileRef): string => `${f.bucket}\u0000${f.file}`;

/** Hold a file for `intent.txn`: a file held by another transaction is a conflict, or settled first if that one stalled. */
async function takeIntent(c: Cluster, f: FileRef, intent: Intent, txn: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const holder = await compareAndSet(c, intentSpace(f.bucket), { ns: f.bucket, key: f.file }, (current) => {
      const held = asIntent(current);
      return held && held.txn !== intent.txn ? { result: held } : { write: intent, result: null };
    });
    if (holder === null) return;
    const stalled = c.rt.clock.now() - holder.at > c.config.transactions.timeoutMs;
    if (!stalled || attempt > 0) throw conflict(f, `held by transaction ${holder.txn}`, { reason: 'held', holder: holder.txn, txn });
    await settleIntent(c, f, holder);
  }
}

/** Let go of a file held for `txn` (nothing if it is not). */
function releaseIntent(c: Cluster, f: FileRef, txn: string): Promise<void> {
  return replaceIntent(c, f, txn, null);
}

/** Replace the intent of a file held for `txn` by `next` (nothing if the file is not held for it). */
async function replaceIntent(c: Cluster, f: FileRef, txn: string, next: Intent | null): Promise<void> {
  await compareAndSet(c, intentSpace(f.bucket), { ns: f.bucket, key: f.file }, (current) => (asIntent(current)?.txn === txn ? { write: next, result: null } : { result: null }));
}

/** Write the transaction's decision unless one is written; the decision that stands. */
async function decide(c: Cluster, txn: string, state: TxnRecord['state']): Promise<TxnRecord['state']> {
  return compareAndSet(c, RECORD_SPACE, { ns: TXNS_NS, key: txn }, (current) => {
    const known = asRecord(current);
    return known ? { result: known.state } : { write: { state, at: c.rt.clock.now() } satisfies TxnRecord, result: state };
  });
}

/** Write a committed transaction's version of one file, then let the file go (recovery: file by file). */
async function applyIntent(c: Cluster, f: FileRef, intent: Intent): Promise<WriteOutcome> {
  const outcome = await writeIntent(c, f, intent);
  await releaseIntent(c, f, intent.txn);
  return outcome;
}

/** Write a committed transaction's version of one file. */
async function writeIntent(c: Cluster, f: FileRef, intent: Intent): Promise<WriteOutcome> {
  const meta: TxnMeta = { id: intent.txn, files: intent.files };
  const outcome = await writeKey(
    c,
    // The same write id on every attempt (a recoverer's too): readers count it once.
    // A strict quorum: a read-atomic read of R owners must find it once the file is let go.
    { ns: f.bucket, key: f.file, context: intent.context, deleted: intent.deleted, body: Buffer.from(intent.content, 'base64'), txn: meta, wid: intent.txn, strict: true },
    repairBucketRecord(c),
  );
  return outcome;
}

/**
 * Settle a stalled intent from its transaction's record: a transaction with no
 * decision is aborted now (so its coordinator can never commit it); a
 * committed one's write is made, unless the file shows it already; then the
 * file is let go.
 */
export async function settleIntent(c: Cluster, f: FileRef, intent: Intent): Promise<'committed' | 'aborted'> {
  const state = await decide(c, intent.txn, 'aborted');
  if (state === 'committed') {
    // Written again even if a read shows it: that read may have met the one replica that minted it. The
    // version has the transaction's own dot, so replicas that hold it (or what superseded it) store
    // nothing, and the write's W check puts it on a write quorum before the file is let go.
    await applyIntent(c, f, intent);
  } else {
    await releaseIntent(c, f, intent.txn);
  }
  c.log.info('a stalled transaction settled', { txn: intent.txn, state, bucket: f.bucket, file: f.file });
  return state;
}

/** One file as a read-atomic read returns it. */
export interface AtomicFile extends FileRef {
  /** The versions a reader sees (none: no such file); each with its bytes. */
  versions: Array<{ sibling: Sibling | null; deleted: boolean; body: Buffer; txn: string | null }>;
  read: FileRead;
}

/**
 * Read files so that every committed transaction is seen whole or not at all
 * (RAMP-Fast on versions, docs/transactions.md): a transaction's version seen
 * on one file names the others it wrote; one of those that shows neither that
 * version nor a later one gets it from its intent (committed, not yet applied)
 * or is read again (its intent let go, so the write is on a write quorum now,
 * and a quorum read sees it or what superseded it). Readers never wait for a
 * writer.
 */
export async function readAtomic(c: Cluster, refs: readonly FileRef[]): Promise<AtomicFile[]> {
  for (const r of refs) validateFileName(r.file);
  const view = new Map<string, AtomicFile>();
  const load = async (f: FileRef): Promise<void> => {
    const read = await readFile(c, f.bucket, f.file, true, undefined, true);
    const versions = await Promise.all(
      read.siblings.map(async (s) => ({ sibling: s, deleted: s.deleted === true, body: s.deleted ? Buffer.alloc(0) : await versionBody(c, f.bucket, f.file, read.read, s), txn: s.txn?.id ?? null })),
    );
    view.set(key(f), { bucket: f.bucket, file: f.file, versions, read });
  };
  await Promise.all(refs.map(load));
  // (file, transaction) pairs known to be whole: the file was read again after the transaction let it go.
  const settled = new Set<string>();
  for (let round = 0; ; round++) {
    const missing: Array<{ f: FileRef; txn: string }> = [];
    for (const held of view.values()) {
      for (const v of held.versions) {
        const meta = v.sibling?.txn;
        if (!meta) continue;
        for (const other of meta.files) {
          const f = view.get(key(other));
          if (!f || sameFile(f, held)) continue;
          if (f.versions.some((w) => w.txn === meta.id) || settled.has(`${key(f)}\u0000${meta.id}`)) continue;
          if (!missing.some((m) => sameFile(m.f, f) && m.txn === meta.id)) missing.push({ f, txn: meta.id });
        }
      }
    }
    if (missing.length === 0) return refs.map((r) => view.get(key(r)) as AtomicFile);
    if (round >= READ_ROUNDS) {
      throw new RingstoreError(ErrorCode.TXN_READ_BUSY, `transactions kept changing these files over ${READ_ROUNDS} rounds of reading; try again`, { details: { files: missing.map((m) => m.f) } });
    }
    const again = new Map<string, FileRef>();
    for (const m of missing) {
      const reg = await readRegister(c, intentSpace(m.f.bucket), { ns: m.f.bucket, key: m.f.file });
      if (reg.answered < reg.majority) throw tooFewOwners(`the transaction intent of ${m.f.file}`, reg);
      const intent = asIntent(reg.value);
      const f = view.get(key(m.f)) as AtomicFile;
      if (intent?.txn === m.txn) {
        // Committed (its write was seen elsewhere, and writes follow the decision), not yet applied here: the
        // version it will write, beside any version it did not supersede.
        const kept = f.versions.filter((v) => v.sibling !== null && !covers(intent.context, v.sibling.dot));
        // (Not marked settled: should the file be read again for another transaction, this is looked for again.)
        f.versions = [...kept, { sibling: null, deleted: intent.deleted, body: Buffer.from(intent.content, 'base64'), txn: m.txn }];
      } else {
        again.set(key(f), f);
        settled.add(`${key(f)}\u0000${m.txn}`);
      }
    }
    await Promise.all([...again.values()].map(load));
  }
}

/**
 * Settle every intent this machine's socket server holds that has stayed
 * undecided past transactions.timeoutMs (its coordinator died, or lost its
 * quorum): the REST app runs this every half timeout, so no transaction stays
 * in doubt much longer than that even if no other transaction meets its files.
 * Each owner's REST app may settle the same intent: the decision is a CAS, the
 * write is counted once (its write id), the release is conditional. It pages
 * through the node's Paxos records (paxos_dump), so it costs their number.
 */
/** Sweep every half transactions.timeoutMs (one sweep at a time), for as long as the process runs. */
export function startIntentSweeper(c: Cluster): { cancel(): void } {
  let sweeping = false;
  const firstSeen = new Map<string, number>();
  return c.rt.timers.setInterval(
    () => {
      if (sweeping) return;
      sweeping = true;
      sweepStalledIntents(c, firstSeen)
        .catch((err: unknown) => c.log.warn('transaction sweep failed', { error: (err as Error).message }))
        .finally(() => (sweeping = false));
    },
    Math.max(500, Math.floor(c.config.transactions.timeoutMs / 2)),
    { background: true },
  );
}

export async function sweepStalledIntents(c: Cluster, firstSeen = new Map<string, number>()): Promise<number> {
  const now = c.rt.clock.now();
  const mono = c.rt.clock.monotonic();
  const { timeoutMs } = c.config.transactions;
  const stalled: Array<{ f: FileRef; intent: Intent }> = [];
  const seenNow = new Set<string>();
  let after: string | undefined;
  do {
    const { reply } = await c.transport.request(c.peer(c.self), { type: 'paxos_dump', ...(after !== undefined ? { after } : {}), limit: 500 });
    for (const r of reply.records) {
      if (!r.space.startsWith('txn:') || r.space === RECORD_SPACE) continue;
      const intent = asIntent(r.state.committed?.value ?? null);
      if (!intent) continue;
      // Stalled by its coordinator's wall clock, or by how long this sweeper has watched it (its own monotonic
      // clock: a machine whose wall clock is behind still settles it in time).
      const id = `${r.space}\u0000${r.key}\u0000${intent.txn}`;
      seenNow.add(id);
      if (!firstSeen.has(id)) firstSeen.set(id, mono);
      if (now - intent.at > timeoutMs || mono - (firstSeen.get(id) as number) >= timeoutMs) stalled.push({ f: { bucket: r.space.slice('txn:'.length), file: r.key }, intent });
    }
    after = reply.next ?? undefined;
  } while (after !== undefined);
  for (const id of firstSeen.keys()) if (!seenNow.has(id)) firstSeen.delete(id);
  let settled = 0;
  for (const { f, intent } of stalled) {
    try {
      await settleIntent(c, f, intent);
      settled++;
    } catch (err) {
      c.log.warn('a stalled transaction could not be settled yet', { txn: intent.txn, bucket: f.bucket, file: f.file, error: (err as Error).message });
    }
  }
  return settled;
}
