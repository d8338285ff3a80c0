// npm run bench: load a fresh local four-node cluster (N=3, R=2, W=2, fsync
// before every acknowledgement, as in production) over its REST API and print,
// per object size and concurrency, PUT then GET: ops/s, MiB/s, latency
// percentiles, errors, and every process's peak RSS and CPU seconds. Every GET
// body is checked against what was PUT. Results also go to bench/results/.
// Then the growth table (bench/growth.ts): one bucket filled to each size.
//   npx tsx bench/run.ts [--sizes 1024,1048576] [--counts 5000,300] [--concurrency 1,16,64]
//                        [--endpoint http://h:p,...] [--out bench/results] [--quick]
//                        [--growth 10000,100000[,1000000] | none]
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ROOT, TestCluster } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';
import { runGrowth, type GrowthRow } from './growth.js';

const argv = await yargs(hideBin(process.argv))
  .option('sizes', { type: 'string', default: '1024,1048576', describe: 'object sizes in bytes' })
  .option('counts', { type: 'string', default: '5000,300', describe: 'objects per size (one per size)' })
  .option('concurrency', { type: 'string', default: '1,16,64', describe: 'requests in flight' })
  .option('endpoint', { type: 'string', describe: 'REST URLs of an existing cluster, comma-separated (default: start a fresh one)' })
  .option('out', { type: 'string', default: join(ROOT, 'bench', 'results'), describe: 'folder for the JSON results' })
  .option('quick', { type: 'boolean', default: false, describe: 'a tiny run (CI): 1 KiB and 64 KiB, 50 and 10 objects, concurrency 1 and 8' })
  .option('growth', { type: 'string', default: '10000,100000', describe: 'the growth table: bucket sizes in files (add 1000000 for the big one; "none" to skip)' })
  .strict()
  .parse();

const list = (s: string): number[] => s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x) && x > 0);
const sizes = argv.quick ? [1024, 65536] : list(argv.sizes);
const counts = argv.quick ? [50, 10] : list(argv.counts);
const concurrencies = argv.quick ? [1, 8] : list(argv.concurrency);

interface Phase {
  op: 'PUT' | 'GET';
  size: number;
  concurrency: number;
  count: number;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  errors: number;
  mismatches: number;
}

const cleanups: Array<() => unknown> = [];
let endpoints: string[];
let cluster: TestCluster | null = null;
if (argv.endpoint) {
  endpoints = argv.endpoint.split(',').map((e) => e.replace(/\/+$/, ''));
} else {
  cluster = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { extra: { logLevel: 'warn' } });
  await cluster.startAll();
  endpoints = cluster.nodes.map((n) => cluster!.url(n.id));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const bucket = `bench-${Date.now().toString(36)}`;

/**
 * One request. The body is written part by part (no copy), and a response body
 * is fed to `check` chunk by chunk instead of being gathered: the load generator
 * shares the machine with the cluster, so it must cost as little as it can.
 */
function request(method: string, url: string, body: Buffer[] = [], check?: (chunk: Buffer) => void): Promise<number> {
  const u = new URL(url);
  const length = body.reduce((n, b) => n + b.length, 0);
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method, agent, headers: method === 'PUT' ? { 'content-length': length, 'content-type': 'application/octet-stream' } : {} },
      (res) => {
        res.on('data', (c: Buffer) => check?.(c));
        res.on('end', () => resolvePromise(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const part of body) req.write(part);
    req.end();
  });
}

/**
 * Object i of a size: a 32-byte header naming it, then a random tail shared by
 * every object of that size. Each object differs, and none is allocated whole.
 */
const HEAD = 32;
const tails = new Map<number, Buffer>();
function content(size: number, i: number): Buffer[] {
  const head = Buffer.alloc(Math.min(HEAD, size), 0x2e);
  head.write(`${i}:${size}`.slice(0, head.length), 'latin1');
  if (size <= HEAD) return [head];
  let tail = tails.get(size);
  if (!tail) tails.set(size, (tail = randomBytes(size - HEAD)));
  return [head, tail];
}

