// A replica's versions of every key it holds. One manifest per key, holding its
// dotted-version-vector state; one blob per sibling holding its bytes. Layout:
//   <node>/buckets/<bucket>/<sha256(name)>.json          manifest
//   <node>/buckets/<bucket>/<sha256(name)>~<actor>~<n>.blob  content of one sibling
//   <node>/system/buckets/...                          bucket records, same format
// A change writes its new blobs, then replaces the manifest atomically, then
// fsyncs the folder; a crash leaves the old manifest or the new one, and at
// worst an orphan blob that the start-up sweep removes.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { dotId, emptyState, equalStates, nextCounter, sync, update, type Dot } from '../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { BUCKETS_NS, type KeyState, type Sibling } from '../protocol/messages.js';
import { TMP_MARK, fsyncDir, mkdirDurable, syncDirGrouped, writeFileDurable } from './atomic.js';
import type { Identity } from './identity.js';
import { fileStem } from './names.js';

const MANIFEST = '.json';
const BLOB = '.blob';

interface Manifest {
  v: 1;
  key: string;
  state: KeyState;
}

export interface NewVersion {
  deleted: boolean;
  body: Buffer;
  contentType?: string | undefined;
  uid?: string | undefined;
  /** A bucket record creating an incarnation: its uid is its own version id. */
  uidFromDot?: boolean;
  /** The id of the client's write. */
  wid?: string | undefined;
}

export interface StoreOptions {
  /** Log a warning when a key has more siblings than this. */
  siblingWarn?: number;
  /** Refuse a write that would leave a key with more siblings than this. */
  siblingMax?: number;
  /**
   * Mint every version under an actor of its own. For hint stores: they drop a
   * key's history once it is handed off, and a later version minted under the
   * node's usual actor would then claim (cover) the dropped ones, which its
   * writer never saw. A one-off actor covers nothing but itself.
   */
  oneOffActors?: boolean;
}

export function hasBody(s: Sibling): boolean {
  return !s.deleted && s.size > 0;
}

/** Manifests the writing process keeps in memory (least recently used go first). */
const CACHE_ENTRIES = 50_000;

export class Store {
  private readonly locks = new Map<string, Promise<unknown>>();
  /**
   * Only the process that writes a store may cache it (a reader's cache would go
   * stale). Every change passes through commit or a removal here, which updates it.
   */
  private readonly cache: Map<string, KeyState | null> | null;
  private writes = 0;

  constructor(
    readonly root: string,
    /** Needed only to mint (update); readers such as the handoff scheduler pass null. */
    private readonly identity: Identity | null,
    private readonly log: Logger,
    private readonly opts: StoreOptions = {},
  ) {
    this.cache = identity ? new Map() : null;
  }

  nsDir(ns: string): string {
    return ns === BUCKETS_NS ? join(this.root, 'system', 'buckets') : join(this.root, 'buckets', ns);
  }

  private manifestPath(ns: string, key: string): string {
    return join(this.nsDir(ns), fileStem(key) + MANIFEST);
  }

  private blobPath(ns: string, key: string, dot: Dot): string {
    return join(this.nsDir(ns), `${fileStem(key)}~${dot[0]}~${dot[1]}${BLOB}`);
  }

  /** Run fn with this key to itself: the store is the only writer of its files. */
  private withKey<T>(ns: string, key: string, fn: () => Promise<T>): Promise<T> {
    const k = `${ns}\0${key}`;
    const prev = this.locks.get(k) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return run;
  }

  async read(ns: string, key: string): Promise<KeyState | null> {
    const k = `${ns}\0${key}`;
    const cached = this.cache?.get(k);
    if (cached !== undefined) {
      this.cache?.delete(k);
      this.cache?.set(k, cached);
      return cached;
    }
    const writesBefore = this.writes;
    let state: KeyState | null;
    try {
      state = (JSON.parse(await readFile(this.manifestPath(ns, key), 'utf8')) as Manifest).state;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      state = null;
    }
    // Only a read that no write overlapped may fill the cache: it could otherwise put back an older state.
    if (this.writes === writesBefore) this.remember(k, state);
    return state;
  }

  /** The writer's cache of manifests (states of keys, or null for none). */
  private remember(k: string, state: KeyState | null): void {
    if (!this.cache) return;
    this.cache.delete(k);
    this.cache.set(k, state);
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** Record that a key changed on disk (called under its lock, once the change is durable). */
  private changed(ns: string, key: string, state: KeyState | null): void {
    this.writes++;
    this.remember(`${ns}\0${key}`, state);
  }

  async readBody(ns: string, key: string, s: Sibling): Promise<Buffer> {
    if (!hasBody(s)) return Buffer.alloc(0);
    try {
      return await readFile(this.blobPath(ns, key, s.dot));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RingstoreError(ErrorCode.NO_SUCH_VERSION, `version ${dotId(s.dot)} of ${key} is not stored here`);
      }
      throw err;
    }
  }

