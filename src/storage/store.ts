// A replica's versions of every key it holds: one manifest per key holding its
// dotted-version-vector state, one blob per sibling holding its bytes (the
// layout is in layout.ts). A change goes to the node's journal first and is
// acknowledged once the journal's group fsync covers it; its files are written
// after that, without fsync, and a replay of the journal redoes them after a
// crash. Bodies over JOURNAL_INLINE_MAX do not go through the journal: they are written
// and fsynced in place first, and the journal records only the state naming them.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { covers, dotId, emptyState, equalStates, nextCounter, sync, update, type Dot } from '../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { BUCKETS_NS, bodyLength, txnActor, type Chunked, type KeyState, type Sibling, type TxnMeta } from '../protocol/messages.js';
import { isErrno } from '../runtime/disk.js';
import { randomHex, type Clock, type Random } from '../runtime/runtime.js';
import type { Identity } from './identity.js';
import type { Journal } from './journal.js';
import { BLOB, MANIFEST, MANIFEST_INLINE_MAX, blobPath, hasBody, inlineBodies, manifestPath, nameIndex, nsDir, type Manifest } from './layout.js';
import { NAMES_LOG, type NameIndex, type PageQuery } from './name-index.js';

/** In a bucket's folder: the bucket record's context under which the last purge completed. */
const PURGED = 'purged';
import { TMP_MARK, type Volume } from './volume.js';

export { hasBody } from './layout.js';

/** Bodies up to this size travel in the journal; larger ones are written in place, once. */
const JOURNAL_INLINE_MAX = 64 * 1024;

/** What every store of a process works with: its disk, clock and random source. */
export interface StorageEnv {
  vol: Volume;
  clock: Clock;
  random: Random;
}

/** What a store needs to change anything: who mints, and where changes are made durable. */
export interface StoreWriter {
  identity: Identity;
  journal: Journal;
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
  /** A bucket record: the user creating the bucket. */
  owner?: string | undefined;
  /** A transaction's write: its id and write set, kept on the version. */
  txn?: TxnMeta | undefined;
  /** A chunked file: `body` is its chunk list; the file's size and MD5 as the coordinator computed them. */
  chunked?: (Chunked & { size: number; etag: string }) | undefined;
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
  /** Told of every change of a key's state (the Merkle leaves kept up to date, replica/merkle-index.ts). */
  observer?: CommitObserver;
}

/**
 * Follows a store's changes. Each commit calls `changing` first, then
 * `changed` with the state before and after (at the instant the new state
 * becomes the one reads see; after a failed commit, the state its files hold),
 * or `unknown` when a failed commit left a state that cannot be read. Calls
 * for one key never overlap (its lock).
 */
export interface CommitObserver {
  changing(ns: string, key: string): void;
  changed(ns: string, key: string, was: KeyState | null, next: KeyState | null): void;
  unknown(ns: string, key: string): void;
}

/** Manifests the writing process keeps in memory (least recently used go first), by count and by bytes of bodies. */
const CACHE_ENTRIES = 50_000;
const CACHE_BODY_BYTES = 64 * 1024 * 1024;

/** What a manifest holds: the key's state and the bodies kept in it. */
interface Entry {
  state: KeyState;
  inline: Map<string, Buffer>;
}

const NO_BODIES = new Map<string, Buffer>();

function bodyBytes(e: Entry | null): number {
  let n = 0;
  for (const b of e?.inline.values() ?? []) n += b.length;
  return n;
}

export class Store {
  private readonly locks = new Map<string, Promise<unknown>>();
  /**
   * Only the process that writes a store may cache it (a reader's cache would go
   * stale). Every change passes through commit here, which updates it.
   */
  private readonly cache: Map<string, Entry | null> | null;
  private cacheBytes = 0;

  private readonly vol: Volume;

  constructor(
    private readonly env: StorageEnv,
    readonly root: string,
    /** Needed only to change anything; readers such as the handoff scheduler pass null. */
    private readonly writer: StoreWriter | null,
    private readonly log: Logger,
    private readonly opts: StoreOptions = {},
  ) {
    this.cache = writer ? new Map() : null;
    this.vol = env.vol;
  }

  nsDir(ns: string): string {
    return nsDir(this.root, ns);
  }

  private manifestPath(ns: string, key: string): string {
    return manifestPath(this.root, ns, key);
  }

  private blobPath(ns: string, key: string, dot: Dot): string {
    return blobPath(this.root, ns, key, dot);
  }

