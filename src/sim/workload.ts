// The simulator's clients: each picks a machine (as a user picks an endpoint)
// and calls the coordinator's real operations on it: bucket creates and
// deletes, file writes with and without a context (the context of its own
// last read), deletes and reads. A machine that is down fails the call at
// once, one that dies mid-call leaves the outcome unknown after a timeout. The
// history keeps every acknowledged write with the replicas that stored it,
// for the checker.
import { dotId, parseDotId, type Dot } from '../clock/dvv.js';
import { createBucket, deleteBucket } from '../coordinator/buckets.js';
import { deleteFile, putFile, readFile } from '../coordinator/files.js';
import type { WriteOutcome } from '../coordinator/write.js';
import { ErrorCode } from '../errors.js';
import { BUCKETS_NS, type VersionVectorWire } from '../protocol/messages.js';
import { incarnationEnded } from '../replica/records.js';
import { CLIENT_TIMEOUT_MS, answerWithin } from './answer.js';
import { holds } from './checker.js';
import type { SimCluster } from './cluster.js';
import type { Owner, SimLoop } from './loop.js';
import type { Prng } from './prng.js';

export const BUCKETS = ['alpha', 'bravo', 'carol'];
export const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];

export interface AckedWrite {
  op: string;
  ns: string;
  key: string;
  dot: Dot;
  version: string;
  /** The client write's id, on every version minted for it. */
  wid: string | undefined;
  /** The bucket incarnation a file version was written into. */
  uid: string | undefined;
  preferenceList: string[];
  written: string[];
  hinted: Array<{ node: string; for: string }>;
  /** When the client sent it: a replica may have stored it any time after. */
  sentAt: number;
  /** When the client had the answer. */
  at: number;
}

export interface History {
  acked: AckedWrite[];
  /** Writes attempted (acknowledged or not), by ns/key. */
  attempts: Map<string, number>;
  ops: number;
  ok: number;
  failed: Map<string, number>;
  /** Errors that mean a bug, not a fault: INTERNAL, BAD_MESSAGE, ... */
  unexpected: string[];
  /** Writes acknowledged while fewer than W machines held them. */
  underReplicated: string[];
}

/** Failures the fault schedule explains; anything else is reported. */
const EXPECTED = new Set<string>([
  ErrorCode.QUORUM_NOT_REACHED,
  ErrorCode.PEER_UNAVAILABLE,
  ErrorCode.PEER_TIMEOUT,
  ErrorCode.NO_SUCH_BUCKET,
  ErrorCode.NO_SUCH_FILE,
  ErrorCode.TOO_MANY_SIBLINGS,
  ErrorCode.MISSING_BODIES,
  ErrorCode.INSUFFICIENT_STORAGE,
  ErrorCode.DISK_ERROR,
  ErrorCode.READ_ONLY,
  ErrorCode.NOT_A_MEMBER,
  'CLIENT_TIMEOUT',
  'NODE_DOWN',
]);


export function emptyHistory(): History {
  return { acked: [], attempts: new Map(), ops: 0, ok: 0, failed: new Map(), unexpected: [], underReplicated: [] };
}

export class Client implements Owner {
  alive = true;
  /** No call under way. */
  idle = true;
  private readonly contexts = new Map<string, VersionVectorWire>();

  constructor(
    readonly name: string,
    private readonly loop: SimLoop,
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly history: History,
  ) {}

  /** Issue operations until simulated time `until`, one at a time with think time between. */
  run(until: number): void {
    const next = (): void => {
      if (this.loop.now >= until) return;
      void this.one().then(() => this.loop.schedule(this.prng.between(5, 400), next, this));
    };
    this.loop.schedule(this.prng.between(0, 500), next, this);
  }

  private sentAt = 0;

