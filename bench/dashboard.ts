// What the dashboard costs the node it is open on: a fresh four-node cluster
// (with schedulers), then node1's REST app and socket server CPU seconds over
// a window with no page open, and over the same window with the dashboard
// open in headless chromium (polling every 2 s), and the requests per second
// the page makes.   npx tsx bench/dashboard.ts [--seconds 60]
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TestCluster } from '../test/helpers/cluster.js';
import { waitAllUp } from '../test/helpers/views.js';

const argv = await yargs(hideBin(process.argv)).option('seconds', { type: 'number', default: 60 }).option('chromium', { type: 'string', default: '/usr/bin/chromium' }).strict().parse();
const cleanups: Array<() => unknown> = [];
const c = await TestCluster.create({ teardown: (fn) => cleanups.push(fn) }, { cron: true, extra: { logLevel: 'warn' } });
try {
  await c.startAll();
  await waitAllUp(c);
  const tick = 100; // clock ticks per second on Linux
  const cpu = (role: string): number => {
    const pid = c.procs.get(`node1/${role}`)?.pid;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / tick;
  };
  const requests = async (): Promise<number> => {
    const text = await (await fetch(`${c.url('node1')}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith('ringstore_requests_total')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  };
  const measure = async (what: string): Promise<{ rest: number; node: number; rps: number }> => {
    const [r0, n0, q0] = [cpu('rest'), cpu('node'), await requests()];
    await new Promise((r) => setTimeout(r, argv.seconds * 1000));
    const [r1, n1, q1] = [cpu('rest'), cpu('node'), await requests()];
    const out = { rest: r1 - r0, node: n1 - n0, rps: (q1 - q0 - 1) / argv.seconds };
    console.log(`${what.padEnd(16)} REST app ${out.rest.toFixed(2)} CPU s, socket server ${out.node.toFixed(2)} CPU s, ${out.rps.toFixed(2)} requests/s over ${argv.seconds} s`);
    return out;
  };
  const idle = await measure('no page open');
  const browser = await chromium.launch({ executablePath: argv.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${c.url('node1')}/ui`);
  const open = await measure('dashboard open');
  await browser.close();
  console.log(`the dashboard costs node1 ${(((open.rest - idle.rest) / argv.seconds) * 100).toFixed(2)}% of a core in its REST app, ${(((open.node - idle.node) / argv.seconds) * 100).toFixed(2)}% in its socket server, and ${(open.rps - idle.rps).toFixed(2)} requests/s`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
