// The simulator's bank (issue 16): accounts in their own bucket, opened by one
// transaction, then clients moving money between two of them by transactions
// (with the contexts of a read-atomic read) and reading all of them
// read-atomically, through any machine, under the run's faults. What must
// hold: every read-atomic read that sees every account sees the total; once
// the cluster has settled, every transaction that was answered committed shows
// on every file it wrote, every one answered TXN_CONFLICT shows on none, no
// account has two versions, and no file is still held by a transaction.
import { createBucket } from '../coordinator/buckets.js';
import { readRegister } from '../coordinator/cas.js';
import type { Cluster } from '../coordinator/cluster.js';
import { readFile } from '../coordinator/files.js';
import { commitTransaction, readAtomic, type AtomicFile, type FileRef } from '../coordinator/transactions.js';
import { covers } from '../clock/dvv.js';
import { asRingstoreError, ErrorCode } from '../errors.js';
import { txnActor, type VersionVectorWire } from '../protocol/messages.js';
import { CLIENT_TIMEOUT_MS, answerWithin } from './answer.js';
import type { SimCluster } from './cluster.js';
import type { Owner, SimLoop } from './loop.js';
import type { Prng } from './prng.js';

export const BANK = 'bank';
export const ACCOUNTS: FileRef[] = ['a0', 'a1', 'a2', 'a3'].map((file) => ({ bucket: BANK, file }));
const OPENING = 100;
export const TOTAL = OPENING * ACCOUNTS.length;

export interface BankHistory {
  opened: boolean;
  /** Transactions answered committed, with the files each wrote. */
  committed: Array<{ txn: string; files: FileRef[] }>;
  refused: string[];
  reads: number;
  /** What must never happen, seen during the run. */
  problems: string[];
}

export function emptyBank(): BankHistory {
  return { opened: false, committed: [], refused: [], reads: 0, problems: [] };
}

/** Errors the faults explain (the rest are bugs). */
const EXPECTED = new Set<string>([ErrorCode.NO_SUCH_BUCKET, ErrorCode.QUORUM_NOT_REACHED, ErrorCode.PEER_UNAVAILABLE, ErrorCode.PEER_TIMEOUT, ErrorCode.TXN_CONFLICT, ErrorCode.TXN_READ_BUSY, ErrorCode.OUTCOME_UNKNOWN, ErrorCode.CONFLICT, ErrorCode.NOT_A_MEMBER, ErrorCode.INSUFFICIENT_STORAGE, ErrorCode.DISK_ERROR, ErrorCode.READ_ONLY, ErrorCode.MISSING_BODIES, ErrorCode.STALE_EPOCH, 'CLIENT_TIMEOUT']);

const amount = (f: AtomicFile): number | null => {
  const live = f.versions.filter((v) => !v.deleted);
  return live.length === 1 ? Number((live[0] as AtomicFile['versions'][number]).body.toString()) : null;
};

export class BankClient implements Owner {
  alive = true;
  idle = true;

  constructor(
    readonly name: string,
    private readonly loop: SimLoop,
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly history: BankHistory,
    /** The client that opens the accounts (the others wait for it). */
    private readonly opener: boolean,
  ) {}

  run(until: number): void {
    const next = (): void => {
      if (this.loop.now >= until) return;
      void this.one().then(() => this.loop.schedule(this.prng.between(100, 1000), next, this));
    };
    this.loop.schedule(this.prng.between(0, 500), next, this);
  }

  private async one(): Promise<void> {
    const node = this.prng.pick(this.cluster.nodes);
    const c = node.running?.cluster;
    if (!c) return;
    if (!this.history.opened) {
      if (this.opener) await this.call(`${this.name} opens the accounts via ${node.id}`, () => this.open(c));
      return;
    }
    if (this.prng.chance(0.4)) await this.call(`${this.name} reads the accounts via ${node.id}`, () => this.audit(c));
    else {
      const from = this.prng.pick(ACCOUNTS);
      const to = this.prng.pick(ACCOUNTS.filter((a) => a !== from));
      await this.call(`${this.name} moves money ${from.file} -> ${to.file} via ${node.id}`, () => this.transfer(c, from, to, 1 + this.prng.int(20)));
    }
  }

  private async open(c: Cluster): Promise<string> {
    await createBucket(c, BANK);
    const done = await commitTransaction(c, ACCOUNTS.map((a) => ({ op: 'put' as const, ...a, content: Buffer.from(String(OPENING)), context: null })));
    this.history.committed.push({ txn: done.txn, files: ACCOUNTS });
    this.history.opened = true;
    return `opened by ${done.txn}`;
  }