  /**
   * A new version coordinated by this replica: mint its dot, drop what the
   * client's context covers, store durably. Returns the new state and dot.
   */
  update(ns: string, key: string, clientContext: KeyState['context'], v: NewVersion): Promise<{ state: KeyState; dot: Dot }> {
    return this.withKey(ns, key, async () => {
      if (!this.identity) throw new Error('this store was opened read-only');
      const identity = this.identity;
      const current = (await this.read(ns, key)) ?? emptyState<Sibling>();
      const actor = this.opts.oneOffActors ? `${identity.actor}${randomBytes(5).toString('hex')}` : identity.actor;
      const n = this.opts.oneOffActors ? 1 : await identity.mint(nextCounter(current, clientContext, actor, 1));
      const sibling: Sibling = {
        dot: [actor, n],
        ...(v.deleted ? { deleted: true } : {}),
        size: v.deleted ? 0 : v.body.length,
        etag: v.deleted ? '' : createHash('md5').update(v.body).digest('hex'),
        ts: Date.now(),
        clock: { ...clientContext, [actor]: n },
        ...(v.contentType ? { type: v.contentType } : {}),
        ...(v.wid ? { wid: v.wid } : {}),
        ...(v.uidFromDot ? { uid: dotId([actor, n]) } : v.uid ? { uid: v.uid } : {}),
      };
      const next = update(current, clientContext, sibling) as KeyState;
      const max = this.opts.siblingMax ?? Infinity;
      if (next.siblings.length > max) {
        throw new RingstoreError(
          ErrorCode.TOO_MANY_SIBLINGS,
          `${key} would have ${next.siblings.length} concurrent versions (the cap is ${max}): read it and write the resolution with the context of that read`,
          { details: { siblings: next.siblings.length, max } },
        );
      }
      const bodies = new Map<string, Buffer>();
      if (hasBody(sibling)) bodies.set(dotId(sibling.dot), v.body);
      await this.commit(ns, key, current, next, bodies);
      return { state: next, dot: sibling.dot };
    });
  }

  /**
   * Merge another replica's state. Bodies of siblings this replica lacks must
   * be supplied; if any is missing nothing changes and their dot ids are returned.
   */
  sync(ns: string, key: string, remote: KeyState, bodies: Map<string, Buffer>): Promise<{ state: KeyState; changed: boolean; missing: string[] }> {
    return this.withKey(ns, key, async () => {
      const current = (await this.read(ns, key)) ?? emptyState<Sibling>();
      const merged = sync(current, remote) as KeyState;
      if (equalStates(merged, current)) return { state: current, changed: false, missing: [] };
      const have = new Set(current.siblings.map((s) => dotId(s.dot)));
      const missing: string[] = [];
      await mkdirDurable(this.nsDir(ns));
      for (const s of merged.siblings) {
        const id = dotId(s.dot);
        if (have.has(id) || !hasBody(s)) continue;
        const b = bodies.get(id);
        if (b && b.length !== s.size) {
          throw new RingstoreError(ErrorCode.BAD_MESSAGE, `body of ${id} is ${b.length} bytes, its version says ${s.size}`);
        }
        // Bodies may come over several messages (a frame holds only so much): each one is
        // written as soon as it arrives, and the state changes once all are on disk.
        if (b) await writeFileDurable(this.blobPath(ns, key, s.dot), b);
        else if (!(await hasFile(this.blobPath(ns, key, s.dot), s.size))) missing.push(id);
      }
      if (missing.length > 0) return { state: current, changed: false, missing };
      await this.commit(ns, key, current, merged, bodies, true);
      return { state: merged, changed: true, missing: [] };
    });
  }

  /** Replace a key's state with `next`, writing the blobs it adds and removing the ones it drops. */
  private async commit(ns: string, key: string, current: KeyState, next: KeyState, bodies: Map<string, Buffer>, blobsWritten = false): Promise<void> {
    const dir = this.nsDir(ns);
    await mkdirDurable(dir);
    const before = new Set(current.siblings.map((s) => dotId(s.dot)));
    const after = new Set(next.siblings.map((s) => dotId(s.dot)));
    // New blobs (a blob's name is unique to its dot, so it is written in place) and the new manifest
    // under a temporary name are written and fsynced together; only then does the rename make the
    // manifest name them. One folder fsync, shared with concurrent writes, makes the entries durable.
    const writes: Promise<void>[] = [];
    for (const s of next.siblings) {
      const id = dotId(s.dot);
      if (blobsWritten || before.has(id) || !hasBody(s)) continue;
      writes.push(writeFileDurable(this.blobPath(ns, key, s.dot), bodies.get(id) as Buffer));
    }
    const manifest: Manifest = { v: 1, key, state: next };
    const path = this.manifestPath(ns, key);
    const tmp = `${path}${TMP_MARK}${randomBytes(6).toString('hex')}`;
    writes.push(writeFileDurable(tmp, JSON.stringify(manifest)));
    try {
      await Promise.all(writes);
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      // Whether the rename happened is not known here: forget the key, the next read goes to disk.
      this.writes++;
      this.cache?.delete(`${ns}\0${key}`);
      throw err;
    }
    try {
      await syncDirGrouped(dir);
    } finally {
      this.changed(ns, key, next); // renamed: this is what the disk holds now
    }
    for (const s of current.siblings) {
      if (!after.has(dotId(s.dot)) && hasBody(s)) await unlink(this.blobPath(ns, key, s.dot)).catch(() => undefined);
    }
    const live = next.siblings.length;
    if (live > (this.opts.siblingWarn ?? Infinity)) {
      this.log.warn('many siblings on one file: resolve them with a write that carries the context', { ns, key, siblings: live });
    }
  }

