// Large files (issue 13): one file of --size bytes (default 1 GiB) uploaded by
// a raw PUT through one REST node and downloaded through the same one, on a
// fresh four-node cluster with the default chunk size. The client streams both
// ways (it never holds the file); --rate holds the upload to that many MiB/s (a
// slow client: it must complete, however long it takes). Reports MiB/s each
// way, the time to the first byte of the GET, and every process's peak RSS
// (VmHWM) after the run.
// Run by bench/run.ts (--large), or alone:
//   npx tsx bench/large.ts [--size 1073741824] [--rate 8]
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TestCluster } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';

export interface LargeRow {
  bytes: number;
  putMiBps: number;
  getMiBps: number;
  firstByteMs: number;
  /** Peak RSS of each process (VmHWM), MiB. */
  peakMiB: Record<string, number>;
  sameBytes: boolean;
}

const MiB = 1024 * 1024;

function streamPut(url: string, total: number, mibPerSecond = 0): Promise<{ status: number; sha: string }> {
  const hash = createHash('sha256');
  // Pieces of 1 MiB, from a pool of 16 random ones (chunks differ: their offsets in the pool shift).
  const pool = Array.from({ length: 17 }, () => randomBytes(MiB));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'content-length': total } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha: hash.digest('hex') }));
    });
    req.on('error', reject);
    let sent = 0;
    let i = 0;
    const t0 = performance.now();
    const pump = (): void => {
      while (sent < total) {
        // Ahead of the rate: wait until the bytes sent are due.
        const due = mibPerSecond > 0 ? t0 + (sent / (mibPerSecond * MiB)) * 1000 : 0;
        if (due > performance.now()) return void setTimeout(pump, due - performance.now());
        const piece = (pool[i++ % pool.length] as Buffer).subarray(0, Math.min(MiB - (i % 7) * 4096, total - sent));
        hash.update(piece);
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function streamGet(url: string): Promise<{ status: number; length: number; sha: string; firstByteMs: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const hash = createHash('sha256');
        let length = 0;
        let first = -1;
        res.on('data', (d: Buffer) => {
          if (first < 0) first = performance.now() - t0;
          hash.update(d);
          length += d.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length, sha: hash.digest('hex'), firstByteMs: first }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function runLarge(bytes: number, print: (line: string) => void = console.log, mibPerSecond = 0): Promise<LargeRow> {
  const cleanups: Array<() => unknown> = [];
  const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { extra: { logLevel: 'warn' } });
  try {
    await c.startAll();
    await call('POST', `${c.url()}/buckets/large`);
    const t0 = performance.now();
    const up = await streamPut(`${c.url('node1')}/buckets/large/big.bin`, bytes, mibPerSecond);
    const putSeconds = (performance.now() - t0) / 1000;
    if (up.status !== 200) throw new Error(`the upload answered ${up.status}`);
    const t1 = performance.now();
    const down = await streamGet(`${c.url('node1')}/buckets/large/big.bin`);
    const getSeconds = (performance.now() - t1) / 1000;
    const peakMiB: Record<string, number> = {};
    for (const [key, p] of c.procs) peakMiB[key] = Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]) / 1024);
    const row: LargeRow = {
      bytes,
      putMiBps: Math.round(bytes / MiB / putSeconds),
      getMiBps: Math.round(bytes / MiB / getSeconds),
      firstByteMs: Math.round(down.firstByteMs * 10) / 10,
      peakMiB,
      sameBytes: down.status === 200 && down.length === bytes && down.sha === up.sha,
    };
    print(`large file of ${bytes / MiB} MiB through one REST node: PUT ${row.putMiBps} MiB/s, GET ${row.getMiBps} MiB/s, first byte of the GET after ${row.firstByteMs} ms, read back ${row.sameBytes ? 'byte for byte' : 'WRONG'}`);
    print(`peak RSS MiB: ${Object.entries(peakMiB).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    return row;
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

if (process.argv[1]?.endsWith('large.ts')) {
  const { default: yargs } = await import('yargs');
  const { hideBin } = await import('yargs/helpers');
  const argv = await yargs(hideBin(process.argv))
    .option('size', { type: 'number', default: 1024 * MiB, describe: 'bytes of the file' })
    .option('rate', { type: 'number', default: 0, describe: 'upload at this many MiB/s (0: as fast as it goes)' })
    .strict()
    .parse();
  await runLarge(argv.size, console.log, argv.rate);
  process.exit(0);
}
