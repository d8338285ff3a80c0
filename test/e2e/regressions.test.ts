// Regressions found in review, each named after what broke, driven over REST
// and raw frames against real processes.
import t from 'tap';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { peerClient } from '../helpers/peer.js';
import { hintsOf, waitAllUp, waitSeen } from '../helpers/views.js';
import { Ring } from '../../src/ring/ring.js';
import { objectKey } from '../../src/ring/hash.js';

const MiB = 1024 * 1024;

t.test('regression: a forged X-Context is refused and cannot push a node\'s counters out of range', async (t) => {
  const c = await TestCluster.create(t);
  await c.startAll();
  await call('POST', `${c.url()}/buckets/forge`);
  const w = await put(c.url(), 'forge', 'k', 'v1');
  const actor = w.json.version.split('.').slice(0, 2).join('.');
  const forged = Buffer.from(JSON.stringify({ [actor]: 9007199254740991 })).toString('base64url');
  for (const ctx of [forged, `${forged}.AAAAAAAAAAAAAAAAAAAAAA`, `{"${actor}": 99999999}`]) {
    const r = await put(c.url(), 'forge', 'k', 'evil', ctx);
    t.equal(r.status, 400, ctx.slice(0, 20));
    t.equal(r.json.error.code, 'INVALID_CONTEXT');
  }
  const tampered = w.json.context.replace(/^./, (ch: string) => (ch === 'e' ? 'f' : 'e'));
  t.equal((await put(c.url(), 'forge', 'k', 'evil', tampered)).status, 400, 'a context altered by one character');
  t.equal((await put(c.url(), 'forge', 'k', 'v2', w.json.context)).status, 200, 'the issued context still works');
  // Even a member on the socket port cannot make a node mint above what it has reserved.
  const peers = peerClient(t);
  const owner = c.node(actor.split('.')[0]);
  await t.rejects(
    peers.request({ id: owner.id, host: owner.host, port: owner.port }, { type: 'update', ns: 'forge', key: 'k', context: { [actor]: 2 ** 40 }, deleted: false, size: 1 }, [Buffer.from('x')]),
    { code: 'INVALID_CONTEXT' },
  );
  const again = await put(c.url(), 'forge', 'k2', 'fine');
  t.equal(again.status, 200);
  t.ok(Number(again.json.version.split('.').at(-1)) < 2 ** 40, 'counters stay in range');
});

t.test('regression: files of a deleted bucket do not come back through hints or read repair', async (t) => {
  const c = await TestCluster.create(t, { cron: true, extra: { timeouts: { requestMs: 1000, connectMs: 500 }, gossip: { intervalMs: 1000, failureTimeoutMs: 3000 } } });
  await c.startAll();
  await waitAllUp(c);
  const ids = c.nodes.map((n) => n.id);
  t.equal((await call('POST', `${c.url()}/buckets/gone`)).status, 200);
  await c.kill('node3');
  await waitSeen(c, 'node3', 'down', ['node1', 'node2', 'node4']);
  for (let i = 1; i <= 6; i++) t.equal((await put(c.url('node1'), 'gone', `doc${i}`, `secret${i}`)).status, 200);
  await waitFor('hints for node3 listed', () => ids.some((id) => hintsOf(c, id).length > 0));
  t.equal((await call('DELETE', `${c.url('node1')}/buckets/gone`)).status, 200);
  for (let i = 0; i < 4; i++) t.equal((await get(c.url(ids[i % 2]), 'gone', 'doc1')).status, 404, 'gone at once');
  await c.restart('node3');
  await waitAllUp(c);
  await waitFor('handoff drained', () => ids.every((id) => hintsOf(c, id).length === 0), 30_000);
  for (const id of ids) {
    const r = await get(c.url(id), 'gone', 'doc1');
    t.equal(r.status, 404, `${id}: still gone after node3 returned`);
  }
  t.equal((await call('POST', `${c.url()}/buckets/gone`)).status, 200, 'created again');
  t.same((await call('GET', `${c.url('node3')}/buckets/gone`)).json.files, [], 'empty');
  for (const id of ids) t.equal((await get(c.url(id), 'gone', 'doc2')).status, 404, `${id}: old files stay gone in the new incarnation`);
  t.equal((await put(c.url(), 'gone', 'doc2', 'new life')).status, 200);
  t.equal((await get(c.url('node3'), 'gone', 'doc2')).body.toString(), 'new life');
});