  private get w(): StoreWriter {
    if (!this.writer) throw new Error('this store was opened read-only');
    return this.writer;
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
    return this.load(ns, key)?.state ?? null;
  }

  /**
   * A key's manifest, from the writer's cache or the disk. Read synchronously:
   * the writer creates new manifests in place, synchronously too, so no read in
   * this process can see one half-written (and a small read is cheaper inline).
   */
  private load(ns: string, key: string): Entry | null {
    const k = `${ns}\0${key}`;
    const cached = this.cache?.get(k);
    if (cached !== undefined) {
      this.remember(k, cached);
      return cached;
    }
    const m = this.readManifest(ns, key);
    const entry = m && { state: m.state, inline: m.inline ? inlineBodies(m) : NO_BODIES };
    this.remember(k, entry);
    return entry;
  }

  private readManifest(ns: string, key: string): Manifest | null {
    try {
      return JSON.parse(this.vol.disk.readFileSync(this.manifestPath(ns, key)).toString('utf8')) as Manifest;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      return null;
    }
  }

  /** The writer's cache of manifests (entries of keys, or null for none), most recently used last. */
  private remember(k: string, entry: Entry | null): void {
    if (!this.cache) return;
    this.forget(k);
    this.cache.set(k, entry);
    this.cacheBytes += bodyBytes(entry);
    while (this.cache.size > CACHE_ENTRIES || this.cacheBytes > CACHE_BODY_BYTES) this.forget(this.cache.keys().next().value as string);
  }

  private forget(k: string): void {
    const old = this.cache?.get(k);
    if (old === undefined) return;
    this.cache?.delete(k);
    this.cacheBytes -= bodyBytes(old);
  }

  async readBody(ns: string, key: string, s: Sibling): Promise<Buffer> {
    if (!hasBody(s)) return Buffer.alloc(0);
    const kept = this.load(ns, key)?.inline.get(dotId(s.dot));
    if (kept) return kept;
    try {
      return await this.vol.disk.readFile(this.blobPath(ns, key, s.dot));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
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
      const identity = this.w.identity;
      const current = (await this.read(ns, key)) ?? emptyState<Sibling>();
      // A transaction's version has its own dot (protocol/messages.ts txnActor): one this replica has seen,
      // itself or what superseded it, is not written again.
      const txnDot: Dot | null = v.txn ? [txnActor(v.txn.id), 1] : null;
      if (txnDot && covers(current.context, txnDot)) return { state: current, dot: txnDot };
      const actor = txnDot ? txnDot[0] : this.opts.oneOffActors ? `${identity.actor}${randomHex(this.env.random, 5)}` : identity.actor;
      const n = txnDot ? 1 : this.opts.oneOffActors ? 1 : await identity.mint(nextCounter(current, clientContext, actor, 1));
      const sibling: Sibling = {
        dot: [actor, n],
        ...(v.deleted ? { deleted: true } : {}),
        size: v.deleted ? 0 : (v.chunked?.size ?? v.body.length),
        etag: v.deleted ? '' : (v.chunked?.etag ?? createHash('md5').update(v.body).digest('hex')),
        ts: this.env.clock.now(),
        // Exactly the versions this one supersedes. Its own dot is not merged in: {a: 9} would claim
        // a's versions 4 to 8 as seen, though a write with context {a: 3} is concurrent with them.
        clock: { ...clientContext },
        ...(v.contentType ? { type: v.contentType } : {}),
        ...(v.wid ? { wid: v.wid } : {}),
        ...(v.uidFromDot ? { uid: dotId([actor, n]) } : v.uid ? { uid: v.uid } : {}),
        ...(v.owner ? { owner: v.owner } : {}),
        ...(v.chunked && !v.deleted ? { chunked: { bytes: v.chunked.bytes, count: v.chunked.count } } : {}),
        ...(v.txn ? { txn: v.txn } : {}),
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
      await this.commit(ns, key, next, bodies);
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
      const given = new Map<string, Buffer>();
      for (const s of merged.siblings) {
        const id = dotId(s.dot);
        if (have.has(id) || !hasBody(s)) continue;
        const b = bodies.get(id);
        if (b && b.length !== bodyLength(s)) {
          throw new RingstoreError(ErrorCode.BAD_MESSAGE, `body of ${id} is ${b.length} bytes, its version says ${bodyLength(s)}`);
        }
        if (b) given.set(id, b);
        else if (this.vol.sizeOf(this.blobPath(ns, key, s.dot)) !== bodyLength(s)) missing.push(id);
      }
      if (missing.length > 0) {
        // Bodies may come over several messages (a frame holds only so much): the ones that came
        // are kept, durably, for the message that completes the set; the state changes only then.
        await this.writeBlobsDurable(ns, key, merged, given);
        return { state: current, changed: false, missing };
      }
      await this.commit(ns, key, merged, given);
      return { state: merged, changed: true, missing: [] };
    });
  }