/** Compares a body, as it streams in, with content(size, i). */
function verifier(parts: Buffer[]): { feed(chunk: Buffer): void; ok(): boolean } {
  const expected = parts.reduce((n, b) => n + b.length, 0);
  let part = 0;
  let at = 0;
  let seen = 0;
  let same = true;
  return {
    feed(chunk) {
      seen += chunk.length;
      let p = 0;
      while (same && p < chunk.length) {
        const want = parts[part];
        if (!want) return void (same = false); // longer than expected
        const take = Math.min(chunk.length - p, want.length - at);
        if (chunk.compare(want, at, at + take, p, p + take) !== 0) same = false;
        p += take;
        at += take;
        if (at === want.length) {
          part++;
          at = 0;
        }
      }
    },
    ok: () => same && seen === expected,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function phase(op: 'PUT' | 'GET', size: number, count: number, concurrency: number, prefix: string): Promise<Phase> {
  const lat = new Float64Array(count);
  let next = 0;
  let errors = 0;
  let mismatches = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const url = `${endpoints[i % endpoints.length]}/buckets/${bucket}/${prefix}-${i}`;
        const expected = content(size, i);
        const t0 = process.hrtime.bigint();
        try {
          const check = op === 'GET' ? verifier(expected) : undefined;
          const status = op === 'PUT' ? await request('PUT', url, expected) : await request('GET', url, [], (c) => check?.feed(c));
          if (status !== 200) errors++;
          else if (check && !check.ok()) mismatches++;
        } catch {
          errors++;
        }
        lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = lat.slice().sort();
  return {
    op,
    size,
    concurrency,
    count,
    seconds,
    opsPerSec: count / seconds,
    mibPerSec: (count * size) / seconds / 1048576,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    errors,
    mismatches,
  };
}

interface ProcStat {
  process: string;
  peakRssMiB: number;
  cpuSeconds: number;
}

function procStats(): ProcStat[] {
  if (!cluster) return [];
  const tick = 100; // USER_HZ
  return [...cluster.procs].map(([name, p]) => {
    try {
      const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / tick;
      return { process: name, peakRssMiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024, cpuSeconds: cpu };
    } catch {
      return { process: name, peakRssMiB: NaN, cpuSeconds: NaN };
    }
  });
}

const sizeName = (n: number): string => (n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
const f = (n: number, d = 1): string => n.toFixed(d);

try {
  const created = await call('POST', `${endpoints[0]}/buckets/${bucket}`);
  if (created.status !== 200) throw new Error(`cannot create the bench bucket: ${JSON.stringify(created.json)}`);
  const phases: Phase[] = [];
  for (const [si, size] of sizes.entries()) {
    const count = counts[si] ?? counts.at(-1) ?? 100;
    for (const c of concurrencies) {
      const prefix = `s${size}-c${c}`;
      phases.push(await phase('PUT', size, count, c, prefix));
      phases.push(await phase('GET', size, count, c, prefix));
    }
  }
  const procs = procStats();
  const rows = phases.map((p) => [
    `${p.op} ${sizeName(p.size)}`,
    String(p.concurrency),
    String(p.count),
    f(p.opsPerSec, 0),
    f(p.mibPerSec, 1),
    f(p.p50, 2),
    f(p.p95, 2),
    f(p.p99, 2),
    f(p.p999, 2),
    String(p.errors + p.mismatches),
  ]);
  const head = ['op', 'conc', 'n', 'ops/s', 'MiB/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'errors'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (procs.length) {
    console.log('');
    console.log('process        peak RSS MiB  CPU s');
    for (const p of procs) console.log(`${p.process.padEnd(14)} ${f(p.peakRssMiB).padStart(12)}  ${f(p.cpuSeconds, 2).padStart(5)}`);
  }
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const growthSizes = argv.quick ? [1000] : argv.growth === 'none' ? [] : list(argv.growth);
  let growth: GrowthRow[] = [];
  if (growthSizes.length > 0 && !argv.endpoint) {
    console.log('\nthe store as it grows (one bucket, 1 KiB files, a fresh cluster):');
    growth = await runGrowth(growthSizes);
  }
  const result = {
    at: new Date().toISOString(),
    commit,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    cluster: argv.endpoint ? { endpoints } : { nodes: 4, n: 3, r: 2, w: 2, fsync: true },
    phases,
    processes: procs,
    growth,
  };
  const out = resolve(argv.out);
  mkdirSync(out, { recursive: true });
  const file = join(out, `${result.at.replace(/[:.]/g, '-')}-${commit}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  const bad = phases.reduce((n, p) => n + p.errors + p.mismatches, 0);
  if (bad > 0) {
    console.error(`${bad} requests failed or returned the wrong bytes`);
    process.exitCode = 1;
  }
} finally {
  agent.destroy();
  for (const fn of cleanups.reverse()) await fn();
}
