// Replicas that fail: refused connections and hung processes count as failed,
// writes succeed with W of N and say who got them, reads with R of N, fewer is
// a 503 that names who answered, never a hang.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { Ring } from '../../src/ring/ring.js';
import { objectKey } from '../../src/ring/hash.js';

const REQUEST_MS = 1000;
const c = await TestCluster.create(t, { extra: { timeouts: { requestMs: REQUEST_MS, connectMs: 500 }, siblings: { warn: 2, max: 3 } } });
await c.startAll();
t.equal((await call('POST', `${c.url()}/buckets/faults`)).status, 200);
const ring = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256);
const prefList = (file: string): string[] => ring.preferenceList(objectKey('faults', file), 3);
/** The node outside a key's preference list: it coordinates without holding a replica. */
const outsider = (file: string): string => c.nodes.map((n) => n.id).find((id) => !prefList(file).includes(id)) as string;

t.test('one replica killed: the write succeeds with W=2 and names the down node', async (t) => {
  const file = 'one-down.txt';
  const [a, b, down] = prefList(file) as [string, string, string];
  await c.kill(down);
  t.teardown(() => c.restart(down));
  const w = await put(c.url(outsider(file)), 'faults', file, 'hello');
  t.equal(w.status, 200);
  t.ok(w.json.replicas_written.includes(a) && w.json.replicas_written.includes(b), 'both live owners hold it');
  t.notOk(w.json.replicas_written.includes(down));
  t.same(w.json.down_system_data, [down], 'the answer names the down node');
  // W=2 answered; the hinted third copy may still be on its way on a busy machine (the answer waits only
  // writeGraceMs for it): then it shows on the hinted node's disk.
  if (w.json.hinted_system_data) t.same(w.json.hinted_system_data, [{ node: outsider(file), for: down }], 'its copy went to the next node as a hint');
  else {
    const dir = join(c.dataDir(outsider(file)), 'hints', down, 'buckets', 'faults');
    await waitFor('the hinted copy on the next node clockwise', () => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.json')));
    t.pass('its copy went to the next node as a hint (after the answer)');
  }
  const r = await get(c.url(outsider(file)), 'faults', file);
  t.equal(r.status, 200, 'the read succeeds with R=2');
  t.equal(r.body.toString(), 'hello');
});

t.test('two owners and the node outside the list killed: 503 saying which replicas answered', async (t) => {
  const file = 'two-down.txt';
  await put(c.url(), 'faults', file, 'before');
  const [a, b, up] = prefList(file) as [string, string, string];
  const o = outsider(file);
  await c.kill(a);
  await c.kill(b);
  await c.kill(o);
  t.teardown(async () => {
    await c.restart(a);
    await c.restart(b);
    await c.restart(o);
  });
  const started = Date.now();
  const w = await put(c.url(up), 'faults', file, 'after');
  t.equal(w.status, 503, 'one live node cannot make W=2');
  t.equal(w.json.success, false);
  t.equal(w.json.error.code, 'QUORUM_NOT_REACHED');
  t.same(w.json.error.answered, [up]);
  t.equal(w.json.error.required, 2);
  t.same(w.json.error.failed.map((f: { node: string }) => f.node).sort(), [a, b, o].sort());
  t.ok(w.headers.get('retry-after'));
  const r = await get(c.url(up), 'faults', file);
  t.equal(r.status, 503);
  t.ok(Date.now() - started < 4 * REQUEST_MS, 'refused connections fail fast');
});

t.test('two owners killed: the write still succeeds through the node outside the list (sloppy quorum)', async (t) => {
  const file = 'two-owners-down.txt';
  const [a, b, up] = prefList(file) as [string, string, string];
  await c.kill(a);
  await c.kill(b);
  t.teardown(async () => {
    await c.restart(a);
    await c.restart(b);
  });
  const w = await put(c.url(up), 'faults', file, 'via a hint');
  t.equal(w.status, 200);
  t.ok(w.json.hinted_system_data.some((h: { node: string }) => h.node === outsider(file)));
  t.equal((await get(c.url(up), 'faults', file)).body.toString(), 'via a hint', 'and reads find it');
});

t.test('a hung replica (SIGSTOP) does not make a request wait past the timeout', async (t) => {
  const file = 'hung.txt';
  await put(c.url(), 'faults', file, 'v1');
  const [hung] = prefList(file) as [string];
  await c.freeze(hung);
  t.teardown(() => c.thaw(hung));
  const coordinator = outsider(file);
  let started = Date.now();
  const w = await put(c.url(coordinator), 'faults', file, 'v2');
  const writeMs = Date.now() - started;
  t.equal(w.status, 200);
  t.notOk(w.json.replicas_written.includes(hung));
  t.ok(writeMs < 3 * REQUEST_MS + 500, `write answered in ${writeMs} ms`);
  started = Date.now();
  const r = await get(c.url(coordinator), 'faults', file);
  const readMs = Date.now() - started;
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'v2');
  t.ok(readMs < REQUEST_MS + 500, `read answered in ${readMs} ms`);
});

t.test('past the sibling cap, a write without context is refused with 409', async (t) => {
  const file = 'crowded.txt';
  await put(c.url(), 'faults', file, 'v0');
  const ctx = (await get(c.url(), 'faults', file)).headers.get('x-context') as string;
  for (let i = 0; i < 4; i++) t.equal((await put(c.url(c.nodes[i]!.id), 'faults', file, `w${i}`, ctx)).status, 200);
  const many = await get(c.url(), 'faults', file);
  t.equal(many.status, 300);
  t.equal(many.json.siblings.length, 4);
  const blind = await put(c.url(), 'faults', file, 'blind');
  t.equal(blind.status, 409);
  t.equal(blind.json.error.code, 'TOO_MANY_SIBLINGS');
  t.match(blind.json.error.message, /context/);
  const resolved = await put(c.url(), 'faults', file, 'resolved', many.json.context);
  t.equal(resolved.status, 200, 'a write with the context resolves them');
  t.equal((await get(c.url(), 'faults', file)).body.toString(), 'resolved');
});
