// Large files whose chunks are lost on disk (issue 13): the schedulers' chunk
// scrub copies a lost chunk back to its owners from a node that still has it,
// and the listing says `"complete": false` for a file some chunk of which is on
// fewer than W nodes, until it is whole again.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { waitAllUp } from '../helpers/views.js';

const CHUNK = 64 * 1024;
const c = await TestCluster.create(t, { cron: true, extra: { chunkBytes: CHUNK, chunkScrub: { intervalMs: 1000 }, gossip: { intervalMs: 1000, failureTimeoutMs: 3000 } } });
await c.startAll();
await waitAllUp(c);
const ids = c.nodes.map((n) => n.id);
t.equal((await call('POST', `${c.url()}/buckets/scrub`)).status, 200);

const chunkPath = (id: string, hash: string): string => join(c.dataDir(id), 'chunks', hash.slice(0, 2), hash);
const holders = (hash: string): string[] => ids.filter((id) => existsSync(chunkPath(id, hash)));
const hashesOf = (content: Buffer): string[] => Array.from({ length: Math.ceil(content.length / CHUNK) }, (_, i) => createHash('sha256').update(content.subarray(i * CHUNK, (i + 1) * CHUNK)).digest('hex'));
async function listed(name: string): Promise<{ complete: boolean; size: number } | undefined> {
  const r = await call('GET', `${c.url('node2')}/buckets/scrub`);
  return (r.json.files as Array<{ name: string; complete: boolean; size: number }>).find((f) => f.name === name);
}

const content = randomBytes(5 * CHUNK + 11);
const hashes = hashesOf(content);

t.test('the listing says every file is complete, small or in chunks', async (t) => {
  t.equal((await put(c.url('node1'), 'scrub', 'whole.bin', content)).status, 200);
  t.equal((await put(c.url('node1'), 'scrub', 'small.txt', 'a few bytes')).status, 200);
  const f = await listed('whole.bin');
  t.equal(f?.complete, true);
  t.equal(f?.size, content.length);
  t.equal((await listed('small.txt'))?.complete, true);
  await waitFor('every chunk on three nodes', () => hashes.every((h) => holders(h).length === 3));
});

t.test('a chunk lost on two of its three nodes is copied back to them', async (t) => {
  const h = hashes[2] as string;
  const [keep, ...lose] = holders(h) as [string, ...string[]];
  for (const id of lose) rmSync(chunkPath(id, h));
  t.same(holders(h), [keep], `only ${keep} has it now`);
  const back = await waitFor('the scrub to copy it back', () => (holders(h).length === 3 ? holders(h) : null), 20_000, 200);
  t.same(back.sort(), [keep, ...lose].sort(), 'on its three owners again');
  t.equal((await listed('whole.bin'))?.complete, true);
  const g = await get(c.url('node3'), 'scrub', 'whole.bin');
  t.ok(g.body.equals(content), 'the file reads back whole');
});

t.test('a chunk lost everywhere: the listing says incomplete, and a read of it fails cleanly', async (t) => {
  const h = hashes[0] as string;
  for (const id of holders(h)) rmSync(chunkPath(id, h));
  const seen = await waitFor('the listing to say incomplete', async () => ((await listed('whole.bin'))?.complete === false ? true : null), 20_000, 250);
  t.ok(seen);
  const g = await get(c.url('node4'), 'scrub', 'whole.bin');
  t.equal(g.status, 503);
  t.equal(g.json.error.code, 'CHUNK_UNAVAILABLE');
  t.equal((await listed('small.txt'))?.complete, true, 'other files stay complete');
});

t.test('a new version of the file is complete again', async (t) => {
  const fresh = randomBytes(3 * CHUNK + 1);
  t.equal((await put(c.url('node2'), 'scrub', 'whole.bin', fresh)).status, 200);
  await waitFor('the listing to say complete', async () => ((await listed('whole.bin'))?.complete === true ? true : null), 20_000, 250);
  t.ok((await get(c.url('node1'), 'scrub', 'whole.bin')).body.equals(fresh));
  t.ok(readdirSync(c.dataDir('node1')).includes('incomplete.json'), 'the reports are kept in incomplete.json');
});
