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
 * under load would make the view look stale to its readers.
 */
export async function writeState(ctx: { vol: Volume; nodeDir: string }, name: string, content: unknown): Promise<void> {
  const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n';
  await ctx.vol.writeFileAtomic(join(ctx.nodeDir, name), text, { durable: false });
}
