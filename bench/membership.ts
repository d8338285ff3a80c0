// Membership change as it costs (issue 12): a four-node cluster holding
// --keys files of 1 KiB (default 10,000) takes a fifth machine, then gives one
// back, while clients keep reading and writing at --concurrency. For each
// change it prints: how long until every node showed the new epoch settled,
// the data moved (keys and bytes taken in by the receiving machines), the
// replicas moved against the optimum, and the client operations during the
// change (count, errors, p50/p99 latency) next to the same load before it.
//   npx tsx bench/membership.ts [--keys 10000] [--concurrency 8] [--quick]
// (--concurrency 0: the changes alone, with no client load)
import http from 'node:http';
import { TestCluster } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';
import { movedReplicas, type Layout } from '../src/ring/layout.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const quick = process.argv.includes('--quick');
const KEYS = arg('keys', quick ? 1000 : 10_000);
const CONCURRENCY = arg('concurrency', 8);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One request: its status, and for a failure the error code and message the node gave (0: no answer). */
function request(method: string, url: string, body?: Buffer): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => res.statusCode !== 200 && chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status === 200) return resolve({ status });
        let error = '';
        try {
          const e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string; message?: string } }).error;
          error = `${e?.code ?? '?'}: ${e?.message ?? ''}`;
        } catch {
          // not JSON
        }
        resolve({ status, error });
      });
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const name = (i: number): string => `k-${String(i).padStart(7, '0')}`;

/** A client load of half reads of existing files, half writes of new ones, until stopped: its latencies and failures. */
function load(urls: string[]): { stop: () => Promise<{ ops: number; errors: Record<string, number>; p50: number; p99: number; messages: string[] }> } {
  let running = true;
  const ms: number[] = [];
  const errors: Record<string, number> = {};
  const messages: string[] = [];
  const body = Buffer.alloc(1024, 3);
  let n = 0;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (running) {
      const i = n++;
      // Writes make new files: a write without a context to an existing one would add a sibling each time.
      const key = i % 2 === 0 ? name(Math.floor(Math.random() * KEYS)) : `new-${process.pid}-${i}`;
      const url = `${urls[i % urls.length]}/buckets/moving/${key}`;
      const t0 = performance.now();
      const { status, error } = i % 2 === 0 ? await request('GET', url) : await request('PUT', url, body);
      ms.push(performance.now() - t0);
      if (status !== 200) {
        errors[String(status)] = (errors[String(status)] ?? 0) + 1;
        if (messages.length < 5) messages.push(`${i % 2 === 0 ? 'GET' : 'PUT'} ${status} ${error ?? ''}`);
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return { ops: ms.length, errors, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), messages };
    },
  };
}

async function settled(c: TestCluster, ids: string[], epoch: number): Promise<void> {
  for (;;) {
    let all = true;
    for (const id of ids) {
      const r = await call('GET', `${c.url(id)}/cluster`).catch(() => null);
      if (!r || r.json.epoch !== epoch || r.json.settled !== true) all = false;
    }
    if (all) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function layout(c: TestCluster): Promise<Layout> {
  return (await call('GET', `${c.url('node1')}/cluster/layout`)).json.layout as Layout;
}

async function transfers(c: TestCluster, ids: string[]): Promise<{ keys: number; bytes: number }> {
  let keys = 0;
  let bytes = 0;
  for (const id of ids) {
    const t = (await call('GET', `${c.url(id)}/cluster`)).json.transfers;
    keys += t.keys;
    bytes += t.bytes;
  }
  return { keys, bytes };
}

const fmt = (l: { ops: number; errors: Record<string, number>; p50: number; p99: number; messages: string[] }, seconds: number): string =>
  (l.ops === 0 ? 'no client load' : `${l.ops} ops in ${seconds.toFixed(1)} s, errors ${JSON.stringify(l.errors)}, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms`) +
  l.messages.map((m) => `\n    ${m}`).join('');

async function main(): Promise<void> {
  const cleanups: Array<() => unknown> = [];
  const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { cron: true, spares: 1, extra: { logLevel: 'warn' } });
  try {
    await c.startAll();
    await call('POST', `${c.url()}/buckets/moving`);
    const seeds = c.nodes.map((n) => n.id);
    const urls = seeds.map((id) => c.url(id));
    const body = Buffer.alloc(1024, 7);
    let next = 0;
    const filled = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < KEYS) {
        const i = next++;
        if ((await request('PUT', `${urls[i % urls.length]}/buckets/moving/${name(i)}`, body)).status !== 200) throw new Error(`could not write ${name(i)}`);
      }
    }));
    console.log(`${KEYS} files of 1 KiB written in ${((performance.now() - filled) / 1000).toFixed(1)} s; load during the changes: ${CONCURRENCY} clients, half reads of these, half writes of new files`);
    await c.startNode('node5');
    // A baseline of the same load, 5 s, before anything changes.
    let l = load(urls);
    await new Promise((r) => setTimeout(r, 5000));
    console.log(`before:          ${fmt(await l.stop(), 5)}`);

    for (const change of [{ what: 'join node5 (4 -> 5)', epoch: 2 }, { what: 'leave node2 (5 -> 4)', epoch: 3 }]) {
      const before = await layout(c);
      const ids = change.epoch === 2 ? [...seeds, 'node5'] : ['node1', 'node3', 'node4', 'node5'];
      const moved0 = await transfers(c, ids);
      l = load(change.epoch === 2 ? urls : urls.filter((_, i) => i !== 1));
      const t0 = performance.now();
      const r =
        change.epoch === 2
          ? await call('POST', `${c.url('node1')}/cluster/members`, JSON.stringify({ id: 'node5', host: '127.0.0.1', port: c.node('node5').port, restPort: c.node('node5').restPort }))
          : await call('DELETE', `${c.url('node1')}/cluster/members/node2`);
      if (r.status !== 202) throw new Error(`${change.what}: ${r.status} ${JSON.stringify(r.json)}`);
      await settled(c, ids, change.epoch);
      const seconds = (performance.now() - t0) / 1000;
      const during = await l.stop();
      const after = await layout(c);
      const moved = movedReplicas(before, after) / (after.partitions * after.n);
      const data = await transfers(c, ids);
      console.log(`${change.what}: settled on every node in ${seconds.toFixed(1)} s; replicas moved ${(moved * 100).toFixed(1)}% (optimum 20.0%); taken in ${data.keys - moved0.keys} keys, ${((data.bytes - moved0.bytes) / 2 ** 20).toFixed(1)} MiB`);
      console.log(`  during it:     ${fmt(during, seconds)}`);
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    agent.destroy();
  }
}

await main();