  /** The namespaces that hold anything: bucket names, and $buckets if records are stored. */
  async namespaces(): Promise<string[]> {
    const out: string[] = [];
    try {
      out.push(...(await readdir(join(this.root, 'buckets'))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await readdir(this.nsDir(BUCKETS_NS));
      out.push(BUCKETS_NS);
    } catch {
      // no records here
    }
    return out;
  }

  /** Remove a key entirely, but only if its state is still `expected` (a hint delivered and not written since). */
  removeIf(ns: string, key: string, expected: KeyState): Promise<boolean> {
    return this.withKey(ns, key, async () => {
      const current = await this.read(ns, key);
      if (!current || !equalStates(current, expected)) return false;
      await unlink(this.manifestPath(ns, key));
      this.changed(ns, key, null);
      await fsyncDir(this.nsDir(ns));
      for (const s of current.siblings) if (hasBody(s)) await unlink(this.blobPath(ns, key, s.dot)).catch(() => undefined);
      return true;
    });
  }

  /** Every key of a namespace with its state. */
  async list(ns: string): Promise<Array<{ key: string; state: KeyState }>> {
    let names: string[];
    try {
      names = await readdir(this.nsDir(ns));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Array<{ key: string; state: KeyState }> = [];
    for (const name of names) {
      if (!name.endsWith(MANIFEST) || name.includes(TMP_MARK)) continue;
      try {
        const m = JSON.parse(await readFile(join(this.nsDir(ns), name), 'utf8')) as Manifest;
        out.push({ key: m.key, state: m.state });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }

  /**
   * Remove the versions of ended bucket incarnations, key by key under each
   * key's lock (a write racing the purge is never lost). A key left with no
   * version is removed; the bucket's folder goes once it is empty.
   */
  async purgeBucket(bucket: string, ended: (uid: string | undefined) => boolean): Promise<number> {
    let purged = 0;
    for (const { key } of await this.list(bucket)) {
      await this.withKey(bucket, key, async () => {
        const current = await this.read(bucket, key);
        if (!current) return;
        const kept = current.siblings.filter((s) => !ended(s.uid));
        if (kept.length === current.siblings.length) return;
        purged++;
        if (kept.length > 0) {
          await this.commit(bucket, key, current, { context: current.context, siblings: kept }, new Map());
          return;
        }
        await unlink(this.manifestPath(bucket, key)).catch(() => undefined);
        this.changed(bucket, key, null);
        for (const s of current.siblings) if (hasBody(s)) await unlink(this.blobPath(bucket, key, s.dot)).catch(() => undefined);
      });
    }
    if (purged > 0) {
      // Only an empty folder goes: a write that landed meanwhile keeps it.
      await rmdir(this.nsDir(bucket)).catch(() => undefined);
      await fsyncDir(join(this.root, 'buckets')).catch(() => undefined);
    }
    return purged;
  }

  /** Remove what a crash can leave behind: temporary files and blobs no manifest names. */
  async sweep(): Promise<number> {
    let removed = 0;
    const dirs = [this.nsDir(BUCKETS_NS)];
    try {
      for (const b of await readdir(join(this.root, 'buckets'))) dirs.push(this.nsDir(b));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const dir of dirs) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const referenced = new Set<string>();
      for (const name of names) {
        if (!name.endsWith(MANIFEST) || name.includes(TMP_MARK)) continue;
        try {
          const m = JSON.parse(await readFile(join(dir, name), 'utf8')) as Manifest;
          const stem = name.slice(0, -MANIFEST.length);
          for (const s of m.state.siblings) referenced.add(`${stem}~${s.dot[0]}~${s.dot[1]}${BLOB}`);
        } catch {
          // unreadable manifest: keep its blobs
          const stem = name.slice(0, -MANIFEST.length);
          for (const n of names) if (n.startsWith(stem)) referenced.add(n);
        }
      }
      for (const name of names) {
        const orphan = name.endsWith(BLOB) && !referenced.has(name);
        if (name.includes(TMP_MARK) || orphan) {
          await unlink(join(dir, name)).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }
}

async function hasFile(path: string, size: number): Promise<boolean> {
  try {
    return (await stat(path)).size === size;
  } catch {
    return false;
  }
}
