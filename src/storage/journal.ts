// A node's write-ahead log, with group commit. Every change to one of the
// node's stores (its own data and its hint stores) is appended here and is
// acknowledged once an fdatasync covers it; one fdatasync covers every change
// appended while the previous one ran. Only then are the store's files written,
// without fsync (layout.applyChange). At start-up the logs are replayed into the
// files, and a log is deleted only once a syncfs has made every file written
// from it durable (a checkpoint). So a write costs a share of one fsync instead
// of three fsyncs and a dozen file system calls, and a crash at any instant
// loses nothing acknowledged: what the files lack, the log still holds.
//
// A record: u32 length of what follows the head | u32 header length |
// 16-byte MD5 of what follows the head | header JSON | bodies. The MD5 finds a
// torn tail (a crash mid-append, never acknowledged); replay of a log stops there.
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import type { Logger } from '../log.js';
import type { KeyState } from '../protocol/messages.js';
import { isErrno, type FileHandle } from '../runtime/disk.js';
import type { Timer, Timers } from '../runtime/runtime.js';
import { applyChange, type Change } from './layout.js';
import type { Volume } from './volume.js';

const HEAD = 24;
/** Records per fdatasync at most. */
const MAX_BATCH = 64;
const LOG_NAME = /^(\d{12})\.log$/;

interface Header {
  /** The store's root, relative to the node's folder ('' for its own data, hints/<owner> for a hint store). */
  r: string;
  n: string;
  k: string;
  s: KeyState | null;
  /** Bodies that follow the header: dot id, length, and whether the manifest keeps it (else a blob file). */
  b: Array<[string, number, 0 | 1]>;
  /** Replace the manifest by a rename. */
  a: 0 | 1;
}

interface Pending {
  bufs: Buffer[];
  change: Change;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface JournalOptions {
  /** Start a new log (and checkpoint the old one) once a log is this long. */
  checkpointBytes?: number;
  /** Also checkpoint a log that has anything in it this often, so a replay after a crash stays short. */
  checkpointMs?: number;
}

export class Journal {
  private fh: FileHandle | null = null;
  private seq = 0;
  private size = 0;
  private queue: Pending[] = [];
  /** The flush or rotation that holds the log: one at a time. */
  private busy: Promise<void> | null = null;
  private checkpointing: Promise<void> = Promise.resolve();
  private closed = false;
  /**
   * Records a replay could not write (a full disk at start-up). Until a start replays every log whole, no
   * log is dropped: a checkpoint would lose them, and a later replay must apply them before the later logs.
   */
  private unreplayed = 0;
  /** Changes made durable, and the fdatasyncs that did it (their ratio is the group commit's effect). */
  readonly stats = { changes: 0, syncs: 0, checkpoints: 0 };
  private readonly checkpointBytes: number;
  private readonly timer: Timer;

  private constructor(
    private readonly vol: Volume,
    /** The node's folder: store roots are recorded relative to it. */
    readonly base: string,
    private readonly dir: string,
    private readonly log: Logger,
    timers: Timers,
    opts: JournalOptions,
  ) {
    this.checkpointBytes = opts.checkpointBytes ?? 32 * 1024 * 1024;
    this.timer = timers.setInterval(() => this.checkpointIdle(), opts.checkpointMs ?? 30_000, { background: true });
  }

  /** Open the node's journal, replaying whatever a crash left in it into the stores' files first. */
  static async open(vol: Volume, timers: Timers, base: string, log: Logger, opts: JournalOptions = {}): Promise<Journal> {
    const j = new Journal(vol, base, join(base, 'journal'), log, timers, opts);
    await vol.mkdirDurable(j.dir);
    const logs = await j.logs();
    let replayed = 0;
    for (const seq of logs) replayed += await j.replay(seq);
    if (j.unreplayed > 0) {
      log.error('journal records not replayed for want of space: the logs are kept until a start replays them all; restart this node once its disk has room', { records: j.unreplayed });
    } else if (logs.length > 0) {
      await j.checkpoint(logs.at(-1) as number);
      if (replayed > 0) log.info('journal replayed', { logs: logs.length, changes: replayed });
    }
    j.seq = logs.at(-1) ?? 0;
    await j.rotate();
    return j;
  }

