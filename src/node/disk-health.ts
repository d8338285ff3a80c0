// The state of this machine's disk as its socket server finds it: `ok`; `full`
// once a write failed with ENOSPC or EDQUOT (writes are still tried, and the
// first that succeeds makes it ok again, so space freed is used at once; a
// probe write every check does the same while no write comes);
// `read-only` after repeated disk errors (EIO and the like) within a minute,
// when writes are refused without trying until a probe write succeeds. The
// state travels with the node's heartbeat, so every machine's /cluster shows it.
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DiskState } from '../protocol/messages.js';
import type { Runtime } from '../runtime/runtime.js';

const FULL = new Set(['ENOSPC', 'EDQUOT']);
/** Codes that say something about the request or the file, not about the disk. */
const LOGICAL = new Set(['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR', 'EINVAL', 'EBADF', 'EDEAD']);
const ERRORS_FOR_READ_ONLY = 3;
const ERROR_WINDOW_MS = 60_000;

export class DiskHealth {
  state: DiskState = 'ok';
  /** Bytes free for this node's data, as of the last check; null before the first. */
  free: number | null = null;
  private errors: number[] = [];
  private probing: Promise<void> | null = null;

  constructor(
    private readonly rt: Runtime,
    private readonly node: string,
    /** The node's folder: where space is measured and the probe written. */
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /**
   * The error a caller should see for a failed disk operation, or null if the
   * failure is not the disk's (a missing file, a bad request).
   */
  fault(err: unknown): RingstoreError | null {
    if (err instanceof RingstoreError) return null;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code) || LOGICAL.has(code)) return null;
    if (FULL.has(code)) {
      if (this.state === 'ok') this.log.warn('disk full: refusing writes until space is free', { code, free: this.free });
      if (this.state !== 'read-only') this.state = 'full';
      return new RingstoreError(ErrorCode.INSUFFICIENT_STORAGE, `${this.node}: the disk is full (${code}); it takes writes again once space is free`, {
        details: { node: this.node, free: this.free },
      });
    }
    const now = this.rt.clock.monotonic();
    this.errors = [...this.errors.filter((t) => now - t < ERROR_WINDOW_MS), now];
    if (this.errors.length >= ERRORS_FOR_READ_ONLY && this.state !== 'read-only') {
      this.state = 'read-only';
      this.log.error('disk keeps failing: this node is read-only until a probe write succeeds', { code, errors: this.errors.length });
    }
    return new RingstoreError(ErrorCode.DISK_ERROR, `${this.node}: a disk operation failed (${code}): ${(err as Error).message}`, { details: { node: this.node, errno: code } });
  }

  /** A write went through: a full disk has room again. */
  wrote(): void {
    if (this.state !== 'full') return;
    this.state = 'ok';
    this.log.info('disk has room again: taking writes');
  }

  /** Writes are refused without trying while read-only. */
  checkWritable(): void {
    if (this.state === 'read-only') {
      throw new RingstoreError(ErrorCode.READ_ONLY, `${this.node}: its disk kept failing; it refuses writes until a probe write succeeds`, { details: { node: this.node } });
    }
  }

  /** Measure the free space; while full or read-only, try a probe write. Runs on a timer. */
  check(): Promise<void> {
    this.probing ??= this.measure().finally(() => (this.probing = null));
    return this.probing;
  }

  private async measure(): Promise<void> {
    const disk = this.rt.disk;
    try {
      this.free = (await disk.statfs(this.dir)).free;
    } catch {
      // unknown this time
    }
    // A full disk is tried too: space freed shows in /cluster within a check even while no write arrives.
    if (this.state === 'ok') return;
    const probe = `${this.dir}/.disk-probe`;
    try {
      await disk.writeFileDurable(probe, 'probe\n');
      await disk.unlink(probe);
      this.errors = [];
      this.log.info(this.state === 'full' ? 'disk has room again: taking writes' : 'disk probe succeeded: taking writes again', { free: this.free });
      this.state = 'ok';
    } catch {
      // still failing
    }
  }
}
