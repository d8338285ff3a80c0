// Waiting on what the machines of a test cluster believe: their gossip views
// (GET /cluster) and their hint lists (hinted.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCluster } from './cluster.js';
import { waitFor } from './cluster.js';
import { call } from './http.js';

export async function statusSeenBy(c: TestCluster, observer: string): Promise<Record<string, string>> {
  const r = await call('GET', `${c.url(observer)}/cluster`);
  if (r.json.status_from !== 'gossip') return {};
  return Object.fromEntries(r.json.nodes.map((n: { id: string; status: string }) => [n.id, n.status]));
}

/** Wait until every observer's gossip view says `node` is `status`. */
export async function waitSeen(c: TestCluster, node: string, status: 'up' | 'down', observers: string[], timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  await waitFor(`${observers.join(',')} to see ${node} ${status}`, async () => {
    for (const o of observers) if ((await statusSeenBy(c, o))[node] !== status) return false;
    return true;
  }, timeoutMs, 100);
  return Date.now() - started;
}

export async function waitAllUp(c: TestCluster, timeoutMs = 20_000): Promise<void> {
  const ids = c.nodes.map((n) => n.id);
  for (const n of ids) await waitSeen(c, n, 'up', ids, timeoutMs);
}

export function hintsOf(c: TestCluster, id: string): Array<{ owner: string; bucket: string; file: string | null }> {
  try {
    return JSON.parse(readFileSync(join(c.dataDir(id), 'hinted.json'), 'utf8'));
  } catch {
    return [];
  }
}
