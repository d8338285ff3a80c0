// The store as it grows (issue 18): one bucket of a fresh four-node cluster is
// filled with 1 KiB files up to each size asked for, and at each size the
// bench measures PUT and GET ops/s, the latency of a page of 1000 names (p50,
// p99 and max of 1000 pages from random places in the bucket, one at a time,
// once the writes end; p50 and p99 of 200 more right after the restarts), each
// node's start-up time after a kill -9 (until it answers /health and serves a
// page), every process's RSS, and the bytes on disk per file. Run by bench/run.ts (--growth), or alone:
//   npx tsx bench/growth.ts [--sizes 10000,100000,1000000] [--concurrency 32]
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TestCluster } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';

export interface GrowthRow {
  files: number;
  /** The whole bucket listed in pages of 1000, in order, every name once: how long it took. */
  walkSeconds: number;
  putOpsPerSec: number;
  getOpsPerSec: number;
  pageP50Ms: number;
  pageP99Ms: number;
  /** The slowest of the PAGES pages. */
  pageMaxMs: number;
  /** Pages sampled right after every node restarted. */
  restartedP50Ms: number;
  restartedP99Ms: number;
  startupMs: Record<string, number>;
  rssMiB: Record<string, number>;
  bytesPerFile: number;
}

/** Pages sampled once the writes end (a p99 of 100 samples would be their maximum). */
const PAGES = 1000;
/** Pages sampled right after the restarts. */
const PAGES_AFTER_RESTART = 200;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One request; sent once more when a pooled keep-alive socket turns out closed by the server (the idle-timeout race). */
async function request(method: string, url: string, body?: Buffer): Promise<number> {
  // A kept-alive socket the server closed meanwhile, or one dropped by a starved machine (CI runs the quick
  // bench beside the whole suite): tried again, a few times, after a pause.
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestOnce(method, url, body);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ECONNRESET' && code !== 'EPIPE') || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

function requestOnce(method: string, url: string, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const name = (i: number): string => `f-${String(i).padStart(8, '0')}`;

/** Run fn for each of `count` items, `concurrency` at a time; returns the seconds it took. */
async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

export async function runGrowth(sizes: number[], concurrency = 32, print: (line: string) => void = console.log): Promise<GrowthRow[]> {
  const cleanups: Array<() => unknown> = [];
  const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { extra: { logLevel: 'warn' } });
  const rows: GrowthRow[] = [];
  try {
    await c.startAll();
    await call('POST', `${c.url()}/buckets/growth`);
    const urls = c.nodes.map((n) => c.url(n.id));
    const body = Buffer.alloc(1024, 7);
    let written = 0;
    print('files       PUT ops/s  GET ops/s  page p50 ms  page p99 ms  page max ms  restarted p50/p99 ms  full walk s  start-up s (per node)     RSS MiB node/rest (max)  bytes/file');
    for (const size of sizes) {
      const count = size - written;
      const base = written;
      let errors = 0;
      const putSeconds = await pool(count, concurrency, async (i) => {
        const k = base + i;
        if ((await request('PUT', `${urls[k % urls.length]}/buckets/growth/${name(k)}`, body)) !== 200) errors++;
      });
      written = size;
      const gets = Math.min(2000, size);
      const getSeconds = await pool(gets, 16, async (i) => {
        const k = Math.floor(Math.random() * size);
        if ((await request('GET', `${urls[i % urls.length]}/buckets/growth/${name(k)}`)) !== 200) errors++;
      });
      // Pages of 1000 from random places, one at a time, once the writes have ended.
      const samplePages = async (count: number): Promise<number[]> => {
        const ms: number[] = [];
        for (let i = 0; i < count; i++) {
          const after = name(Math.floor(Math.random() * size));
          const t0 = performance.now();
          const r = await call('GET', `${urls[i % urls.length]}/buckets/growth?limit=1000&after=${after}`);
          ms.push(performance.now() - t0);
          if (r.status !== 200) errors++;
        }
        return ms;
      };
      const pages = await samplePages(size >= 10_000 ? PAGES : PAGES / 10); // the quick bench (CI) samples fewer
      // The whole bucket, a page of 1000 at a time: every name once, in order.
      const walkStarted = performance.now();
      let listed = 0;
      let previous = '';
      let after: string | null = null;
      do {
        const r = await call('GET', `${urls[0]}/buckets/growth?limit=1000${after !== null ? `&after=${encodeURIComponent(after)}` : ''}`);
        if (r.status !== 200) throw new Error(`a page answered ${r.status}`);
        for (const f of r.json.files as Array<{ name: string }>) {
          if (f.name <= previous) throw new Error(`${f.name} after ${previous}: out of order or twice`);
          previous = f.name;
          listed++;
        }
        after = r.json.next;
      } while (after !== null);
      if (listed !== size) throw new Error(`the walk listed ${listed} files of ${size}`);
      const walkSeconds = (performance.now() - walkStarted) / 1000;
      // Start-up after a kill -9, one node at a time: until it answers /health and serves a page.
      const startupMs: Record<string, number> = {};
      for (const n of c.nodes) {
        await c.kill(n.id);
        const t0 = performance.now();
        c.spawnRole(n.id, 'node');
        c.spawnRole(n.id, 'rest');
        for (;;) {
          const ok = await call('GET', `${c.url(n.id)}/buckets/growth?limit=10`).then((r) => r.status === 200, () => false);
          if (ok) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        startupMs[n.id] = Math.round(performance.now() - t0);
      }
      // The same right after the restarts: the nodes rebuild their Merkle leaves meanwhile.
      const restartedPages = await samplePages(size >= 10_000 ? PAGES_AFTER_RESTART : PAGES_AFTER_RESTART / 10);
      const rssMiB: Record<string, number> = {};
      for (const [key, p] of c.procs) {
        try {
          rssMiB[key] = Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]) / 1024);
        } catch {
          rssMiB[key] = NaN;
        }
      }
      const bytes = Number(execFileSync('du', ['-sb', `${c.dir}/data`]).toString().split('\t')[0]);
      const row: GrowthRow = {
        files: size,
        walkSeconds: Math.round(walkSeconds * 10) / 10,
        putOpsPerSec: Math.round(count / putSeconds),
        getOpsPerSec: Math.round(gets / getSeconds),
        pageP50Ms: Math.round(percentile(pages, 0.5) * 10) / 10,
        pageP99Ms: Math.round(percentile(pages, 0.99) * 10) / 10,
        pageMaxMs: Math.round(Math.max(...pages) * 10) / 10,
        restartedP50Ms: Math.round(percentile(restartedPages, 0.5) * 10) / 10,
        restartedP99Ms: Math.round(percentile(restartedPages, 0.99) * 10) / 10,
        startupMs,
        rssMiB,
        bytesPerFile: Math.round(bytes / size),
      };
      rows.push(row);
      const startups = Object.values(startupMs).map((ms) => (ms / 1000).toFixed(1)).join(' ');
      const maxRss = (role: string): number => Math.max(...Object.entries(rssMiB).filter(([k]) => k.endsWith(`/${role}`)).map(([, v]) => v));
      print(
        `${String(size).padEnd(10)}  ${String(row.putOpsPerSec).padStart(9)}  ${String(row.getOpsPerSec).padStart(9)}  ${row.pageP50Ms.toFixed(1).padStart(11)}  ${row.pageP99Ms.toFixed(1).padStart(11)}  ${row.pageMaxMs.toFixed(1).padStart(11)}  ${`${row.restartedP50Ms.toFixed(1)}/${row.restartedP99Ms.toFixed(1)}`.padStart(20)}  ${row.walkSeconds.toFixed(1).padStart(11)}  ${startups.padEnd(24)}  ${`${maxRss('node')}/${maxRss('rest')}`.padStart(23)}  ${String(row.bytesPerFile).padStart(10)}` +
          (errors ? `  (${errors} errors)` : ''),
      );
    }
  } catch (err) {
    // Which process, if any, was gone when it failed (its log is in the kept dir with RINGSTORE_KEEP_DIRS=1).
    for (const [key, p] of c.procs) if (p.exitCode !== null || p.signalCode !== null) print(`${key} had exited: code ${p.exitCode}, signal ${p.signalCode}`);
    throw err;
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
  return rows;
}

if (process.argv[1]?.endsWith('growth.ts')) {
  const { default: yargs } = await import('yargs');
  const { hideBin } = await import('yargs/helpers');
  const argv = await yargs(hideBin(process.argv))
    .option('sizes', { type: 'string', default: '10000,100000', describe: 'bucket sizes to measure at, in files (1000000 takes a while)' })
    .option('concurrency', { type: 'number', default: 32 })
    .strict()
    .parse();
  await runGrowth(argv.sizes.split(',').map(Number), argv.concurrency);
  process.exit(0);
}
