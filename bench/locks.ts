// What a lock costs: a fresh four-node cluster (with its schedulers, fsync
// before every acknowledgement), then over REST
//   - uncontended: one client takes and releases one file's lock, --rounds times;
//   - contended: --contenders clients each take the same lock (waiting in its
//     queue), hold it for --hold-ms, and release it, --rounds times each;
//   - a write of a locked file with its token, against a write of a file that
//     was never locked (the lock check is one extra read round on every write).
// It prints latency percentiles: for grants, from the request to the grant
// (under contention, queue time included), and the hand-over gap (a release
// answered to the next grant answered).
//   npx tsx bench/locks.ts [--rounds 200] [--contenders 16] [--hold-ms 5] [--quick]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TestCluster, waitFor } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';

const argv = await yargs(hideBin(process.argv))
  .option('rounds', { type: 'number', default: 200, describe: 'lock/unlock rounds (per contender when contended)' })
  .option('contenders', { type: 'number', default: 16 })
  .option('hold-ms', { type: 'number', default: 5, describe: 'how long a contender holds the lock' })
  .option('quick', { type: 'boolean', default: false, describe: 'a tiny run (CI)' })
  .strict()
  .parse();
const rounds = argv.quick ? 10 : argv.rounds;
const contenders = argv.quick ? 4 : argv.contenders;
const contendedRounds = argv.quick ? 3 : Math.max(1, Math.round(argv.rounds / 10));

const cleanups: Array<() => unknown> = [];
const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { cron: true, extra: { logLevel: 'warn' } });

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const row = (what: string, xs: number[]): void =>
  console.log(`${what.padEnd(44)} n=${String(xs.length).padStart(5)}  p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms  p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms  p99 ${pct(xs, 99).toFixed(1).padStart(7)} ms  max ${Math.max(...xs).toFixed(1).padStart(7)} ms`);

try {
  await c.startAll();
  await waitFor('every node takes locks', async () => {
    for (const n of c.nodes) if ((await call('GET', `${c.url(n.id)}/health`)).json?.locks !== 'ready') return false;
    return true;
  });
  const base = c.url('node1');
  if ((await call('POST', `${base}/buckets/bench-locks`)).status !== 200) throw new Error('cannot create the bucket');
  const lockUrl = (file: string, via = base): string => `${via}/buckets/bench-locks/${file}/lock`;
  let failures = 0;

  // Uncontended.
  const grant: number[] = [];
  const release: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const g = await call('POST', lockUrl('alone.txt'), '{"ttl_ms": 10000}', { 'content-type': 'application/json' });
    const t1 = performance.now();
    if (g.status !== 200) {
      failures++;
      continue;
    }
    const r = await call('DELETE', lockUrl('alone.txt'), undefined, { 'x-lock-token': String(g.json.fencing_token) });
    const t2 = performance.now();
    if (r.status !== 200) failures++;
    grant.push(t1 - t0);
    release.push(t2 - t1);
  }

  // Writes: a never-locked file against a locked one written with its token.
  const plain: number[] = [];
  const fenced: number[] = [];
  const g = await call('POST', lockUrl('fenced.txt'), '{"ttl_ms": 600000}', { 'content-type': 'application/json' });
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    if ((await call('PUT', `${base}/buckets/bench-locks/plain.txt`, 'x'.repeat(1024))).status !== 200) failures++;
    plain.push(performance.now() - t0);
    t0 = performance.now();
    if ((await call('PUT', `${base}/buckets/bench-locks/fenced.txt`, 'x'.repeat(1024), { 'x-lock-token': String(g.json.fencing_token) })).status !== 200) failures++;
    fenced.push(performance.now() - t0);
  }

  // Contended: every contender goes through a different node, as clients spread over a cluster do.
  const waits: number[] = [];
  const grants: Array<{ at: number; released: number }> = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: contenders }, async (_, client) => {
      const via = c.url(c.nodes[client % c.nodes.length]!.id);
      for (let i = 0; i < contendedRounds; i++) {
        const t0 = performance.now();
        const r = await call('POST', lockUrl('busy.txt', via), '{"ttl_ms": 10000, "wait_ms": 120000}', { 'content-type': 'application/json' });
        const t1 = performance.now();
        if (r.status !== 200) {
          failures++;
          continue;
        }
        waits.push(t1 - t0);
        await new Promise((res) => setTimeout(res, argv['hold-ms']));
        const u = await call('DELETE', lockUrl('busy.txt', via), undefined, { 'x-lock-token': String(r.json.fencing_token) });
        if (u.status !== 200) failures++;
        grants.push({ at: t1, released: performance.now() });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  grants.sort((a, b) => a.at - b.at);
  const gaps = grants.slice(1).map((gr, i) => Math.max(0, gr.at - grants[i]!.released));

  console.log(`a fresh four-node cluster (N=3, R=2, W=2, fsync), ${new Date().toISOString()}`);
  row('grant, uncontended', grant);
  row('release, uncontended', release);
  row('PUT 1 KiB, file never locked', plain);
  row('PUT 1 KiB, locked file, with its token', fenced);
  row(`grant with ${contenders} contenders (queue time incl.)`, waits);
  row(`hand-over gap with ${contenders} contenders`, gaps);
  console.log(`${grants.length} contended grants in ${seconds.toFixed(1)} s: ${(grants.length / seconds).toFixed(1)} grants/s (each held ${argv['hold-ms']} ms); ${failures} failed requests`);
  if (failures > 0) process.exitCode = 1;
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