  /** Write bodies in place and make them durable (large ones, and the early parts of a split sync). */
  private async writeBlobsDurable(ns: string, key: string, state: KeyState, bodies: Map<string, Buffer>): Promise<void> {
    if (bodies.size === 0) return;
    const dir = this.nsDir(ns);
    const write = (): Promise<unknown> => {
      this.vol.ensureDir(dir);
      return Promise.all(state.siblings.filter((s) => bodies.has(dotId(s.dot))).map((s) => this.vol.disk.writeFileDurable(this.blobPath(ns, key, s.dot), bodies.get(dotId(s.dot)) as Buffer)));
    };
    try {
      await write();
    } catch (err) {
      // The folder may have gone since it was seen (an emptied bucket's folder is removed).
      if (!isErrno(err, 'ENOENT')) throw err;
      this.vol.forgetDir(dir);
      await write();
    }
    await this.vol.syncDirGrouped(dir); // shared by the writes that land in this folder meanwhile
  }

  /**
   * Replace a key's state with `next`: the bodies it adds are in `bodies` (or
   * already durable in place); the blobs it drops are removed once it is durable.
   */
  private async commit(ns: string, key: string, next: KeyState | null, bodies: Map<string, Buffer>): Promise<void> {
    const k = `${ns}\0${key}`;
    const was = this.load(ns, key); // under the key's lock: what the caller read
    const current = was?.state ?? emptyState<Sibling>();
    const wasKept = was?.inline ?? NO_BODIES;
    const before = new Set(current.siblings.map((s) => dotId(s.dot)));
    const after = new Set((next?.siblings ?? []).map((s) => dotId(s.dot)));
    const inline = new Map<string, Buffer>();
    const blobs = new Map<string, Buffer>();
    const large = new Map<string, Buffer>();
    for (const s of next?.siblings ?? []) {
      if (!hasBody(s)) continue;
      const id = dotId(s.dot);
      const b = wasKept.get(id) ?? (before.has(id) ? undefined : bodies.get(id));
      if (!b) continue; // a blob file already (an older sibling, or a body that came in an earlier message)
      // A body received in a frame is a slice of it: the cache keeps a copy, not the whole frame.
      if (b.length <= MANIFEST_INLINE_MAX) inline.set(id, b.length === b.buffer.byteLength ? b : Buffer.from(b));
      else (b.length > JOURNAL_INLINE_MAX ? large : blobs).set(id, b);
    }
    this.opts.observer?.changing(ns, key);
    try {
      if (next) await this.writeBlobsDurable(ns, key, next, large);
      // A manifest is written in place only when it is new: rewriting one in place could tear the
      // previous version if the write failed (a full disk), with nothing left to repair it.
      await this.w.journal.append({ root: this.root, ns, key, state: next, inline, blobs, atomic: was !== null });
    } catch (err) {
      // Whether the change reached the files is not known here: forget the key, the next read goes to disk.
      this.forget(k);
      this.tellUnsure(ns, key, was?.state ?? null);
      throw err;
    }
    this.remember(k, next ? { state: next, inline: inline.size > 0 ? inline : NO_BODIES } : null);
    this.opts.observer?.changed(ns, key, was?.state ?? null, next);
    for (const s of current.siblings) {
      const id = dotId(s.dot);
      if (!after.has(id) && hasBody(s) && !wasKept.has(id)) await this.vol.disk.unlink(this.blobPath(ns, key, s.dot)).catch(() => undefined);
    }
    const live = next?.siblings.length ?? 0;
    if (live > (this.opts.siblingWarn ?? Infinity)) {
      this.log.warn('many siblings on one file: resolve them with a write that carries the context', { ns, key, siblings: live });
    }
  }