  private async audit(c: Cluster): Promise<string> {
    const files = await readAtomic(c, ACCOUNTS);
    this.history.reads++;
    const amounts = files.map(amount);
    if (amounts.every((a) => a !== null)) {
      const sum = (amounts as number[]).reduce((s, a) => s + a, 0);
      if (sum !== TOTAL) this.history.problems.push(`a read-atomic read at ${this.loop.now.toFixed(1)} ms saw ${sum}, not ${TOTAL}: ${describe(files)}`);
    } else if (files.some((f) => f.versions.filter((v) => !v.deleted).length > 1)) {
      this.history.problems.push(`an account has concurrent versions at ${this.loop.now.toFixed(1)} ms: ${describe(files)}`);
    }
    return `read ${describe(files)}`;
  }

  private async transfer(c: Cluster, from: FileRef, to: FileRef, sum: number): Promise<string> {
    const [f, g] = await readAtomic(c, [from, to]);
    const a = amount(f as AtomicFile);
    const b = amount(g as AtomicFile);
    if (a === null || b === null) return 'accounts not readable as one version each yet';
    const context = (x: AtomicFile | undefined): VersionVectorWire => (x as AtomicFile).read.read.merged.context;
    try {
      const done = await commitTransaction(c, [
        { op: 'put', ...from, content: Buffer.from(String(a - sum)), context: context(f) },
        { op: 'put', ...to, content: Buffer.from(String(b + sum)), context: context(g) },
      ]);
      this.history.committed.push({ txn: done.txn, files: [from, to] });
      return `committed ${done.txn}`;
    } catch (err) {
      const e = asRingstoreError(err);
      if (e.code === ErrorCode.TXN_CONFLICT && typeof e.details?.txn === 'string') this.history.refused.push(e.details.txn);
      throw err;
    }
  }

  private async call(what: string, fn: () => Promise<string>): Promise<void> {
    this.idle = false;
    const outcome = await answerWithin(this.loop, this, CLIENT_TIMEOUT_MS, fn());
    this.idle = true;
    if (outcome.ok) this.loop.trace(`${what}: ${outcome.value}`);
    else {
      this.loop.trace(`${what}: ${outcome.code}`);
      if (!EXPECTED.has(outcome.code)) this.history.problems.push(`${what}: unexpected ${outcome.code} ${outcome.message}`);
    }
  }
}

function describe(files: readonly AtomicFile[]): string {
  return files.map((f) => `${f.file}=[${f.versions.map((v) => `${v.deleted ? 'deleted' : v.body.toString()}${v.txn ? ` by ${v.txn.slice(0, 8)}` : ''}`).join(' | ')}]`).join(' ');
}

/** Whether any account is still held by a transaction. */
export async function bankHeld(c: Cluster): Promise<boolean> {
  for (const a of ACCOUNTS) if ((await readRegister(c, `txn:${BANK}`, { ns: BANK, key: a.file })).value !== null) return true;
  return false;
}

/**
 * Once the cluster has settled (and the sweepers have had their time): no
 * account held by a transaction, one version each, the total, and every
 * transaction's fate the same on all its files.
 */
export async function checkBank(c: Cluster, history: BankHistory): Promise<string[]> {
  if (!history.opened) return [];
  const problems: string[] = [];
  for (const a of ACCOUNTS) {
    const reg = await readRegister(c, `txn:${BANK}`, { ns: BANK, key: a.file });
    if (reg.answered < reg.majority) problems.push(`bank: the intent of ${a.file} could not be read (${reg.answered} of ${reg.majority} owners answered)`);
    else if (reg.value !== null) problems.push(`bank: ${a.file} is still held by a transaction after the cluster settled: ${JSON.stringify(reg.value).slice(0, 200)}`);
  }
  const files = await readAtomic(c, ACCOUNTS);
  const amounts = files.map(amount);
  if (amounts.some((x) => x === null)) problems.push(`bank: an account is not one version at the end: ${describe(files)}`);
  else if ((amounts as number[]).reduce((s, x) => s + x, 0) !== TOTAL) problems.push(`bank: the accounts sum to ${(amounts as number[]).reduce((s, x) => s + x, 0)} at the end, not ${TOTAL}: ${describe(files)}`);
  // Every file of a committed transaction shows its write or a later one (its clock covers the write's dot);
  // no file shows a write of one that was refused.
  const states = await Promise.all(ACCOUNTS.map((a) => readFile(c, a.bucket, a.file, false)));
  for (const { txn, files: wrote } of history.committed) {
    const dot = [txnActor(txn), 1] as const;
    const missing = wrote.filter((f) => !covers((states[ACCOUNTS.findIndex((a) => a.file === f.file)] as (typeof states)[number]).read.merged.context, dot));
    if (missing.length > 0) problems.push(`bank: transaction ${txn} was answered committed and does not show on ${missing.map((f) => f.file).join(', ')}`);
  }
  for (const txn of history.refused) {
    const dot = [txnActor(txn), 1] as const;
    const on = ACCOUNTS.filter((_, i) => covers((states[i] as (typeof states)[number]).read.merged.context, dot));
    if (on.length > 0) problems.push(`bank: transaction ${txn} was refused (TXN_CONFLICT) and shows on ${on.map((a) => a.file).join(', ')}`);
  }
  return problems;
}
