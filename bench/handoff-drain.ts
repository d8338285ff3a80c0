// How long hinted handoff takes to drain: kill one machine of a fresh local
// cluster, write files whose preference lists include it (each leaves a hinted
// copy elsewhere), restart it, and time until every hinted.json is empty.
//   npx tsx bench/handoff-drain.ts [--hints 1000] [--concurrency 16]
import { parseArgs } from 'node:util';
import { TestCluster, waitFor } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';
import { hintsOf, waitAllUp, waitSeen } from '../test/helpers/views.js';
import { Ring } from '../src/ring/ring.js';
import { objectKey } from '../src/ring/hash.js';

const { values } = parseArgs({ options: { hints: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '16' } } });
const HINTS = Number(values.hints);
const CONCURRENCY = Number(values.concurrency);

const cleanups: Array<() => unknown> = [];
const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { cron: true });
try {
  await c.startAll();
  await waitAllUp(c, 60_000);
  await call('POST', `${c.url()}/buckets/drain`);
  const ids = c.nodes.map((n) => n.id);
  const ring = new Ring({ version: 1, nodes: ids }, 256);
  const victim = 'node4';
  const others = ids.filter((i) => i !== victim);
  await c.kill(victim);
  const detectMs = await waitSeen(c, victim, 'down', others, 30_000);
  const keys: string[] = [];
  for (let i = 0; keys.length < HINTS; i++) if (ring.preferenceList(objectKey('drain', `f${i}`), 3).includes(victim)) keys.push(`f${i}`);
  const started = Date.now();
  let next = 0;
  const payload = Buffer.alloc(1024, 7);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        const r = await call('PUT', `${c.url(others[next % others.length])}/buckets/drain/${key}`, payload);
        if (r.status !== 200) throw new Error(`write failed: ${JSON.stringify(r.json)}`);
      }
    }),
  );
  const writeMs = Date.now() - started;
  await waitFor('hints listed', () => others.reduce((n, id) => n + hintsOf(c, id).length, 0) >= HINTS, 30_000, 100);
  const held = others.reduce((n, id) => n + hintsOf(c, id).length, 0);
  const restart = Date.now();
  await c.restart(victim);
  await waitFor('handoff to drain', () => others.every((id) => hintsOf(c, id).length === 0), 600_000, 100);
  const drainMs = Date.now() - restart;
  console.log(`detection of kill -9 by all live nodes: ${detectMs} ms`);
  console.log(`wrote ${HINTS} 1 KiB files with ${victim} down in ${writeMs} ms; ${held} hints held`);
  console.log(`restart of ${victim} to every hinted.json empty: ${drainMs} ms (${((held / drainMs) * 1000).toFixed(0)} hints/s)`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