  /** A commit failed: the observer is told the state the files hold now, whichever it is. */
  private tellUnsure(ns: string, key: string, was: KeyState | null): void {
    const o = this.opts.observer;
    if (!o) return;
    let now: KeyState | null;
    try {
      // The manifest, as the next read sees it (the writer's cache just forgot the key), not names.log,
      // whose line may already tell of the change that failed.
      now = this.readManifest(ns, key)?.state ?? null;
    } catch {
      o.unknown(ns, key);
      return;
    }
    o.changed(ns, key, was, now);
  }

  /** The namespaces that hold anything: bucket names, and $buckets if records are stored. */
  async namespaces(): Promise<string[]> {
    const out = await this.vol.readdirOrEmpty(join(this.root, 'buckets'));
    if (this.vol.disk.statSync(this.nsDir(BUCKETS_NS))?.isDirectory) out.push(BUCKETS_NS);
    return out;
  }

  /** Up to `limit` key names of a namespace after `after`, in byte order, without reading their states. */
  names(ns: string, after: string | undefined, limit: number): { keys: string[]; truncated: boolean } {
    const { items, truncated } = this.index.page(ns, { after, limit });
    return { keys: items.flatMap((i) => ('key' in i ? [i.key] : [])), truncated };
  }

  /** Remove a key entirely, whatever it holds (a partition this node no longer owns, whose new owners have it). */
  drop(ns: string, key: string): Promise<boolean> {
    return this.withKey(ns, key, async () => {
      if (!(await this.read(ns, key))) return false;
      await this.commit(ns, key, null, new Map());
      return true;
    });
  }

  /** Remove a key entirely, but only if its state is still `expected` (a hint delivered and not written since). */
  removeIf(ns: string, key: string, expected: KeyState): Promise<boolean> {
    return this.withKey(ns, key, async () => {
      const current = await this.read(ns, key);
      if (!current || !equalStates(current, expected)) return false;
      await this.commit(ns, key, null, new Map());
      return true;
    });
  }

  /** The names of this store's keys, sorted, per namespace (see name-index.ts). */
  private get index(): NameIndex {
    return nameIndex(this.vol, this.root);
  }

  /** Every key of a namespace with its state (small namespaces: bucket records, a hint store, a purge). */
  async list(ns: string): Promise<Array<{ key: string; state: KeyState }>> {
    const out: Array<{ key: string; state: KeyState }> = [];
    for (const key of this.index.keys(ns)) {
      const state = await this.read(ns, key);
      if (state) out.push({ key, state });
    }
    return out;
  }

  /**
   * A page of a namespace in byte order of the names: keys with their states,
   * and common prefixes (see NameIndex.page). Costs the page, not the namespace.
   */
  async page(ns: string, q: PageQuery): Promise<{ items: Array<{ key: string; state: KeyState } | { prefix: string }>; truncated: boolean }> {
    const { items, truncated } = this.index.page(ns, q);
    const states = this.peekMany(
      ns,
      items.flatMap((i) => ('key' in i ? [i.key] : [])),
    );
    const out: Array<{ key: string; state: KeyState } | { prefix: string }> = [];
    let k = 0;
    for (const item of items) {
      if ('prefix' in item) out.push(item);
      else {
        const state = states[k++];
        if (state) out.push({ key: item.key, state });
      }
    }
    return { items: out, truncated };
  }

  /**
   * A key's state for a scan (a listing page, a Merkle tree), without its
   * bodies and without taking it into the writer's cache (a scan walks keys
   * that are not read again soon). See peekMany.
   */
  peek(ns: string, key: string): KeyState | null {
    return this.peekMany(ns, [key])[0] ?? null;
  }

  /**
   * The states of some keys of a namespace for a scan: from the writer's
   * cache, else from the summaries names.log keeps beside their names (one
   * read for the lot), else from their manifests; a summary read from a
   * manifest (a line of an older version, or a torn one) is written to the
   * log again, so the next scan finds it there.
   */
  peekMany(ns: string, keys: readonly string[]): Array<KeyState | null> {
    const out: Array<KeyState | null> = new Array<KeyState | null>(keys.length).fill(null);
    const uncached: number[] = [];
    keys.forEach((key, i) => {
      const cached = this.cache?.get(`${ns}\0${key}`);
      if (cached !== undefined) out[i] = cached?.state ?? null;
      else uncached.push(i);
    });
    const summaries = this.index.summaries(ns, uncached.map((i) => keys[i] as string));
    uncached.forEach((i, j) => {
      const key = keys[i] as string;
      let state = parseSummary(summaries[j]);
      if (!state) {
        state = this.readManifest(ns, key)?.state ?? null;
        if (state && this.writer) this.index.summarize(ns, key, JSON.stringify(state));
      }
      out[i] = state;
    });
    return out;
  }

