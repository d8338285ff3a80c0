// Crash-safe file replacement: write a temporary file, fsync it, rename it over
// the target, fsync the folder. A kill -9 at any instant leaves the old file or
// the new one, never a torn one. Temporary files carry TMP_MARK so a start-up
// sweep can remove the ones a crash left behind.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

export const TMP_MARK = '.tmp-';

export async function writeFileDurable(path: string, data: Buffer | string): Promise<void> {
  const fh = await open(path, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replace `path` atomically. Pass syncDir=false when the caller fsyncs the
 * folder once for several renames, durable=false for state that is recomputed
 * anyway (a reader must never see a torn file, but a crash may lose the last one).
 */
export async function writeFileAtomic(path: string, data: Buffer | string, opts: { syncDir?: boolean; durable?: boolean } = {}): Promise<void> {
  const tmp = `${path}${TMP_MARK}${randomBytes(6).toString('hex')}`;
  const durable = opts.durable ?? true;
  try {
    if (durable) await writeFileDurable(tmp, data);
    else await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (durable && (opts.syncDir ?? true)) await fsyncDir(dirname(path));
}

/** Make the renames and creations in a folder durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p that survives a power loss: each folder it creates is fsynced into its parent. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // Every folder from the first one created down to `dir` is new: make each entry durable in its parent.
  const parts = relative(first, dir).split(sep).filter(Boolean);
  let cur = first;
  await fsyncDir(dirname(first));
  for (const p of parts) {
    await fsyncDir(cur);
    cur = `${cur}${sep}${p}`;
  }
}

interface DirSync {
  running: Promise<void> | null;
  queued: Promise<void> | null;
}
const dirSyncs = new Map<string, DirSync>();

/**
 * fsync a folder, shared by everyone waiting on it: group commit for the
 * renames and creations of many concurrent writes in one folder. A caller
 * arriving while a sync runs may have renamed after it began, so it waits for
 * the next one, which all such callers share.
 */
export function syncDirGrouped(dir: string): Promise<void> {
  let st = dirSyncs.get(dir);
  if (!st) dirSyncs.set(dir, (st = { running: null, queued: null }));
  const state = st;
  const start = (): Promise<void> => {
    const p = fsyncDir(dir).finally(() => {
      if (state.running === p) state.running = null;
      if (!state.running && !state.queued) dirSyncs.delete(dir);
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
