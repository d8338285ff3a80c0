// Failure handling with every machine's scheduler running: gossip failure
// detection, sloppy quorum through hinted nodes, and hinted handoff when the
// owners come back, including after the hinted node itself was killed.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { peerClient, replicaState } from '../helpers/peer.js';
import { hintsOf, waitAllUp, waitSeen } from '../helpers/views.js';
import { Ring } from '../../src/ring/ring.js';
import { objectKey } from '../../src/ring/hash.js';

const c = await TestCluster.create(t, { cron: true, extra: { timeouts: { requestMs: 1000, connectMs: 500 }, gossip: { intervalMs: 1000, failureTimeoutMs: 3000 } } });
await c.startAll();
await waitAllUp(c);
t.equal((await call('POST', `${c.url()}/buckets/hand`)).status, 200);
const ids = c.nodes.map((n) => n.id);
const ring = new Ring({ version: 1, nodes: ids }, 256);
const prefList = (file: string): string[] => ring.preferenceList(objectKey('hand', file), 3);
const outsider = (file: string): string => ids.find((id) => !prefList(file).includes(id)) as string;
const peers = peerClient(t);
// Whatever a failed test left down comes back before the next one starts.
t.afterEach(async () => {
  for (const id of ids) if (!c.isRunning(id)) await c.restart(id);
  await waitAllUp(c);
});

t.test('gossip: every live machine sees a killed node down, then up again', async (t) => {
  const victim = 'node3';
  const others = ids.filter((i) => i !== victim);
  await c.kill(victim);
  const downMs = await waitSeen(c, victim, 'down', others);
  t.ok(downMs < 10_000, `all saw ${victim} down within ${downMs} ms of kill -9`);
  t.comment(`detection: kill -9 to every node seeing it down: ${downMs} ms (failure timeout 3000 ms)`);
  const r = await call('GET', `${c.url('node1')}/cluster`);
  t.equal(r.json.nodes.find((n: { id: string }) => n.id === victim).status, 'down', 'GET /cluster shows it');
  await c.restart(victim);
  const upMs = await waitSeen(c, victim, 'up', others);
  t.comment(`back up for everyone after ${upMs} ms`);
  t.ok(existsSync(join(c.dataDir('node1'), 'gossip.txt')));
});

t.test('one owner down: W=2 on the owners, a hinted copy for the third', async (t) => {
  const file = 'one-down.txt';
  const [a, b, down] = prefList(file) as [string, string, string];
  const o = outsider(file);
  await c.kill(down);
  await waitSeen(c, down, 'down', [a]);
  const w = await put(c.url(a), 'hand', file, 'written while one is down');
  t.equal(w.status, 200);
  t.same(w.json.down_system_data, [down], 'down_system_data names the down owner');
  // W=2 answered; the third copy, the hinted one, may still be on its way when the machine is busy
  // (the answer waits writeGraceMs for it): then it shows in the hinted node's hint store.
  if (w.json.hinted_system_data) t.same(w.json.hinted_system_data, [{ node: o, for: down }], 'the next node clockwise holds its copy');
  else await waitFor('the hinted copy on the next node clockwise', () => hintsOf(c, o).some((h) => h.file === file));
  t.ok(w.json.replicas_written.length >= 2 && w.json.replicas_written.every((n: string) => [a, b, o].includes(n)), `written to ${w.json.replicas_written}`);
  t.notOk(w.json.replicas_written.includes(down));
  await c.restart(down);
  await waitFor('handoff to the restarted owner', async () => (await replicaState(peers, c.node(down), 'hand', file))?.siblings.length === 1);
  await waitFor('the hint removed', () => !hintsOf(c, o).some((h) => h.file === file));
  t.pass('delivered and removed');
});

