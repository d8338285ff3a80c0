// Transactions (issue 16) on a fresh local four-node cluster: commit latency
// for 2 and 10 files (one client, one transaction at a time, files no one else
// touches), read-atomic read latency, and the abort rate under contention
// (clients moving money between 4 accounts, each a read-atomic read and then a
// transaction with its contexts).
//   npm run bench:transactions [-- --count 100 --clients 8 --transfers 25]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TestCluster, waitFor } from '../test/helpers/cluster.js';
import { call } from '../test/helpers/http.js';

const argv = await yargs(hideBin(process.argv))
  .option('count', { type: 'number', default: 100, describe: 'transactions per size' })
  .option('clients', { type: 'number', default: 8, describe: 'contending clients' })
  .option('transfers', { type: 'number', default: 25, describe: 'transfers each contending client tries' })
  .strict()
  .parse();

const cleanups: Array<() => unknown> = [];
const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { cron: true, extra: { logLevel: 'warn' } });
const json = { 'content-type': 'application/json' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
try {
  await c.startAll();
  await waitFor('compare-and-set ready', async () => {
    for (const n of c.nodes) if ((await call('GET', `${c.url(n.id)}/health`)).json?.locks !== 'ready') return false;
    return true;
  });
  await call('POST', `${c.url()}/buckets/txbench`);
  const rows: string[] = [];
  for (const files of [2, 10]) {
    const ms: number[] = [];
    for (let i = 0; i < argv.count; i++) {
      const ops = Array.from({ length: files }, (_, k) => ({ op: 'put', bucket: 'txbench', file: `s${files}-t${i}-f${k}`, content_base64: b64(`${i}:${k}`) }));
      const t0 = performance.now();
      const r = await call('POST', `${c.url(`node${1 + (i % 4)}`)}/transactions`, JSON.stringify({ ops }), json);
      ms.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`a commit of ${files} files answered ${r.status}: ${JSON.stringify(r.json)}`);
    }
    rows.push(`commit of ${String(files).padStart(2)} files  p50 ${pct(ms, 50).toFixed(1)} ms  p99 ${pct(ms, 99).toFixed(1)} ms  (${argv.count} in a row)`);
  }
  const accounts = ['a', 'b', 'c', 'd'].map((f) => ({ bucket: 'txbench', file: `acct-${f}` }));
  await call('POST', `${c.url()}/transactions`, JSON.stringify({ ops: accounts.map((a) => ({ op: 'put', ...a, content_base64: b64('1000') })) }), json);
  const reads: number[] = [];
  let committed = 0;
  let conflicts = 0;
  let other = 0;
  await Promise.all(
    Array.from({ length: argv.clients }, async (_, w) => {
      for (let i = 0; i < argv.transfers; i++) {
        const from = accounts[(w + i) % 4] as { bucket: string; file: string };
        const to = accounts[(w + i + 1 + (i % 3)) % 4] as { bucket: string; file: string };
        const via = c.url(`node${1 + ((w + i) % 4)}`);
        const t0 = performance.now();
        const seen = await call('POST', `${via}/transactions/read`, JSON.stringify({ files: [from, to] }), json);
        reads.push(performance.now() - t0);
        if (seen.status !== 200) {
          other++;
          continue;
        }
        const [f, g] = seen.json.files;
        const n = (x: { content_base64: string }): number => Number(Buffer.from(x.content_base64, 'base64').toString());
        const r = await call('POST', `${via}/transactions`, JSON.stringify({ ops: [
          { op: 'put', ...from, content_base64: b64(String(n(f) - 1)), context: f.context },
          { op: 'put', ...to, content_base64: b64(String(n(g) + 1)), context: g.context },
        ] }), json);
        if (r.status === 200) committed++;
        else if (r.status === 409) conflicts++;
        else other++;
      }
    }),
  );
  const tried = committed + conflicts + other;
  rows.push(`read-atomic read of 2 files  p50 ${pct(reads, 50).toFixed(1)} ms  p99 ${pct(reads, 99).toFixed(1)} ms`);
  rows.push(`contention: ${argv.clients} clients x ${argv.transfers} transfers on 4 accounts: ${committed} committed, ${conflicts} refused (409), ${other} other; abort rate ${((conflicts / tried) * 100).toFixed(1)}%`);
  for (const r of rows) console.log(r);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
process.exit(0);
