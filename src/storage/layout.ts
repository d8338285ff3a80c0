// Where a store's files live, and the one function that writes a key's change
// into them: a live commit (once the journal holds the change) and a journal
// replay at start-up both go through applyChange, so they cannot disagree.
//   <root>/buckets/<bucket>/<sha256(name)>.json                 manifest
//   <root>/buckets/<bucket>/<sha256(name)>~<actor>~<n>.blob     content of one sibling
//   <root>/system/buckets/...                                   bucket records, same format
// Small bodies (up to MANIFEST_INLINE_MAX) live inside the manifest, base64: one
// file per key instead of two, because creating a file is what costs most here
// (bench:micro: ~0.5 ms to create a 1 KiB file, ~2.5 µs to append it to one).
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { dotId, type Dot } from '../clock/dvv.js';
import { BUCKETS_NS, type KeyState, type Sibling } from '../protocol/messages.js';
import { TMP_MARK } from './atomic.js';
import { fileStem } from './names.js';

export const MANIFEST = '.json';
export const BLOB = '.blob';

/** Bodies up to this size are kept in the manifest. */
export const MANIFEST_INLINE_MAX = 4096;

export interface Manifest {
  v: 1;
  key: string;
  state: KeyState;
  /** Bodies kept in the manifest, base64, by dot id. */
  inline?: Record<string, string>;
}

export function encodeManifest(key: string, state: KeyState, inline: Map<string, Buffer>): string {
  const m: Manifest = { v: 1, key, state };
  if (inline.size > 0) m.inline = Object.fromEntries([...inline].map(([id, b]) => [id, b.toString('base64')]));
  return JSON.stringify(m);
}

export function inlineBodies(m: Manifest): Map<string, Buffer> {
  return new Map(Object.entries(m.inline ?? {}).map(([id, b64]) => [id, Buffer.from(b64, 'base64')]));
}

export function hasBody(s: Sibling): boolean {
  return !s.deleted && s.size > 0;
}

export function nsDir(root: string, ns: string): string {
  return ns === BUCKETS_NS ? join(root, 'system', 'buckets') : join(root, 'buckets', ns);
}

export function manifestPath(root: string, ns: string, key: string): string {
  return join(nsDir(root, ns), fileStem(key) + MANIFEST);
}

export function blobPath(root: string, ns: string, key: string, dot: Dot): string {
  return join(nsDir(root, ns), `${fileStem(key)}~${dot[0]}~${dot[1]}${BLOB}`);
}

/**
 * A key's new state (null: the key is removed) with every body its manifest
 * keeps (so a change never depends on the manifest it replaces), and the bodies
 * of new siblings to write as blob files; both by dot id.
 */
export interface Change {
  root: string;
  ns: string;
  key: string;
  state: KeyState | null;
  inline: Map<string, Buffer>;
  blobs: Map<string, Buffer>;
  /**
   * Replace the manifest by a rename: always when a reader in another process
   * must never see a torn one (hint stores, which the scheduler reads), and
   * whenever a manifest exists (a failed write must not tear the previous
   * version). Otherwise the new manifest is written in place: a crash mid-write
   * is repaired by the journal's replay, and within this process nothing reads
   * a manifest while it is being written.
   */
  atomic: boolean;
}

/** Folders this process has seen exist, durably: a commit need not ask the kernel again. */
const knownDirs = new Set<string>();

/** Forget a folder before removing it (a write racing the removal recreates it). */
export function forgetDir(dir: string): void {
  knownDirs.delete(dir);
}

/**
 * mkdir -p whose new folders survive a power loss (each is fsynced into its
 * parent). Synchronous: a folder is new only once per bucket or hint owner.
 */
export function ensureDir(dir: string): void {
  if (knownDirs.has(dir)) return;
  const first = mkdirSync(dir, { recursive: true });
  if (first !== undefined) {
    // Folders first .. dir are new: each one's entry is made durable in its parent.
    const parents = [dirname(first)];
    let cur = first;
    for (const part of relative(first, dir).split(sep).filter(Boolean)) {
      parents.push(cur);
      cur = join(cur, part);
    }
    for (const p of parents) fsyncDirSync(p);
  }
  knownDirs.add(dir);
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write a change into the store's files, synchronously and without fsync: it
 * runs only once the journal made the change durable, and a replay of the
 * journal redoes it after a crash. Synchronous calls because these are small
 * writes into the page cache: cheaper inline than three trips through libuv's
 * thread pool each. A replay passes unlessSame: after a kill -9 the files are
 * nearly all intact, and reading one back is far cheaper than creating it.
 */
export function applyChange(c: Change, opts: { unlessSame?: boolean } = {}): void {
  const manifest = manifestPath(c.root, c.ns, c.key);
  if (c.state === null) {
    try {
      unlinkSync(manifest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return;
  }
  const dir = nsDir(c.root, c.ns);
  const state = c.state;
  const write = (): void => {
    for (const s of state.siblings) {
      const body = c.blobs.get(dotId(s.dot));
      const path = blobPath(c.root, c.ns, c.key, s.dot);
      if (body && hasBody(s) && !(opts.unlessSame && sizeOf(path) === body.length)) writeFileSync(path, body);
    }
    const text = encodeManifest(c.key, state, c.inline);
    if (opts.unlessSame && contentOf(manifest) === text) return;
    if (!c.atomic) {
      try {
        return writeFileSync(manifest, text);
      } catch (err) {
        unlinkQuietly(manifest); // a new manifest: nothing older to keep, and a torn one must not stay
        throw err;
      }
    }
    const tmp = `${manifest}${TMP_MARK}${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(tmp, text);
      renameSync(tmp, manifest);
    } catch (err) {
      unlinkQuietly(tmp);
      throw err;
    }
  };
  ensureDir(dir);
  try {
    write();
  } catch (err) {
    // The folder may have gone since it was seen (an emptied bucket's folder is removed).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    forgetDir(dir);
    ensureDir(dir);
    write();
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

function contentOf(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
