// The scheduler's state files in <dataDir>/<id>/. The scheduler (cron process)
// is their only writer, and each is replaced atomically; other processes only
// read them.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomic.js';

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
export async function writeState(nodeDir: string, name: string, content: unknown): Promise<void> {
  const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n';
  await writeFileAtomic(join(nodeDir, name), text, { durable: false });
}

/** The nodes this machine's scheduler considers down, and how old that view is (Infinity if there is none). */
export async function readDownSystem(nodeDir: string): Promise<{ down: string[]; ageMs: number }> {
  const path = join(nodeDir, DOWN_SYSTEM_JSON);
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const parsed = JSON.parse(text) as unknown;
    const down = Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
    return { down, ageMs: Date.now() - st.mtimeMs };
  } catch {
    return { down: [], ageMs: Infinity };
  }
}

export async function readJsonFile<T>(nodeDir: string, name: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(join(nodeDir, name), 'utf8')) as T;
  } catch {
    return null;
  }
}
