// The scheduler's state files in <dataDir>/<id>/: records for people. The
// scheduler (cron process) is their only writer, and each is replaced
// atomically; no process reads them (the view travels in messages).
import { join } from 'node:path';
import type { Volume } from '../storage/volume.js';

export const GOSSIP_TXT = 'gossip.txt';
export const DOWN_SYSTEM_JSON = 'down_system.json';
export const HINTED_JSON = 'hinted.json';
export const WORKERS_JSON = 'workers.json';

export interface HintEntry {
  owner: string;
  bucket: string;
  /** null for a bucket record */
  file: string | null;
  /** The newest version held for the owner, and all of them (siblings). */
  version: string;
  versions: string[];
  when: string;
}

/**
 * Replace a state file atomically (a reader never sees a torn one). Not fsynced:
 * every one of them is recomputed on the next tick, and waiting on the disk
 * under load would make the view look stale to its readers. A file that cannot
 * be written (a full disk) is skipped, not a failure of the work that wrote it:
 * it says why, and the next tick tries again.
 */
export async function writeState(ctx: { vol: Volume; nodeDir: string }, name: string, content: unknown): Promise<string | null> {
  const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n';
  try {
    await ctx.vol.writeFileAtomic(join(ctx.nodeDir, name), text, { durable: false });
    return null;
  } catch (err) {
    return `${name} not written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}
