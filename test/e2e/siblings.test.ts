// Vector clocks and reconciliation over REST (Dynamo 4.4): siblings from two
// writes with one context, through one coordinator and through two; resolution
// with the context; tombstones; read repair.
import t, { type Test } from 'tap';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { peerClient, replicaState } from '../helpers/peer.js';
import { Ring } from '../../src/ring/ring.js';
import { objectKey } from '../../src/ring/hash.js';

const c = await TestCluster.create(t);
await c.startAll();
t.equal((await call('POST', `${c.url()}/buckets/docs`)).status, 200);
const ring = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256);
const prefList = (file: string): string[] => ring.preferenceList(objectKey('docs', file), 3);

async function concurrentPair(t: Test, file: string, viaA: string, viaB: string): Promise<void> {
  t.equal((await put(c.url(viaA), 'docs', file, 'v0')).status, 200);
  const read = await get(c.url(viaA), 'docs', file);
  const ctx = read.headers.get('x-context') as string;
  t.ok(ctx);
  const a = await put(c.url(viaA), 'docs', file, 'from-A', ctx);
  const b = await put(c.url(viaB), 'docs', file, 'from-B', ctx);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  const r = await get(c.url(viaB), 'docs', file);
  t.equal(r.status, 300, 'two writes with one context are concurrent: 300 Multiple Choices');
  t.equal(r.json.siblings.length, 2, 'both survive as siblings');
  t.ok(r.json.context);
  for (const s of r.json.siblings) {
    t.type(s.version, 'string');
    t.type(s.clock, 'object');
    t.type(s.size, 'number');
  }
  const bodies = await Promise.all(r.json.siblings.map(async (s: { version: string }) => (await get(c.url(viaA), 'docs', file, `?version=${encodeURIComponent(s.version)}`)).body.toString()));
  t.same(bodies.sort(), ['from-A', 'from-B'], '?version=<id> fetches each sibling');
  // Application-level resolution: write the merge with the context of the read.
  const resolved = await put(c.url(viaA), 'docs', file, 'merged', r.json.context);
  t.equal(resolved.status, 200);
  const after = await get(c.url(viaB), 'docs', file);
  t.equal(after.status, 200, 'the resolution supersedes both siblings');
  t.equal(after.body.toString(), 'merged');
}

t.test('siblings from two writes with one context, same coordinator', async (t) => {
  await concurrentPair(t, 'same-coordinator.txt', 'node1', 'node1');
});

t.test('siblings from two writes with one context, different coordinators', async (t) => {
  await concurrentPair(t, 'two-coordinators.txt', 'node1', 'node3');
});

t.test('a resolution supersedes what its read returned, not a write made after it', async (t) => {
  const file = 'late-writer.txt';
  await put(c.url(), 'docs', file, 'v0');
  const ctx = (await get(c.url(), 'docs', file)).headers.get('x-context') as string;
  await put(c.url('node2'), 'docs', file, 'x', ctx);
  await put(c.url('node3'), 'docs', file, 'y', ctx);
  const siblings = await get(c.url(), 'docs', file);
  t.equal(siblings.status, 300);
  const late = await put(c.url('node4'), 'docs', file, 'late', ctx); // concurrent with the resolution below
  t.equal(late.status, 200);
  await put(c.url(), 'docs', file, 'resolution', siblings.json.context);
  const r = await get(c.url(), 'docs', file);
  t.equal(r.status, 300);
  const bodies = await Promise.all(r.json.siblings.map(async (s: { version: string }) => (await get(c.url(), 'docs', file, `?version=${encodeURIComponent(s.version)}`)).body.toString()));
  t.same(bodies.sort(), ['late', 'resolution']);
});

t.test('a context that is not one of ours is a 400', async (t) => {
  const r = await put(c.url(), 'docs', 'x', 'y', 'not-a-context!!');
  t.equal(r.status, 400);
  t.equal(r.json.error.code, 'INVALID_CONTEXT');
  const v = await get(c.url(), 'docs', 'same-coordinator.txt', '?version=nope.1');
  t.equal(v.status, 404);
  t.equal(v.json.error.code, 'NO_SUCH_VERSION');
});

t.test('a delete is a tombstone on every replica; a stale replica cannot bring the file back', async (t) => {
  const file = 'tomb.txt';
  await put(c.url(), 'docs', file, 'alive');
  const peers = peerClient(t);
  const [first, second, third] = prefList(file) as [string, string, string];
  // Take one replica down, delete, bring it back holding the old version.
  await c.kill(third);
  const del = await call('DELETE', `${c.url(first)}/buckets/docs/${file}`);
  t.equal(del.status, 200);
  t.notOk(del.json.replicas_written.includes(third));
  await c.restart(third);
  const stale = await replicaState(peers, c.node(third), 'docs', file);
  t.notOk(stale?.siblings.every((s) => s.deleted), `${third} still holds the live version`);
  for (let i = 0; i < 5; i++) t.equal((await get(c.url(c.nodes[i % 4]!.id), 'docs', file)).status, 404, 'reads reconcile to the tombstone');
  await waitFor('read repair of the tombstone', async () => (await replicaState(peers, c.node(third), 'docs', file))?.siblings.every((s) => s.deleted));
  for (const id of [first, second, third]) {
    const s = await replicaState(peers, c.node(id), 'docs', file);
    t.ok(s && s.siblings.length === 1 && s.siblings[0]!.deleted, `${id} holds the tombstone`);
  }
});

t.test('read repair brings a stale replica up to date', async (t) => {
  const file = 'repair.txt';
  const peers = peerClient(t);
  const pl = prefList(file);
  const stale = pl[2] as string;
  await put(c.url(), 'docs', file, 'old');
  // The write answers once W replicas have it: wait for the third before killing it, or it has nothing to be stale with.
  await waitFor(`${stale} holds the old version`, async () => (await replicaState(peers, c.node(stale), 'docs', file))?.siblings.length === 1);
  await c.kill(stale);
  const w = await put(c.url(pl[0]), 'docs', file, 'new');
  t.equal(w.status, 200, JSON.stringify(w.json));
  // W=2: the answer comes after the first two acknowledgements, which may be a hint's and not pl[1]'s.
  t.ok(w.json.replicas_written.length >= 2, 'written on W replicas');
  t.notOk(w.json.replicas_written.includes(stale));
  await c.restart(stale);
  const before = await replicaState(peers, c.node(stale), 'docs', file);
  t.equal(before?.siblings.length, 1);
  const r = await get(c.url(), 'docs', file);
  t.equal(r.body.toString(), 'new');
  await waitFor('read repair', async () => {
    // Reads keep coming; each one repairs any stale replica that answered.
    await get(c.url(), 'docs', file);
    const s = await replicaState(peers, c.node(stale), 'docs', file);
    const fresh = await replicaState(peers, c.node(pl[0] as string), 'docs', file);
    return JSON.stringify(s) === JSON.stringify(fresh);
  });
  t.pass(`${stale} was repaired`);
});

