// One process's use of its disk: crash-safe file replacement, folders made
// durable once, and fsyncs of a folder shared by concurrent writers. Its caches
// (folders known to exist, syncs under way) belong to the process, never to the
// module: a process restarted after a crash must not trust what the dead one
// believed about the disk.
import { dirname, join, relative, sep } from 'node:path';
import type { Disk } from '../runtime/disk.js';
import { isErrno } from '../runtime/disk.js';
import { randomHex, type Random } from '../runtime/runtime.js';

/** Temporary files carry this mark, so a start-up sweep can remove the ones a crash left behind. */
export const TMP_MARK = '.tmp-';

interface DirSync {
  running: Promise<void> | null;
  queued: Promise<void> | null;
}

export class Volume {
  /** Folders this process has seen exist, durably: a commit need not ask the disk again. */
  private readonly knownDirs = new Set<string>();
  private readonly dirSyncs = new Map<string, DirSync>();

  constructor(
    readonly disk: Disk,
    private readonly random: Random,
  ) {}

  /** A fresh temporary name beside `path`. */
  tmpPath(path: string): string {
    return `${path}${TMP_MARK}${randomHex(this.random, 6)}`;
  }

  /**
   * Replace `path` atomically: write a temporary file, fsync it, rename it over
   * the target, fsync the folder. A crash at any instant leaves the old file or
   * the new one, never a torn one. syncDir=false when the caller fsyncs the
   * folder once for several renames; durable=false for state that is
   * recomputed anyway (a reader must never see a torn file, but a crash may
   * lose the last one).
   */
  async writeFileAtomic(path: string, data: Buffer | string, opts: { syncDir?: boolean; durable?: boolean } = {}): Promise<void> {
    const tmp = this.tmpPath(path);
    const durable = opts.durable ?? true;
    try {
      if (durable) await this.disk.writeFileDurable(tmp, data);
      else await this.disk.writeFile(tmp, data);
      await this.disk.rename(tmp, path);
    } catch (err) {
      await this.disk.unlink(tmp).catch(() => undefined);
      throw err;
    }
    if (durable && (opts.syncDir ?? true)) await this.disk.fsyncDir(dirname(path));
  }

  /** mkdir -p that survives a power loss: each folder it creates is fsynced into its parent. */
  async mkdirDurable(dir: string): Promise<void> {
    const first = await this.disk.mkdir(dir);
    if (first === undefined) return;
    for (const parent of newParents(first, dir)) await this.disk.fsyncDir(parent);
  }

  /** The same, synchronously and once per folder per process: a folder is new only once per bucket or hint owner. */
  ensureDir(dir: string): void {
    if (this.knownDirs.has(dir)) return;
    const first = this.disk.mkdirSync(dir);
    if (first !== undefined) for (const parent of newParents(first, dir)) this.disk.fsyncDirSync(parent);
    this.knownDirs.add(dir);
  }

  /** Forget a folder before removing it (a write racing the removal recreates it). */
  forgetDir(dir: string): void {
    this.knownDirs.delete(dir);
  }

  /**
   * fsync a folder, shared by everyone waiting on it: group commit for the
   * renames and creations of many concurrent writes in one folder. A caller
   * arriving while a sync runs may have renamed after it began, so it waits for
   * the next one, which all such callers share.
   */
  syncDirGrouped(dir: string): Promise<void> {
    let st = this.dirSyncs.get(dir);
    if (!st) this.dirSyncs.set(dir, (st = { running: null, queued: null }));
    const state = st;
    const start = (): Promise<void> => {
      const p = this.disk.fsyncDir(dir).finally(() => {
        if (state.running === p) state.running = null;
        if (!state.running && !state.queued) this.dirSyncs.delete(dir);
      });
      state.running = p;
      return p;
    };
    if (!state.running) return start();
    state.queued ??= state.running
      .catch(() => undefined)
      .then(() => {
        state.queued = null;
        return start();
      });
    return state.queued;
  }

  /** A file's size, or -1 if it is absent. */
  sizeOf(path: string): number {
    return this.disk.statSync(path)?.size ?? -1;
  }

  unlinkQuietly(path: string): void {
    try {
      this.disk.unlinkSync(path);
    } catch {
      // already gone
    }
  }

  /** The names in a folder, or none if it does not exist. */
  async readdirOrEmpty(dir: string): Promise<string[]> {
    try {
      return await this.disk.readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }
}

/** The folders whose entries a mkdir -p from `first` down to `dir` changed: first's parent, then each new folder but the last. */
function newParents(first: string, dir: string): string[] {
  const parents = [dirname(first)];
  let cur = first;
  for (const part of relative(first, dir).split(sep).filter(Boolean)) {
    parents.push(cur);
    cur = join(cur, part);
  }
  return parents;
}
