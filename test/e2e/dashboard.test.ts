// The dashboard in a real browser (Debian's chromium driven by playwright-core)
// against a live four-node cluster: every node shown up with its data-status,
// a bucket made and a file uploaded through the page and listed, a node killed
// with kill -9 turning down within 15 s, a phone-sized screen without sideways
// scrolling, and the screenshot the README shows (docs/dashboard.png).
// And /metrics: the Prometheus text, with counters that move with traffic.
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';
import { call, put } from '../helpers/http.js';
import { waitAllUp } from '../helpers/views.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// What the functions run inside the page see (this project compiles without the DOM's types).
declare const document: { querySelectorAll(sel: string): { length: number }; documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };
declare function requestAnimationFrame(fn: () => void): void;
interface HTMLElement {
  dataset: Record<string, string | undefined>;
}

const c = await TestCluster.create(t, { cron: true });
await c.startAll();
await waitAllUp(c);

/** One metric's value from the Prometheus text (summed over the series that match the labels given). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}

t.test('/metrics: Prometheus text whose counters move with traffic', async (t) => {
  const scrape = async (): Promise<string> => {
    const r = await fetch(`${c.url('node1')}/metrics`);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type') ?? '', /text\/plain/);
    return r.text();
  };
  const before = await scrape();
  for (const name of ['ringstore_requests_total', 'ringstore_request_duration_seconds_bucket', 'ringstore_hints_delivered_total', 'ringstore_gossip_rounds_total', 'ringstore_journal_fsyncs_total', 'ringstore_node_up', 'process_cpu_seconds_total']) {
    t.match(before, new RegExp(`^${name}`, 'm'), `${name} is there`);
  }
  t.match(before, /^# TYPE ringstore_siblings_per_read histogram/m);
  t.match(before, /^# TYPE ringstore_quorum_failures_total counter/m);
  t.match(before, /^# TYPE ringstore_hints_pending gauge/m);
  // Labelled series exist from the start, at 0, so that a scrape sees them before anything fails.
  for (const op of ['read', 'write', 'list']) t.equal(metric(before, 'ringstore_quorum_failures_total', { op }), 0, `quorum failures of ${op}s: 0`);
  for (const n of c.nodes) t.equal(metric(before, 'ringstore_hints_pending', { owner: n.id }), 0, `no hints pending for ${n.id}`);
  for (const n of c.nodes) t.equal(metric(before, 'ringstore_node_up', { node: n.id }), 1, `${n.id} up`);
  t.equal((await call('POST', `${c.url('node1')}/buckets/metered`)).status, 200);
  for (let i = 0; i < 5; i++) t.equal((await put(c.url('node1'), 'metered', `f${i}`, `body ${i}`)).status, 200);
  for (let i = 0; i < 3; i++) t.equal((await call('GET', `${c.url('node1')}/buckets/metered/f${i}`)).status, 200);
  const after = await waitFor('the gossip counter to move', async () => {
    const text = await scrape();
    return metric(text, 'ringstore_gossip_rounds_total') > metric(before, 'ringstore_gossip_rounds_total') ? text : null;
  }, 15_000, 500);
  t.equal(metric(after, 'ringstore_requests_total', { route: '/buckets/:bucket/:file', method: 'PUT', status: '200' }) - (metric(before, 'ringstore_requests_total', { route: '/buckets/:bucket/:file', method: 'PUT', status: '200' }) || 0), 5, 'five PUTs counted');
  t.ok(metric(after, 'ringstore_request_duration_seconds_count', { route: '/buckets/:bucket/:file' }) >= 8, 'and timed');
  t.ok(metric(after, 'ringstore_siblings_per_read_count') >= 3, 'each read counts its versions');
  t.ok(metric(after, 'ringstore_journal_fsyncs_total') > metric(before, 'ringstore_journal_fsyncs_total'), 'the socket server\'s journal fsyncs, asked with a message');
});

t.test('the dashboard in a browser', async (t) => {
  t.ok(existsSync(CHROMIUM), `a chromium at ${CHROMIUM} (Debian's package chromium; .ci/run installs it)`);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${c.url('node1')}/ui`);

  await page.waitForFunction(() => document.querySelectorAll('[data-node][data-status="up"]').length === 4, undefined, { timeout: 15_000 });
  const nodes = await page.$$eval('[data-node]', (els) => els.map((e) => [(e as HTMLElement).dataset.node, (e as HTMLElement).dataset.status]));
  t.same(nodes, c.nodes.map((n) => [n.id, 'up']), 'four nodes, each with data-node and data-status="up"');
  t.equal(await page.locator('#ring path').count(), (await call('GET', `${c.url('node1')}/cluster`)).json.ringSize, 'the ring drawn with every partition');

  // A bucket and a file, through the page.
  await page.fill('#new-bucket input[name=bucket]', 'browser');
  await page.click('#new-bucket button');
  await page.waitForSelector('#buckets li[data-bucket="browser"]');
  const dir = mkdtempSync(join(tmpdir(), 'ringstore-ui-'));
  const local = join(dir, 'from-the-browser.txt');
  writeFileSync(local, 'uploaded through the dashboard\n');
  await page.setInputFiles('#upload input[type=file]', local);
  await page.click('#upload button');
  await page.waitForSelector('#files tr[data-file="from-the-browser.txt"]', { timeout: 10_000 });
  const r = await call('GET', `${c.url('node3')}/buckets/browser/from-the-browser.txt`);
  t.equal(r.json, 'uploaded through the dashboard\n', 'the upload is in the store');
  await page.click('#files tr[data-file="from-the-browser.txt"]');
  await page.waitForSelector('#versions .version code');
  t.match(await page.textContent('#versions'), /clock/, 'its version with its clock');
  await page.waitForFunction(() => document.querySelectorAll('#requests tbody tr td').length > 1, undefined, { timeout: 10_000 });
  t.match(await page.textContent('#change'), /epoch 1, settled/, 'the membership epoch, settled');
  t.equal(await page.locator('#repair tbody tr').count(), 4, 'and each member\'s anti-entropy rounds');
  // At 1280x800 nothing is cut off: no panel is wider inside than it shows.
  const clipped = await page.$$eval('.panel', (els) => els.filter((e) => (e as unknown as { scrollWidth: number; clientWidth: number }).scrollWidth > (e as unknown as { clientWidth: number }).clientWidth + 1).map((e) => (e as unknown as { id: string }).id));
  t.same(clipped, [], 'every panel fits at 1280x800');
  await page.screenshot({ path: join(ROOT, 'docs', 'dashboard.png'), fullPage: true });

  // kill -9 one machine: its card turns down.
  await c.kill('node3');
  const killed = Date.now();
  await page.waitForSelector('[data-node="node3"][data-status="down"]', { timeout: 15_000 });
  t.comment(`node3 shown down ${Date.now() - killed} ms after kill -9`);
  const scraped = await waitFor('ringstore_node_up{node="node3"} 0', async () => {
    const text = await (await fetch(`${c.url('node1')}/metrics`)).text();
    return metric(text, 'ringstore_node_up', { node: 'node3' }) === 0 ? text : null;
  }, 15_000, 500);
  t.equal(metric(scraped, 'ringstore_node_up', { node: 'node1' }), 1, '/metrics: node3 down (0), node1 up (1)');

  // A phone-sized screen: everything fits its width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null)))); // one layout pass
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  t.ok(overflow <= 0, `no sideways scrolling at 390 px (overflow ${overflow} px)`);
  t.ok(await page.isVisible('[data-node="node1"]'));
  t.same(errors, [], 'no script errors on the page');
});