  private async one(): Promise<void> {
    const node = this.prng.pick(this.cluster.nodes);
    const bucket = this.prng.pick(BUCKETS);
    const key = this.prng.pick(KEYS);
    const roll = this.prng.float();
    const op = roll < 0.04 ? 'create' : roll < 0.06 ? 'drop' : roll < 0.4 ? 'put' : roll < 0.55 ? 'put-ctx' : roll < 0.62 ? 'delete' : 'get';
    this.history.ops++;
    const started = this.loop.now;
    this.sentAt = started;
    const what = `${this.name} ${op} ${op === 'create' || op === 'drop' ? bucket : `${bucket}/${key}`} via ${node.id}`;
    if (!node.running) return this.fail(what, 'NODE_DOWN');
    const c = node.running.cluster;
    const ctxKey = `${bucket}/${key}`;
    if (op !== 'get') {
      const k = op === 'create' || op === 'drop' ? `${BUCKETS_NS}/${bucket}` : ctxKey;
      this.history.attempts.set(k, (this.history.attempts.get(k) ?? 0) + 1);
    }
    const call = async (): Promise<string> => {
      switch (op) {
        case 'create': {
          const r = await createBucket(c, bucket);
          if (r.outcome) this.acked('create', BUCKETS_NS, bucket, r.outcome);
          return r.outcome ? `created ${r.outcome.version}` : 'exists';
        }
        case 'drop':
          return `dropped ${this.acked('drop', BUCKETS_NS, bucket, await deleteBucket(c, bucket))}`;
        case 'put':
        case 'put-ctx': {
          const context = op === 'put-ctx' ? (this.contexts.get(ctxKey) ?? null) : null;
          const body = Buffer.from(`${this.name}@${this.loop.now.toFixed(1)}:${this.prng.int(1e9)}`);
          return `stored ${this.acked(op, bucket, key, await putFile(c, bucket, key, body, context))}${context ? ` with context ${JSON.stringify(context)}` : ''}`;
        }
        case 'delete':
          return `deleted ${this.acked('delete', bucket, key, await deleteFile(c, bucket, key, this.contexts.get(ctxKey) ?? null))}`;
        default: {
          const r = await readFile(c, bucket, key, false);
          this.contexts.set(ctxKey, r.read.merged.context);
          return `versions [${r.siblings.map((x) => dotId(x.dot)).join(' ')}] context ${JSON.stringify(r.read.merged.context)}`;
        }
      }
    };
    this.idle = false;
    const outcome = await answerWithin(this.loop, this, CLIENT_TIMEOUT_MS, call());
    this.idle = true;
    if (outcome.ok) {
      this.history.ok++;
      this.loop.trace(`${what}: ${outcome.value} in ${(this.loop.now - started).toFixed(1)} ms`);
    } else this.fail(what, outcome.code, outcome.message);
  }

  private fail(what: string, code: string, message = ''): void {
    this.history.failed.set(code, (this.history.failed.get(code) ?? 0) + 1);
    this.loop.trace(`${what}: ${code}`);
    if (!EXPECTED.has(code)) this.history.unexpected.push(`${what}: ${code} ${message}`);
  }

  /**
   * At the moment of the answer, look at every machine (not at what the
   * coordinator says it did): at least W of them must hold the version, in
   * their own data or as a hinted copy.
   */
  private async auditAck(w: AckedWrite): Promise<void> {
    this.cluster.auditing = true;
    try {
      await this.countHolders(w);
    } finally {
      this.cluster.auditing = false;
    }
  }

  private async countHolders(w: AckedWrite): Promise<void> {
    // A bucket deleted while the write was under way takes the write with it.
    for (const n of this.cluster.nodes) {
      if (w.ns !== BUCKETS_NS && incarnationEnded(n.running?.node.ctx.buckets.get(w.ns), w.uid)) return;
    }
    const need = w.ns === BUCKETS_NS ? Math.min(this.cluster.config.replication.w, this.cluster.nodes.length) : this.cluster.config.replication.w;
    const holders: string[] = [];
    for (const n of this.cluster.nodes) {
      const ctx = n.running?.node.ctx;
      // A machine down now may have died after storing it: the coordinator's word stands, and its boot audit
      // checks it. One whose disk was wiped since the write was sent may have held it before.
      const wiped = n.wipes.some((t) => t >= w.sentAt);
      if (!ctx || wiped) {
        // Also the owner of a hinted copy: handoff may have delivered it (and the copy been dropped) before the owner
        // went down; the final check (checkAcknowledged) requires it there once the owner is back.
        if (w.written.includes(n.id) || w.hinted.some((h) => h.for === n.id)) holders.push(`${n.id} (${wiped ? 'wiped since' : 'down'})`);
        continue;
      }
      const copies = [await ctx.store.read(w.ns, w.key), ...(await Promise.all(ctx.hints.holders(w.ns, w.key).map((o) => ctx.hints.store(o).read(w.ns, w.key))))];
      if (copies.some((s) => holds(s, w))) holders.push(n.id);
    }
    if (holders.length < need) {
      this.history.underReplicated.push(`${w.op} ${w.ns}/${w.key} version ${w.version} was acknowledged at ${w.at.toFixed(1)} ms held by ${holders.length} machines [${holders.join(', ')}], W=${need} (the coordinator said ${w.written.join(', ')})`);
    }
  }

  /** Record an acknowledged write; returns its version id. */
  private acked(op: string, ns: string, key: string, o: WriteOutcome): string {
    const sibling = o.state.siblings.find((s) => dotId(s.dot) === o.version);
    const dot = parseDotId(o.version) as Dot;
    const wid = sibling?.wid;
    const w: AckedWrite = { op, ns, key, dot, version: o.version, wid, uid: sibling?.uid, preferenceList: o.preferenceList, written: o.written, hinted: o.hinted, sentAt: this.sentAt, at: this.loop.now };
    this.history.acked.push(w);
    void this.auditAck(w);
    return `${o.version} on ${o.written.join(',')}`;
  }
}
