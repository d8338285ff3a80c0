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
import { ErrorCode, RingstoreError } from '../errors.js';
import { isErrno } from '../runtime/disk.js';
import { TMP_MARK, type Volume } from './volume.js';

export const CHUNKS_DIR = 'chunks';
export const CHUNK_HINTS_DIR = 'chunk-hints';

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class ChunkStore {
  constructor(
    private readonly vol: Volume,
    /** The node's data folder. */
    private readonly root: string,
  ) {}

  private dirOf(hash: string): string {
    return join(this.root, CHUNKS_DIR, hash.slice(0, 2));
  }

  pathOf(hash: string): string {
    return join(this.dirOf(hash), hash);
  }

  /** Store a chunk durably; its bytes must hash to its name. With `hintFor`, mark it as held for that owner. */
  async put(hash: string, bytes: Buffer, hintFor?: string): Promise<void> {
    if (sha256Hex(bytes) !== hash) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `the chunk's bytes do not hash to its name ${hash}`);
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

  /** Whether this node holds each chunk. */
  has(hashes: readonly string[]): boolean[] {
    return hashes.map((h) => this.vol.sizeOf(this.pathOf(h)) > 0);
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
