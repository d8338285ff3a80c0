// Large files whose chunks are lost on disk (issue 13): the schedulers' chunk
// scrub copies a lost chunk back to its owners from a node that still has it,
// and the listing says `"complete": false` for a file some chunk of which is on
// fewer than W nodes, until it is whole again. The chunks no version names any
// more are collected, never one a sibling, another file or an upload under way
// still needs.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { waitAllUp } from '../helpers/views.js';

const CHUNK = 64 * 1024;
const GRACE = 2000;
const c = await TestCluster.create(t, { cron: true, extra: { chunkBytes: CHUNK, chunkScrub: { intervalMs: 1000 }, chunkGc: { intervalMs: 1000, graceMs: GRACE }, gossip: { intervalMs: 1000, failureTimeoutMs: 3000 } } });
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

t.test('chunks no version names are collected; those of siblings and of other files stay', async (t) => {
  const a = randomBytes(3 * CHUNK + 5);
  const b = randomBytes(2 * CHUNK + 9);
  const shared = randomBytes(2 * CHUNK + 1);
  const r0 = await put(c.url(), 'scrub', 'gc.bin', a);
  t.equal(r0.status, 200);
  // Two concurrent versions of sib.bin (both written with the same context): both sets of chunks are in use.
  const base = await put(c.url(), 'scrub', 'sib.bin', randomBytes(CHUNK + 1));
  const s1 = randomBytes(CHUNK + 2);
  const s2 = randomBytes(CHUNK + 3);
  t.equal((await put(c.url('node1'), 'scrub', 'sib.bin', s1, base.headers.get('x-context') as string)).status, 200);
  t.equal((await put(c.url('node3'), 'scrub', 'sib.bin', s2, base.headers.get('x-context') as string)).status, 200);
  // The same bytes under two names; one of them deleted.
  t.equal((await put(c.url(), 'scrub', 'shared-1.bin', shared)).status, 200);
  t.equal((await put(c.url(), 'scrub', 'shared-2.bin', shared)).status, 200);
  t.equal((await call('DELETE', `${c.url()}/buckets/scrub/shared-1.bin`)).status, 200);
  // gc.bin overwritten: a's chunks are named by no version now.
  t.equal((await put(c.url(), 'scrub', 'gc.bin', b)).status, 200);
  const gone = hashesOf(a);
  await waitFor('the old version\'s chunks to be collected', () => gone.every((h) => holders(h).length === 0), 30_000, 250);
  for (const h of [...hashesOf(b), ...hashesOf(s1), ...hashesOf(s2), ...hashesOf(shared)]) t.equal(holders(h).length, 3, `chunk ${h.slice(0, 8)} in use: on its three owners`);
  t.ok((await get(c.url('node4'), 'scrub', 'gc.bin')).body.equals(b));
  t.ok((await get(c.url('node2'), 'scrub', 'shared-2.bin')).body.equals(shared));
  const sib = await get(c.url('node2'), 'scrub', 'sib.bin');
  t.equal(sib.status, 300, 'still two versions');
});

t.test('an upload slower than the grace period keeps its early chunks', async (t) => {
  const total = 6 * CHUNK;
  const content = randomBytes(total);
  // About 7 s for six chunks, more than three grace periods: its first chunks are old by the end, unless touched.
  const res = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${c.url('node2')}/buckets/scrub/slow.bin`, { method: 'PUT', headers: { 'content-length': total } }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    let sent = 0;
    const step = (): void => {
      if (sent >= total) return void req.end();
      const piece = content.subarray(sent, sent + 56 * 1024);
      sent += piece.length;
      req.write(piece);
      setTimeout(step, 1000);
    };
    step();
  });
  t.equal(res, 200);
  // Every machine's collector has weighed chunks since the last one of them grew old.
  const oldBy = Date.now() + GRACE;
  for (const id of ids) {
    await waitFor(`${id}'s chunk-gc to run once its chunks are old`, async () => {
      const w = ((await call('GET', `${c.url(id)}/cluster`)).json.workers as Array<{ name: string; lastStart: string | null; lastResult: string | null }>).find((x) => x.name === 'chunk-gc');
      return w?.lastStart && Date.parse(w.lastStart) > oldBy && w.lastResult ? w : null;
    }, 20_000, 250);
  }
  for (const h of hashesOf(content)) t.equal(holders(h).length, 3, `chunk ${h.slice(0, 8)} kept`);
  t.ok((await get(c.url('node1'), 'scrub', 'slow.bin')).body.equals(content), 'reads back whole');
});
