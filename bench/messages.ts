// What one request/reply pair over the cluster transport costs: a client in
// this process sends `read` requests (state only, for a key that exists, so the
// node answers from its cache) to one node process at a concurrency, and the
// CPU seconds of both processes are divided by the number of pairs.
//   npx tsx bench/messages.ts [--n 20000] [--concurrency 16]
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TestCluster } from '../test/helpers/cluster.js';
import { peerClient } from '../test/helpers/peer.js';
import { call } from '../test/helpers/http.js';

const argv = await yargs(hideBin(process.argv))
  .option('n', { type: 'number', default: 20_000, describe: 'request/reply pairs' })
  .option('concurrency', { type: 'number', default: 16 })
  .strict()
  .parse();

const cleanups: Array<() => unknown> = [];
const teardown = { teardown: (fn: () => unknown) => cleanups.push(fn) };
const cluster = await TestCluster.create(teardown, { extra: { logLevel: 'warn' } });
try {
  await cluster.startAll();
  await call('POST', `${cluster.url()}/buckets/msgbench`);
  await call('PUT', `${cluster.url()}/buckets/msgbench/k`, 'x'.repeat(1024));
  const node = cluster.nodes.find((n) => n.id !== 'node1')!;
  const proc = cluster.procs.get(`${node.id}/node`)!;
  const tr = peerClient(teardown);
  const target = { id: node.id, host: node.host, port: node.port };
  await tr.request(target, { type: 'read', ns: 'msgbench', key: 'k', bodies: 'none' });
  const cpu = (pid: number): number => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const nodeBefore = cpu(proc.pid!);
  const selfBefore = process.cpuUsage();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: argv.concurrency }, async () => {
      while (next++ < argv.n) await tr.request(target, { type: 'read', ns: 'msgbench', key: 'k', bodies: 'none' });
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const nodeCpu = cpu(proc.pid!) - nodeBefore;
  const self = process.cpuUsage(selfBefore);
  const selfCpu = (self.user + self.system) / 1e6;
  console.log(`${argv.n} pairs at concurrency ${argv.concurrency}: ${(argv.n / seconds).toFixed(0)} pairs/s`);
  console.log(`CPU per pair: client ${((selfCpu / argv.n) * 1e6).toFixed(0)} µs, node ${((nodeCpu / argv.n) * 1e6).toFixed(0)} µs`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