  /**
   * Make a change durable, then write it into the store's files; resolves once
   * both are done. Changes to one key must be appended in order (the store holds
   * the key's lock), and they are applied in the order they were appended.
   */
  append(change: Change): Promise<void> {
    const bodies: Buffer[] = [];
    const b: Header['b'] = [];
    for (const [inline, map] of [[1, change.inline], [0, change.blobs]] as const) {
      for (const [id, body] of map) {
        b.push([id, body.length, inline]);
        bodies.push(body);
      }
    }
    const header: Header = { r: relative(this.base, change.root), n: change.ns, k: change.key, s: change.state, b, a: change.atomic ? 1 : 0 };
    const json = Buffer.from(JSON.stringify(header));
    const md5 = createHash('md5').update(json);
    for (const body of bodies) md5.update(body);
    const head = Buffer.allocUnsafe(HEAD);
    head.writeUInt32LE(json.length + bodies.reduce((n, x) => n + x.length, 0), 0);
    head.writeUInt32LE(json.length, 4);
    md5.digest().copy(head, 8);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the journal is closed'));
      this.queue.push({ bufs: [head, json, ...bodies], change, resolve, reject });
      this.kick();
    });
  }

  /** Run a flush if changes wait and nothing else holds the log; whatever holds it calls this again when done. */
  private kick(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = this.flush().finally(() => {
      this.busy = null;
      this.kick();
    });
  }

  /** On a timer: a log with anything in it that nobody is writing to is checkpointed. */
  private checkpointIdle(): void {
    if (this.busy || this.closed || this.size === 0) return;
    this.busy = this.rotate()
      .catch((err: unknown) => {
        this.log.error('journal rotation failed', { error: (err as Error).message });
      })
      .finally(() => {
        this.busy = null;
        this.kick();
      });
  }

  /** Wait for what was appended, then checkpoint the log, so that a clean restart has nothing to replay. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer.cancel();
    while (this.busy) await this.busy;
    await this.checkpointing;
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
    await this.checkpoint(this.seq).catch(() => undefined); // kept on failure: replayed at the next start
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      // A bounded batch: its files are written synchronously once it is durable, and the event loop waits for them.
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        if (!this.fh) await this.rotate(); // the last write failed: a new log first
        const fh = this.fh as unknown as FileHandle;
        const bufs = batch.flatMap((p) => p.bufs);
        await fh.write(bufs);
        await fh.datasync();
        this.stats.syncs++;
        this.stats.changes += batch.length;
        this.size += bufs.reduce((n, x) => n + x.length, 0);
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
        this.log.error('journal write failed', { error: (err as Error).message });
        await this.abandonLog();
        continue;
      }
      for (const p of batch) {
        try {
          applyChange(this.vol, p.change);
          p.resolve();
        } catch (err) {
          // Durable in the log but not in the files (which still hold the previous state): not
          // acknowledged, and a replay may still apply it, as for any write whose answer was lost.
          p.reject(err as Error);
        }
      }
      if (this.size >= this.checkpointBytes && !this.closed) {
        await this.rotate().catch((err: unknown) => this.log.error('journal rotation failed', { error: (err as Error).message }));
      }
    }
  }

  /**
   * After a failed write the log's tail is unknown (part of the batch may be in it): it is cut back
   * to its last whole record if possible, and nothing more is ever appended to it, so a torn record
   * never hides a later one from a replay. The next flush starts a new log.
   */
  private async abandonLog(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = null;
    await fh
      .truncate(this.size)
      .then(() => fh.datasync())
      .catch(() => undefined);
    await fh.close().catch(() => undefined);
    this.checkpointLater(this.seq);
  }

  /** Start a new log; the old one is deleted once every file written from it is durable. */
  private async rotate(): Promise<void> {
    const next = this.seq + 1;
    const fh = await this.vol.disk.open(this.path(next), 'append');
    try {
      await this.vol.disk.fsyncDir(this.dir);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    const old = this.fh;
    const oldSeq = this.seq;
    this.fh = fh;
    this.seq = next;
    this.size = 0;
    if (old) {
      await old.close().catch(() => undefined);
      this.checkpointLater(oldSeq);
    }
  }

  /** Checkpoints run one at a time, in order. */
  private checkpointLater(seq: number): void {
    this.checkpointing = this.checkpointing.then(() =>
      this.checkpoint(seq).catch((err: unknown) => {
        // Kept: the next checkpoint that succeeds deletes it too, and until then a replay applies it before the later logs.
        this.log.error('journal checkpoint failed', { log: seq, error: (err as Error).message });
      }),
    );
  }

  /**
   * Every change of the logs up to seq is in the stores' files: make them durable, then drop those
   * logs, all of them: an older log left by a failed checkpoint must never outlive a later one.
   */
  private async checkpoint(seq: number): Promise<void> {
    if (this.unreplayed > 0) return;
    await this.vol.disk.syncfs(this.dir);
    for (const s of await this.logs()) if (s <= seq) await this.vol.disk.unlink(this.path(s));
    await this.vol.disk.fsyncDir(this.dir);
    this.stats.checkpoints++;
  }

  private path(seq: number): string {
    return join(this.dir, `${String(seq).padStart(12, '0')}.log`);
  }

  private async logs(): Promise<number[]> {
    return (await this.vol.disk.readdir(this.dir))
      .map((n) => LOG_NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Apply every whole record of a log, in order. */
  private async replay(seq: number): Promise<number> {
    const buf = await this.vol.disk.readFile(this.path(seq));
    let pos = 0;
    let count = 0;
    let skipped = 0;
    while (pos + HEAD <= buf.length) {
      const len = buf.readUInt32LE(pos);
      const jsonLen = buf.readUInt32LE(pos + 4);
      const end = pos + HEAD + len;
      if (end > buf.length || jsonLen > len) break;
      const rest = buf.subarray(pos + HEAD, end);
      if (!createHash('md5').update(rest).digest().equals(buf.subarray(pos + 8, pos + HEAD))) break;
      const h = JSON.parse(rest.subarray(0, jsonLen).toString('utf8')) as Header;
      const inline = new Map<string, Buffer>();
      const blobs = new Map<string, Buffer>();
      let at = jsonLen;
      for (const [id, n, kept] of h.b) {
        (kept ? inline : blobs).set(id, rest.subarray(at, at + n));
        at += n;
      }
      try {
        applyChange(this.vol, { root: join(this.base, h.r), ns: h.n, key: h.k, state: h.s, inline, blobs, atomic: true }, { unlessSame: true });
        count++;
      } catch (err) {
        // A full disk: the node must still start, to serve reads. The record may be an acknowledged write
        // whose files a power loss took: it is kept (see unreplayed), not dropped.
        if (!isErrno(err, 'ENOSPC') && !isErrno(err, 'EDQUOT')) throw err;
        skipped++;
        this.unreplayed++;
      }
      pos = end;
    }
    if (pos < buf.length) this.log.warn('journal ends in a torn record (a crash mid-append; it was never acknowledged)', { log: seq, bytes: buf.length - pos });
    if (skipped > 0) this.log.warn('journal records not replayed: the disk is full', { log: seq, skipped });
    return count;
  }
}
