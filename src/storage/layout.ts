// Where a store's files live, and the one function that writes a key's change
// into them: a live commit (once the journal holds the change) and a journal
// replay at start-up both go through applyChange, so they cannot disagree.
//   <root>/buckets/<bucket>/<sha256(name)>.json                 manifest
//   <root>/buckets/<bucket>/<sha256(name)>~<actor>~<n>.blob     content of one sibling
//   <root>/system/buckets/...                                   bucket records, same format
// Small bodies (up to MANIFEST_INLINE_MAX) live inside the manifest, base64: one
// file per key instead of two, because creating a file is what costs most here
// (bench:micro: ~0.5 ms to create a 1 KiB file, ~2.5 µs to append it to one).
import { join } from 'node:path';
import { dotId, type Dot } from '../clock/dvv.js';
import { BUCKETS_NS, bodyLength, type KeyState, type Sibling } from '../protocol/messages.js';
import { isErrno } from '../runtime/disk.js';
import { NameIndex } from './name-index.js';
import { fileStem } from './names.js';
import { TMP_MARK, type Volume } from './volume.js';

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
  return bodyLength(s) > 0;
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
   * Replace the manifest by a rename: whenever a manifest exists (a failed
   * write must not tear the previous version). Otherwise the new manifest is
   * written in place: a crash mid-write is repaired by the journal's replay,
   * and nothing reads a manifest while it is being written (only the socket
   * server's process reads a store's files).
   */
  atomic: boolean;
}

/**
 * Write a change into the store's files, synchronously and without fsync: it
 * runs only once the journal made the change durable, and a replay of the
 * journal redoes it after a crash. Synchronous calls because these are small
 * writes into the page cache: cheaper inline than three trips through libuv's
 * thread pool each. A replay passes unlessSame: after a kill -9 the files are
 * nearly all intact, and reading one back is far cheaper than creating it.
 */
export function applyChange(vol: Volume, c: Change, opts: { unlessSame?: boolean } = {}): void {
  const disk = vol.disk;
  const manifest = manifestPath(c.root, c.ns, c.key);
  if (c.state === null) {
    try {
      disk.unlinkSync(manifest);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    // After the manifest: a name left behind by a failure here is only skipped.
    nameIndex(vol, c.root).removed(c.ns, c.key);
    return;
  }
  const dir = nsDir(c.root, c.ns);
  const state = c.state;
  const write = (): void => {
    for (const s of state.siblings) {
      const body = c.blobs.get(dotId(s.dot));
      const path = blobPath(c.root, c.ns, c.key, s.dot);
      if (body && hasBody(s) && !(opts.unlessSame && vol.sizeOf(path) === body.length)) disk.writeFileSync(path, body);
    }
    const text = encodeManifest(c.key, state, c.inline);
    if (opts.unlessSame && contentOf(vol, manifest) === text) return;
    if (!c.atomic) {
      try {
        return disk.writeFileSync(manifest, text);
      } catch (err) {
        vol.unlinkQuietly(manifest); // a new manifest: nothing older to keep, and a torn one must not stay
        throw err;
      }
    }
    const tmp = vol.tmpPath(manifest);
    try {
      disk.writeFileSync(tmp, text);
      disk.renameSync(tmp, manifest);
    } catch (err) {
      vol.unlinkQuietly(tmp);
      throw err;
    }
  };
  vol.ensureDir(dir);
  // The name first: names.log may list a key whose manifest a failure kept from being written (a page
  // skips it), never the other way round. A replay does not know whether the name got there before
  // the crash: it says it again. The line carries the state without bodies, which a listing page
  // shows without opening the manifest.
  const summary = JSON.stringify(state);
  nameIndex(vol, c.root).added(c.ns, c.key, summary, opts.unlessSame === true);
  try {
    write();
  } catch (err) {
    // The folder may have gone since it was seen (an emptied bucket's folder is removed).
    if (!isErrno(err, 'ENOENT')) throw err;
    vol.forgetDir(dir);
    vol.ensureDir(dir);
    nameIndex(vol, c.root).added(c.ns, c.key, summary, true);
    write();
  }
}

/** Each store root's name index, one per process (its Volume), shared by the store and the journal's replay. */
const indexes = new WeakMap<Volume, Map<string, NameIndex>>();

export function nameIndex(vol: Volume, root: string): NameIndex {
  let byRoot = indexes.get(vol);
  if (!byRoot) indexes.set(vol, (byRoot = new Map()));
  let index = byRoot.get(root);
  if (!index) {
    index = new NameIndex(vol, (ns) => nsDir(root, ns), (ns) => namesFromManifests(vol, root, ns));
    byRoot.set(root, index);
  }
  return index;
}

/**
 * The keys of a namespace stored before names.log existed, read from its
 * manifests (once: the index writes names.log from them).
 */
function namesFromManifests(vol: Volume, root: string, ns: string): string[] {
  const dir = nsDir(root, ns);
  let files: string[];
  try {
    files = vol.disk.readdirSync(dir);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const f of files) {
    if (!f.endsWith(MANIFEST) || f.includes(TMP_MARK)) continue;
    try {
      names.push((JSON.parse(vol.disk.readFileSync(join(dir, f)).toString('utf8')) as Manifest).key);
    } catch {
      // unreadable: not a key this index can name
    }
  }
  return names;
}

function contentOf(vol: Volume, path: string): string | null {
  try {
    return vol.disk.readFileSync(path).toString('utf8');
  } catch {
    return null;
  }
}
