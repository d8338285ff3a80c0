// Paged listings over REST (issue 18): byte order of the UTF-8 names, every
// name once across the pages also while files are written and deleted between
// pages, prefixes and delimiters (S3's CommonPrefixes), an `after` past the last
// name, bad limits refused, the first page by default, and a listing with a
// node down.
import t from 'tap';
import { TestCluster } from '../helpers/cluster.js';
import { call, put } from '../helpers/http.js';

const c = await TestCluster.create(t);
await c.startAll();

const utf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const names = [
  ...Array.from({ length: 40 }, (_, i) => `plain-${String(i).padStart(2, '0')}`),
  'photos/2025/a.jpg',
  'photos/2025/b.jpg',
  'photos/2026/c.jpg',
  'photos/top.jpg',
  'notes/x.txt',
  'Zebra',
  'é-accent',
  '\uE000-private',
  '😀-emoji',
];

// The writes as a test of their own: a long run of assertions at the top level lets tap end the file early.
t.test('the files are written', async (t) => {
  t.equal((await call('POST', `${c.url()}/buckets/pages`)).status, 200);
  for (const [i, n] of names.entries()) t.equal((await put(c.url(c.nodes[i % 4]?.id), 'pages', n, `body of ${n}`)).status, 200, `wrote ${n}`);
});

interface Page {
  files: Array<{ name: string; size: number; siblings: number; clock: object; last_modified: string; etag: string }>;
  common_prefixes: string[];
  next: string | null;
  truncated: boolean;
}

async function page(params: Record<string, string>, via = 'node1'): Promise<{ status: number; json: Page & { error?: { code: string } } }> {
  return call('GET', `${c.url(via)}/buckets/pages?${new URLSearchParams(params)}`);
}

async function walk(params: Record<string, string>, between?: (n: number) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (let n = 0; n < 1000; n++) {
    const r = await page({ ...params, ...(after !== null ? { after } : {}) });
    t.equal(r.status, 200);
    seen.push(...r.json.files.map((f) => f.name), ...r.json.common_prefixes);
    if (!r.json.truncated) {
      t.equal(r.json.next, null, 'the last page says so');
      return seen;
    }
    after = r.json.next;
    await between?.(n);
  }
  throw new Error('the walk did not end');
}

t.test('pages in byte order of the names, each name once', async (t) => {
  const all = await walk({ limit: '7' });
  t.same(all, [...names].sort(utf8), 'UTF-8 byte order: \\uE000 before 😀, unlike UTF-16 order');
  const first = await page({});
  t.equal(first.json.files.length, names.length, 'without parameters: the first page (up to 1000)');
  t.equal(first.json.truncated, false);
  const f = first.json.files.find((x) => x.name === 'Zebra');
  t.equal(f?.size, 'body of Zebra'.length);
  t.equal(f?.siblings, 1);
  t.type(f?.clock, 'object');
});

t.test('prefix and delimiter fold names into common prefixes', async (t) => {
  t.same(await walk({ prefix: 'photos/', limit: '2' }), ['photos/2025/a.jpg', 'photos/2025/b.jpg', 'photos/2026/c.jpg', 'photos/top.jpg']);
  const top = await page({ delimiter: '/', limit: '100' });
  t.same(top.json.common_prefixes, ['notes/', 'photos/']);
  t.notOk(top.json.files.some((x) => x.name.includes('/')), 'no name beyond a delimiter is listed itself');
  const inside = await page({ prefix: 'photos/', delimiter: '/' });
  t.same(inside.json.common_prefixes, ['photos/2025/', 'photos/2026/']);
  t.same(inside.json.files.map((x) => x.name), ['photos/top.jpg']);
  t.same(await walk({ delimiter: '/', limit: '1' }), [...names.filter((n) => !n.includes('/')), 'notes/', 'photos/'].sort(utf8), 'paging over common prefixes lists each once');
});

t.test('an after past the last name, and bad limits', async (t) => {
  const r = await page({ after: '\u{10FFFF}' });
  t.same([r.status, r.json.files, r.json.next, r.json.truncated], [200, [], null, false]);
  for (const limit of ['0', '10001', 'ten', '2.5', '-1']) {
    const bad = await page({ limit });
    t.equal(bad.status, 400, `limit=${limit}`);
    t.equal(bad.json.error?.code, 'BAD_REQUEST');
  }
  t.equal((await page({ limit: '10000' })).status, 200, 'the largest page');
});

t.test('files written and deleted between pages: one that is there all along appears exactly once', async (t) => {
  const stable = new Set(names.filter((n) => n.startsWith('plain-') && Number(n.slice(6)) % 2 === 0));
  const seen = await walk({ prefix: 'plain-', limit: '5' }, async (n) => {
    // Between pages: delete an odd one, write a new one before and after the cursor.
    await call('DELETE', `${c.url()}/buckets/pages/plain-${String(2 * n + 1).padStart(2, '0')}`);
    await put(c.url(), 'pages', `plain-${String(n).padStart(2, '0')}a`, 'new, behind the cursor');
    await put(c.url(), 'pages', `plain-zz-${n}`, 'new, ahead of the cursor');
  });
  const counts = new Map<string, number>();
  for (const n of seen) counts.set(n, (counts.get(n) ?? 0) + 1);
  t.same([...counts.values()].filter((n) => n > 1), [], 'no name twice');
  for (const s of stable) t.equal(counts.get(s), 1, `${s} once`);
  t.same(seen, [...seen].sort(utf8), 'in order');
});

t.test('a listing with a node down', async (t) => {
  const before = await walk({ limit: '9' });
  await c.kill('node4');
  t.teardown(() => c.restart('node4'));
  const r = await page({ limit: '1000' }, 'node2');
  t.equal(r.status, 200);
  t.same(r.json.files.map((f) => f.name), before.filter((n) => !n.endsWith('/')), 'every file, from the three that answer');
});