  /** How many keys a namespace holds. */
  count(ns: string): number {
    return this.index.size(ns);
  }

  /**
   * Remove the versions of ended bucket incarnations, key by key under each
   * key's lock (a write racing the purge is never lost). A key left with no
   * version is removed; the bucket's folder goes once it is empty. `record` is
   * the bucket record's context: a purge that completed under the same record
   * is not done again (a start-up must not read every manifest of a bucket
   * whose incarnations have all been purged already).
   */
  async purgeBucket(bucket: string, ended: (uid: string | undefined) => boolean, record?: string): Promise<number> {
    const marker = join(this.nsDir(bucket), PURGED);
    if (record !== undefined) {
      try {
        if (this.vol.disk.readFileSync(marker).toString('utf8') === record) return 0;
      } catch {
        // no purge recorded
      }
    }
    let purged = 0;
    for (const key of this.index.keys(bucket)) {
      await this.withKey(bucket, key, async () => {
        const current = await this.read(bucket, key);
        if (!current) return;
        const kept = current.siblings.filter((s) => !ended(s.uid));
        if (kept.length === current.siblings.length) return;
        purged++;
        await this.commit(bucket, key, kept.length > 0 ? { context: current.context, siblings: kept } : null, new Map());
      });
    }
    if (purged > 0 && this.index.size(bucket) === 0) {
      // Only an empty folder goes (names.log and the marker with it): a write that landed meanwhile keeps it.
      const dir = this.nsDir(bucket);
      this.vol.forgetDir(dir);
      for (const f of await this.vol.readdirOrEmpty(dir)) if (f === NAMES_LOG || f === PURGED) await this.vol.disk.unlink(join(dir, f)).catch(() => undefined);
      this.index.forget(bucket);
      await this.vol.disk.rmdir(dir).catch(() => undefined);
      this.vol.forgetDir(dir); // a write meanwhile may have seen it still there
      await this.vol.disk.fsyncDir(join(this.root, 'buckets')).catch(() => undefined);
    } else if (record !== undefined && this.index.size(bucket) > 0) {
      // Not durable: losing it costs one more purge pass.
      await this.vol.writeFileAtomic(marker, record, { durable: false }).catch(() => undefined);
    }
    return purged;
  }

  /**
   * Remove what a crash can leave behind: temporary files, and blobs no
   * manifest names (a large body written before its journal record). Only the
   * manifests of keys that have blobs beside them are read, so a bucket of many
   * small files (kept inside their manifests) costs a directory listing. Runs in
   * the background after start-up.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    const dirs = [this.nsDir(BUCKETS_NS)];
    for (const b of await this.vol.readdirOrEmpty(join(this.root, 'buckets'))) dirs.push(this.nsDir(b));
    for (const dir of dirs) {
      const names = await this.vol.readdirOrEmpty(dir);
      const present = new Set(names);
      const referenced = new Set<string>();
      const stems = new Set(names.filter((n) => n.endsWith(BLOB) && !n.includes(TMP_MARK)).map((n) => n.slice(0, n.indexOf('~'))));
      for (const stem of stems) {
        if (!present.has(stem + MANIFEST)) continue;
        try {
          const m = JSON.parse((await this.vol.disk.readFile(join(dir, stem + MANIFEST))).toString('utf8')) as Manifest;
          for (const s of m.state.siblings) referenced.add(`${stem}~${s.dot[0]}~${s.dot[1]}${BLOB}`);
        } catch {
          // unreadable manifest: keep its blobs
          for (const n of names) if (n.startsWith(stem)) referenced.add(n);
        }
      }
      for (const name of names) {
        const orphan = name.endsWith(BLOB) && !referenced.has(name);
        if (name.includes(TMP_MARK) || orphan) {
          await this.vol.disk.unlink(join(dir, name)).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }
}

function parseSummary(text: string | undefined): KeyState | null {
  if (text === undefined) return null;
  try {
    const state = JSON.parse(text) as KeyState;
    return Array.isArray(state.siblings) && typeof state.context === 'object' && state.context !== null ? state : null;
  } catch {
    return null; // torn by a crash, then followed by a newline: the manifest says it
  }
}