t.test('two owners down: the write succeeds through a hinted node, and handoff delivers it', async (t) => {
  const file = 'two-down.txt';
  const [a, b, survivor] = prefList(file) as [string, string, string];
  const o = outsider(file);
  await put(c.url(survivor), 'hand', file, 'v1');
  await c.kill(a);
  await c.kill(b);
  await waitSeen(c, a, 'down', [survivor, o]);
  await waitSeen(c, b, 'down', [survivor, o]);
  const w = await put(c.url(survivor), 'hand', file, 'v2 under a hint');
  t.equal(w.status, 200, `one owner plus one hinted node is W=2 ${w.status === 200 ? '' : JSON.stringify(w.json)}`);
  t.same([...w.json.down_system_data].sort(), [a, b].sort());
  const viaOutsider = w.json.hinted_system_data.find((h: { node: string }) => h.node === o);
  t.ok(viaOutsider && [a, b].includes(viaOutsider.for), `${o}, the next node clockwise, holds a hinted copy`);
  t.same(
    w.json.hinted_system_data.map((h: { for: string }) => h.for).sort(),
    [a, b].sort(),
    'each down owner has a hinted copy somewhere (the coordinating replica keeps the one no other node can)',
  );
  t.same([...w.json.replicas_written].sort(), [survivor, o].sort());
  const r = await get(c.url(o), 'hand', file);
  t.equal(r.status, 200, 'readable while its owners are down');
  t.equal(r.body.toString(), 'v2 under a hint');
  await waitFor('hinted.json lists the hint', () => hintsOf(c, o).some((h) => h.file === file));
  t.ok(readdirSync(join(c.dataDir(o), 'hints')).length > 0, 'the copy is kept apart from the node\'s own data');

  await c.restart(a);
  await c.restart(b);
  await waitFor('hint delivered and removed', () => !hintsOf(c, o).some((h) => h.file === file), 20_000);
  // The owners alone serve the latest version.
  for (const id of [a, b, survivor]) {
    await waitFor(`${id} holds v2`, async () => {
      const s = await replicaState(peers, c.node(id), 'hand', file);
      return s?.siblings.length === 1 && s.siblings[0]?.size === 'v2 under a hint'.length;
    });
  }
  const own = await replicaState(peers, c.node(o), 'hand', file);
  t.equal(own, null, `${o} keeps no copy once it handed it off`);
  await c.kill(o);
  const again = await get(c.url(a), 'hand', file);
  t.equal(again.body.toString(), 'v2 under a hint', 'the owners serve it without the hinted node');
  await c.restart(o);
  await waitAllUp(c);
});

t.test('a hinted node killed before delivery still delivers after it restarts', async (t) => {
  const file = 'hinted-node-killed.txt';
  const [a, b, survivor] = prefList(file) as [string, string, string];
  const o = outsider(file);
  await c.kill(a);
  await c.kill(b);
  await waitSeen(c, a, 'down', [survivor, o]);
  await waitSeen(c, b, 'down', [survivor, o]);
  const w = await put(c.url(survivor), 'hand', file, 'survives the hinted node');
  t.equal(w.status, 200, w.status === 200 ? 'written' : JSON.stringify(w.json));
  t.ok(w.json.hinted_system_data.some((h: { node: string }) => h.node === o));
  await c.kill(o); // the hint is on disk: it was written before the write was acknowledged
  await c.restart(a);
  await c.restart(b);
  t.notOk((await replicaState(peers, c.node(a), 'hand', file))?.siblings.some((s) => s.size > 0 && !s.deleted), 'not delivered yet');
  await c.restart(o);
  await waitFor('delivery by the restarted hinted node', async () => {
    const sa = await replicaState(peers, c.node(a), 'hand', file);
    const sb = await replicaState(peers, c.node(b), 'hand', file);
    return sa?.siblings.length === 1 && sb?.siblings.length === 1;
  }, 30_000);
  await waitFor('hint removed', () => !hintsOf(c, o).some((h) => h.file === file), 20_000);
  t.pass('delivered');
});

