// The CLI's local copies of downloaded files (issue 14): a GET sends the ETag
// of the copy it holds (If-None-Match), and a 304 means the copy is current, so
// the file is not downloaded again. One entry per cluster, file and version,
// named by a hash of the three: the bytes, and a JSON record of their ETag.
// Both are written to a temporary name and renamed, so an entry is whole or
// absent; the record is written last and names the digest of the bytes, so a
// copy that does not match its record is not used.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CachedCopy {
  etag: string;
  version: string | null;
  body: Buffer;
}

/** $XDG_CACHE_HOME/ringstore, else ~/.cache/ringstore. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ringstore');
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

  get(bucket: string, file: string, version: string | undefined): CachedCopy | null {
    const at = this.name(bucket, file, version);
    try {
      const meta = JSON.parse(readFileSync(`${at}.json`, 'utf8')) as { etag: string; version: string | null; sha256: string };
      const body = readFileSync(`${at}.body`);
      if (createHash('sha256').update(body).digest('hex') !== meta.sha256) return null;
      return { etag: meta.etag, version: meta.version, body };
    } catch {
      return null; // none yet, or unreadable: downloaded again
    }
  }

  put(bucket: string, file: string, version: string | undefined, copy: CachedCopy): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const at = this.name(bucket, file, version);
    const tmp = `${at}.${process.pid}.tmp`;
    writeFileSync(tmp, copy.body, { mode: 0o600 });
    renameSync(tmp, `${at}.body`);
    const sha256 = createHash('sha256').update(copy.body).digest('hex');
    writeFileSync(tmp, JSON.stringify({ etag: copy.etag, version: copy.version, sha256, bucket, file }), { mode: 0o600 });
    renameSync(tmp, `${at}.json`);
  }
}
