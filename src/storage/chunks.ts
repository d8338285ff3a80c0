// The chunks of large files on one node: content-addressed, each named by the
// SHA-256 of its bytes and kept under chunks/<first two hex digits>/<hash>, so
// that equal chunks are stored once and a chunk never changes once written. A
// chunk kept for another owner (sloppy quorum) also leaves a mark under
// chunk-hints/<owner>/<hash>, for hinted handoff.
//
// Writes are atomic (temporary file, fsync, rename, fsync of the folder) and
// idempotent: a chunk put twice, or by two uploads at once, is one file.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CHUNK_REF_BYTES } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import { isErrno } from '../runtime/disk.js';
import type { Clock } from '../runtime/runtime.js';
import { TMP_MARK, type Volume } from './volume.js';

export const CHUNKS_DIR = 'chunks';
export const CHUNK_HINTS_DIR = 'chunk-hints';

/** The chunks' names, from a chunked version's list (its body: 32 bytes of SHA-256 each). */
export function chunkNames(list: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + CHUNK_REF_BYTES <= list.length; i += CHUNK_REF_BYTES) out.push(list.subarray(i, i + CHUNK_REF_BYTES).toString('hex'));
  return out;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class ChunkStore {
  /**
   * When each chunk was last put or touched, by this process (monotonic ms).
   * A chunk not in it counts as touched when the process started: after a
   * restart nothing is old before a grace period has passed, so a collection
   * never needs to know what a dead process saw.
   */
  private readonly touched = new Map<string, number>();
  private readonly startedAt: number;

  constructor(
    private readonly vol: Volume,
    /** The node's data folder. */
    private readonly root: string,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.monotonic();
  }

  private dirOf(hash: string): string {
    return join(this.root, CHUNKS_DIR, hash.slice(0, 2));
  }

  pathOf(hash: string): string {
    return join(this.dirOf(hash), hash);
  }

  /** Store a chunk durably; its bytes must hash to its name. With `hintFor`, mark it as held for that owner. */
  async put(hash: string, bytes: Buffer, hintFor?: string): Promise<void> {
    if (sha256Hex(bytes) !== hash) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `the chunk's bytes do not hash to its name ${hash}`);
    // Before the write: a collection that has found the chunk unreferenced now finds it young (an upload
    // whose file has an equal chunk puts it again, and writes its version later).
    this.touched.set(hash, this.clock.monotonic());
    if (this.vol.sizeOf(this.pathOf(hash)) !== bytes.length) {
      const dir = this.dirOf(hash);
      this.vol.ensureDir(dir);
      await this.vol.writeFileAtomic(this.pathOf(hash), bytes);
    }
    if (hintFor !== undefined) {
      const dir = join(this.root, CHUNK_HINTS_DIR, hintFor);
      this.vol.ensureDir(dir);
      await this.vol.writeFileAtomic(join(dir, hash), '');
    }
  }

  /** A chunk's bytes, or null if this node does not hold it. */
  async get(hash: string): Promise<Buffer | null> {
    try {
      return await this.vol.disk.readFile(this.pathOf(hash));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  /** Whether this node holds each chunk; with `touch`, those it holds count as just put (an upload under way keeps its chunks young). */
  has(hashes: readonly string[], touch = false): boolean[] {
    const now = this.clock.monotonic();
    return hashes.map((h) => {
      const held = this.vol.sizeOf(this.pathOf(h)) > 0;
      if (held && touch) this.touched.set(h, now);
      return held;
    });
  }

  /** Whether a chunk has been neither put nor touched for `graceMs`. */
  private isOld(hash: string, graceMs: number): boolean {
    return this.clock.monotonic() - (this.touched.get(hash) ?? this.startedAt) >= graceMs;
  }

  /** Hashes of chunks kept for other owners (never collected: hinted handoff delivers them first). */
  private async hinted(): Promise<Set<string>> {
    const top = join(this.root, CHUNK_HINTS_DIR);
    const out = new Set<string>();
    for (const owner of await this.vol.readdirOrEmpty(top)) for (const h of await this.vol.readdirOrEmpty(join(top, owner))) out.add(h);
    return out;
  }

  /** Up to `limit` chunks that a collection may consider: old, and not kept for another owner. */
  async candidates(graceMs: number, limit: number): Promise<string[]> {
    const hinted = await this.hinted();
    const top = join(this.root, CHUNKS_DIR);
    const out: string[] = [];
    for (const sub of await this.vol.readdirOrEmpty(top)) {
      for (const h of await this.vol.readdirOrEmpty(join(top, sub))) {
        if (h.includes(TMP_MARK) || hinted.has(h) || !this.isOld(h, graceMs)) continue;
        out.push(h);
        if (out.length === limit) return out;
      }
    }
    return out;
  }

  /** Remove chunks no version references (the caller checked every member), each only if it is still old now. */
  async collect(hashes: readonly string[], graceMs: number): Promise<number> {
    const hinted = await this.hinted();
    let removed = 0;
    for (const h of hashes) {
      if (hinted.has(h) || !this.isOld(h, graceMs)) continue;
      try {
        await this.vol.disk.unlink(this.pathOf(h));
        this.touched.delete(h);
        removed++;
      } catch {
        // gone already
      }
    }
    return removed;
  }

  /** A page of the chunks kept for other owners, in (owner, hash) order, after the cursor "<owner>/<hash>". */
  async hintPage(after: string | undefined, limit: number): Promise<{ entries: Array<{ owner: string; hash: string }>; next: string | null }> {
    const top = join(this.root, CHUNK_HINTS_DIR);
    const [afterOwner = '', afterHash = ''] = after?.split('/') ?? [];
    const entries: Array<{ owner: string; hash: string }> = [];
    for (const owner of await this.vol.readdirOrEmpty(top)) {
      if (owner < afterOwner) continue;
      for (const hash of await this.vol.readdirOrEmpty(join(top, owner))) {
        if (hash.includes(TMP_MARK) || (owner === afterOwner && hash <= afterHash)) continue;
        if (entries.length === limit) return { entries, next: `${owner}/${entries.at(-1)?.hash}` };
        entries.push({ owner, hash });
      }
    }
    return { entries, next: null };
  }

  /**
   * The owner has its copy: forget the hint. The chunk itself goes too when
   * `keep` says this node has no other reason to hold it (it owns it in no live
   * layout, and no other owner's hint names it). Whether a hint was removed.
   */
  async dropHint(owner: string, hash: string, keep: () => boolean): Promise<boolean> {
    const mark = join(this.root, CHUNK_HINTS_DIR, owner, hash);
    if (this.vol.sizeOf(mark) < 0) return false;
    await this.vol.disk.unlink(mark);
    const others = (await this.vol.readdirOrEmpty(join(this.root, CHUNK_HINTS_DIR))).some((o) => this.vol.sizeOf(join(this.root, CHUNK_HINTS_DIR, o, hash)) >= 0);
    if (!others && !keep()) await this.vol.disk.unlink(this.pathOf(hash)).catch(() => undefined);
    return true;
  }

  /** Remove the temporary files a crash left behind; how many. */
  async sweep(): Promise<number> {
    let removed = 0;
    const top = join(this.root, CHUNKS_DIR);
    for (const sub of await this.vol.readdirOrEmpty(top)) {
      for (const name of await this.vol.readdirOrEmpty(join(top, sub))) {
        if (!name.includes(TMP_MARK)) continue;
        await this.vol.disk.unlink(join(top, sub, name)).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }
}