t.test('buckets created and deleted while a node is down reach it when it recovers', async (t) => {
  const victim = 'node2';
  await c.kill(victim);
  await waitSeen(c, victim, 'down', ids.filter((i) => i !== victim));
  t.equal((await call('POST', `${c.url('node1')}/buckets/made-while-down`)).status, 200);
  t.equal((await call('DELETE', `${c.url('node1')}/buckets/hand`)).status, 200);
  // A file written into the new bucket while the record for the down node is only a hint.
  const w = await put(c.url('node3'), 'made-while-down', 'early.txt', 'early');
  t.equal(w.status, 200);
  await c.restart(victim);
  await waitFor('the recovered node agrees on the buckets', async () => {
    const r = await call('GET', `${c.url(victim)}/buckets`);
    const list = await peers.request({ id: victim, host: '127.0.0.1', port: c.node(victim).port }, { type: 'list', ns: '$buckets' });
    const live = list.reply.entries.filter((e) => e.state.siblings.some((s) => !s.deleted)).map((e) => e.key).sort();
    return r.status === 200 && JSON.stringify(live) === JSON.stringify(['made-while-down']);
  }, 20_000);
  for (const id of ids) {
    const r = await call('GET', `${c.url(id)}/buckets`);
    t.same(r.json.buckets.map((b: { name: string }) => b.name), ['made-while-down'], `${id} lists the same buckets`);
  }
  t.equal((await get(c.url(victim), 'made-while-down', 'early.txt')).body.toString(), 'early', 'the early file is not lost');
  t.notOk(existsSync(join(c.dataDir(victim), 'buckets', 'hand')), `${victim} removed the deleted bucket's files`);
});

t.test('a large file written while an owner is down: the chunks kept for it are handed back to it', async (t) => {
  const down = 'node3';
  const others = ids.filter((i) => i !== down);
  const marks = (): Array<{ on: string; hash: string }> =>
    others.flatMap((id) => {
      const dir = join(c.dataDir(id), 'chunk-hints', down);
      return existsSync(dir) ? readdirSync(dir).map((hash) => ({ on: id, hash })) : [];
    });
  const holds = (id: string, hash: string): boolean => existsSync(join(c.dataDir(id), 'chunks', hash.slice(0, 2), hash));
  t.equal((await call('POST', `${c.url('node1')}/buckets/hand-big`)).status, 200);
  await c.kill(down);
  await waitSeen(c, down, 'down', ['node1']);
  const content = randomBytes(5 * 4 * 1024 * 1024 + 1);
  const w = await put(c.url('node1'), 'hand-big', 'big-while-down.bin', content);
  t.equal(w.status, 200, JSON.stringify(w.json));
  // The chunks node3 owns, each kept for it by the one node outside their owners (the put of the third copy
  // may still be under way when the client has its answer: W of them were enough).
  const MiB4 = 4 * 1024 * 1024;
  const hashes = Array.from({ length: 6 }, (_, i) => createHash('sha256').update(content.subarray(i * MiB4, (i + 1) * MiB4)).digest('hex'));
  const owned = hashes.filter((h) => ring.preferenceList(objectKey('$chunks', h), 3).includes(down));
  t.ok(owned.length > 0, `${down} owns ${owned.length} of the 6 chunks`);
  const kept = await waitFor('a hint for each', () => {
    const m = marks();
    return owned.every((h) => m.some((x) => x.hash === h)) ? m : null;
  });
  t.equal(kept.length, owned.length, `${kept.length} chunk(s) kept for ${down} on ${[...new Set(kept.map((m) => m.on))].join(', ')}`);
  for (const m of kept) t.ok(holds(m.on, m.hash), `${m.on} holds the chunk it keeps for ${down}`);
  await c.restart(down);
  await waitFor('every chunk handed back', () => marks().length === 0 && kept.every((m) => holds(down, m.hash)), 30_000, 250);
  for (const m of kept) {
    const owners = ring.preferenceList(objectKey('$chunks', m.hash), 3);
    t.ok(owners.includes(down) && !owners.includes(m.on), `${m.on} stood in for ${down}, an owner`);
    t.notOk(holds(m.on, m.hash), `${m.on} dropped its copy once ${down} had it`);
  }
  const g = await get(c.url(down), 'hand-big', 'big-while-down.bin');
  t.ok(g.body.equals(content), 'the file reads back whole from the machine that was down');
});
