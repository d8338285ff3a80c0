// The CLI's local copies of downloaded files (issue 14): a GET sends the ETag
// of the copy it holds (If-None-Match), and a 304 means the copy is current, so
// the file is not downloaded again. One entry per cluster, file and version,
// named by a hash of the three: the bytes, and a JSON record of their ETag.
// Both are written to a temporary name and renamed, so an entry is whole or
// absent; the record is written last and names the digest of the bytes, so a
// copy that does not match its record is not used.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CachedCopy {
  etag: string;
  version: string | null;
  /** Where the bytes are, whole and checked against the record. */
  path: string;
}

/** $XDG_CACHE_HOME/ringstore, else ~/.cache/ringstore. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ringstore');
}

/** SHA-256 of a file, read as a stream (a copy may be large). */
async function digestOf(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export class FileCache {
  constructor(
    private readonly dir: string,
    /** What tells clusters apart: their endpoints. */
    private readonly cluster: readonly string[],
  ) {}

  private name(bucket: string, file: string, version: string | undefined): string {
    const id = JSON.stringify([[...this.cluster].sort(), bucket, file, version ?? null]);
    return join(this.dir, createHash('sha256').update(id).digest('hex').slice(0, 40));
  }

  async get(bucket: string, file: string, version: string | undefined): Promise<CachedCopy | null> {
    const at = this.name(bucket, file, version);
    try {
      const meta = JSON.parse(readFileSync(`${at}.json`, 'utf8')) as { etag: string; version: string | null; sha256: string };
      if ((await digestOf(`${at}.body`)) !== meta.sha256) return null;
      return { etag: meta.etag, version: meta.version, path: `${at}.body` };
    } catch {
      return null; // none yet, or unreadable: downloaded again
    }
  }

  /** A temporary file to write a download into, for keep() to take in once it is whole. */
  begin(): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return join(this.dir, `incoming.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  }

  /** Take in a downloaded copy written to `tmp` (from begin()), with the SHA-256 of its bytes. */
  keep(bucket: string, file: string, version: string | undefined, tmp: string, meta: { etag: string; version: string | null; sha256: string }): void {
    const at = this.name(bucket, file, version);
    renameSync(tmp, `${at}.body`);
    const rec = `${at}.${process.pid}.tmp`;
    writeFileSync(rec, JSON.stringify({ ...meta, bucket, file }), { mode: 0o600 });
    renameSync(rec, `${at}.json`);
  }

  discard(tmp: string): void {
    rmSync(tmp, { force: true });
  }
}