t.test('regression: a file whose siblings together exceed a frame is read, repaired and written around without failing other requests', async (t) => {
  const c = await TestCluster.create(t, { extra: { maxObjectBytes: 1 * MiB, maxFrameBytes: 1 * MiB + 256 * 1024 } });
  await c.startAll();
  await call('POST', `${c.url()}/buckets/big`);
  const body = (ch: string): Buffer => Buffer.alloc(900 * 1024, ch);
  await put(c.url(), 'big', 'fat', body('0'));
  const ctx = (await get(c.url(), 'big', 'fat')).headers.get('x-context') as string;
  for (const ch of ['a', 'b', 'c']) t.equal((await put(c.url(), 'big', 'fat', body(ch), ctx)).status, 200);
  const reads = Promise.all([0, 1, 2].map(() => get(c.url('node2'), 'big', 'fat')));
  const writes = Promise.all(Array.from({ length: 40 }, (_, i) => put(c.url(), 'big', `small${i}`, 'x')));
  const [rs, ws] = await Promise.all([reads, writes]);
  for (const r of rs) t.equal(r.status, 300);
  t.same(ws.map((w) => w.status).filter((s) => s !== 200), [], 'no unrelated write failed');
  const versions = rs[0]!.json.siblings.map((s: { version: string }) => s.version);
  for (const v of versions) {
    const one = await get(c.url(), 'big', 'fat', `?version=${encodeURIComponent(v)}`);
    t.equal(one.status, 200);
    t.equal(one.body.length, 900 * 1024);
  }
  // A replica that missed all three is repaired: its bodies travel in several messages.
  const ring = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256);
  const [first, , third] = ring.preferenceList(objectKey('big', 'fat2'), 3) as [string, string, string];
  await put(c.url(first), 'big', 'fat2', body('0'));
  const ctx2 = (await get(c.url(), 'big', 'fat2')).headers.get('x-context') as string;
  await c.kill(third);
  for (const ch of ['a', 'b', 'c']) t.equal((await put(c.url(first), 'big', 'fat2', body(ch), ctx2)).status, 200);
  await c.restart(third);
  const peers = peerClient(t);
  const node = c.node(third);
  await waitFor('read repair of three large siblings', async () => {
    await get(c.url(first), 'big', 'fat2');
    const { reply } = await peers.request({ id: node.id, host: node.host, port: node.port }, { type: 'read', ns: 'big', key: 'fat2', bodies: 'none' });
    return reply.state?.siblings.length === 3;
  }, 20_000, 200);
  t.pass('repaired');
});

t.test('regression: a hinted copy kept by the minter does not count as a second node toward W', async (t) => {
  const c = await TestCluster.create(t, { nodes: 3, extra: { timeouts: { requestMs: 1000, connectMs: 500, writeGraceMs: 0 } } });
  await c.startAll();
  await call('POST', `${c.url()}/buckets/three`);
  await c.kill('node1');
  for (let i = 0; i < 10; i++) {
    const w = await put(c.url('node2'), 'three', `f${i}`, 'x');
    t.equal(w.status, 200, `f${i}: W=2 on the two live nodes`);
    t.same([...w.json.replicas_written].sort(), ['node2', 'node3']);
  }
});

t.test('regression: one write minted twice (a retry after a timeout) reads as one version', async (t) => {
  const c = await TestCluster.create(t);
  await c.startAll();
  await call('POST', `${c.url()}/buckets/twice`);
  const ring = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256);
  const [a, b] = ring.preferenceList(objectKey('twice', 'f'), 3) as [string, string];
  const peers = peerClient(t);
  const addr = (id: string) => ({ id, host: '127.0.0.1', port: c.node(id).port });
  const uidOf = async (): Promise<string> => {
    const { reply } = await peers.request(addr(a), { type: 'read', ns: '$buckets', key: 'twice', bodies: 'none' });
    return reply.state?.siblings[0]?.uid as string;
  };
  const uid = await uidOf();
  // What a coordinator does when the first minter times out but stored the write anyway.
  const first = await peers.request(addr(a), { type: 'update', ns: 'twice', key: 'f', context: {}, deleted: false, size: 4, uid, wid: 'write-1' }, [Buffer.from('once')]);
  const second = await peers.request(addr(b), { type: 'update', ns: 'twice', key: 'f', context: {}, deleted: false, size: 4, uid, wid: 'write-1' }, [Buffer.from('once')]);
  await peers.request(addr(a), { type: 'sync', ns: 'twice', key: 'f', state: second.reply.state, bodies: [{ dot: `${second.reply.dot[0]}.${second.reply.dot[1]}`, size: 4 }] }, [Buffer.from('once')]);
  void first;
  const r = await get(c.url(), 'twice', 'f');
  t.equal(r.status, 200, 'one version, not two siblings');
  t.equal(r.body.toString(), 'once');
});
