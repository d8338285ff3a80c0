// Abuse against live processes: strangers on the socket port, replayed frames,
// a thousand idle connections, a 2 GiB length prefix, slow REST clients, and
// every limit of the config.
import t from 'tap';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put } from '../helpers/http.js';
import { RawConn, msg } from '../helpers/raw.js';
import { encodeFrame } from '../../src/protocol/codec.js';

const c = await TestCluster.create(t, {
  extra: { limits: { handshakeTimeoutMs: 1000, headersTimeoutMs: 1500, minBodyRateWindowMs: 2000, maxConcurrentRequests: 8, maxInFlightPerConnection: 4, maxInFlightBytesPerConnection: 1024 * 1024, maxUnauthenticated: 32, idleTimeoutMs: 1500 } },
});
await c.startAll();
await call('POST', `${c.url()}/buckets/abuse`);
const node1 = c.node('node1');
const open: Array<{ end(): void }> = [];
t.teardown(() => open.forEach((x) => x.end()));
const raw = (): RawConn => {
  const r = new RawConn(node1.port);
  open.push(r);
  return r;
};
const buckets = async (): Promise<string[]> => (await call('GET', `${c.url('node2')}/buckets`)).json.buckets.map((b: { name: string }) => b.name);

t.test('an unauthenticated client cannot create, write or delete anything', async (t) => {
  const bare = raw();
  bare.send(msg('u1', 'update', { ns: '$buckets', key: 'evil-bucket', context: {}, deleted: false, size: 0 }));
  bare.send(msg('u2', 'update', { ns: '$buckets', key: 'abuse', context: {}, deleted: true, size: 0 }));
  await bare.waitClosed();
  t.notOk(bare.frames.some((f) => f.json.type === 'update_reply'), 'no reply but the challenge');

  const wrongSecret = raw();
  await t.rejects(wrongSecret.authenticate('node1', 'not-the-cluster-secret-at-all'), /closed/);
  const stranger = raw();
  await t.rejects(stranger.authenticate('mallory'), /closed/, 'a node id outside the cluster');

  const lateStarter = raw();
  lateStarter.write(Buffer.concat(encodeFrame(msg('x', 'ping'))));
  await lateStarter.waitClosed();

  t.same(await buckets(), ['abuse'], 'nothing was created or deleted');
  t.equal(readFileSync(`${c.dataDir('node1')}/../../nodes.json`, 'utf8').includes('evil'), false);
});

t.test('a frame copied from one connection and replayed on another is refused', async (t) => {
  const a = raw();
  await a.authenticate();
  const wire = a.send(msg('r1', 'update', { ns: '$buckets', key: 'replayed', context: {}, deleted: false, size: 0 }));
  t.equal((await a.reply('r1')).json.type, 'update_reply');
  const b = raw();
  await b.authenticate();
  b.write(wire);
  await b.waitClosed();
  t.pass('the other connection closed on the copied frame');
  a.write(wire);
  await a.waitClosed();
  t.pass('and replaying it on its own connection closes that one too');
  const check = raw();
  await check.authenticate();
  check.send(msg('c1', 'read', { ns: '$buckets', key: 'replayed', bodies: 'none' }));
  const r = await check.reply('c1');
  t.equal(r.json.state.siblings.length, 1, 'the record was written once');
});

t.test('a thousand idle connections do not stop the node serving its peers', async (t) => {
  const idle: net.Socket[] = [];
  for (let i = 0; i < 1000; i++) {
    const s = net.connect({ host: '127.0.0.1', port: node1.port });
    s.on('error', () => undefined);
    idle.push(s);
  }
  open.push({ end: () => idle.forEach((s) => s.destroy()) });
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 10; i++) {
    const w = await put(c.url(`node${(i % 4) + 1}`), 'abuse', `while-flooded-${i}`, `v${i}`);
    t.equal(w.status, 200, `write ${i}`);
    t.ok(w.json.replicas_written.length >= 2);
  }
  // Five at a time: this cluster's REST apps take at most 8 requests at once (maxConcurrentRequests).
  const hits = [];
  for (const wave of [0, 5]) hits.push(...(await Promise.all(Array.from({ length: 5 }, (_, i) => get(c.url('node1'), 'abuse', `while-flooded-${wave + i}`)))));
  const failures = hits.filter((h) => h.status !== 200).map((h) => h.body.toString('utf8').slice(0, 400));
  t.same(hits.map((h) => h.status), Array(10).fill(200), `reads through node1 as well ${failures.join(' | ')}`);
  idle.forEach((s) => s.destroy());
});

t.test('a 2 GiB length prefix is refused without allocating it', async (t) => {
  const pid = c.procs.get('node1/node')!.pid as number;
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
  const before = rss();
  for (const authed of [false, true]) {
    const a = raw();
    if (authed) await a.authenticate();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0x80000000, 0);
    a.write(head);
    a.write(Buffer.alloc(64 * 1024, 7));
    await a.waitClosed();
  }
  t.ok(rss() - before < 64 * 1024 * 1024, `RSS grew by ${((rss() - before) / 1048576).toFixed(1)} MiB`);
  t.equal((await call('GET', `${c.url('node1')}/health`)).status, 200);
});

t.test('handshake timeout and the cap on waiting handshakes', async (t) => {
  const silent = raw();
  const started = Date.now();
  await silent.waitClosed(5000);
  t.ok(Date.now() - started < 3000, 'a connection that never authenticates is closed');
  const crowd = Array.from({ length: 40 }, () => raw());
  const peer = raw();
  await peer.authenticate();
  peer.send(msg('p', 'ping'));
  t.equal((await peer.reply('p')).json.type, 'pong', 'a peer gets through past more waiting strangers than the cap');
  await waitFor('the oldest strangers evicted', () => crowd.filter((x) => x.closed).length >= 8, 3000);
});

t.test('an authenticated connection that stays idle is closed (peers reconnect on demand)', async (t) => {
  const a = raw();
  await a.authenticate();
  const started = Date.now();
  await a.waitClosed(6000);
  t.ok(Date.now() - started < 5000, `closed after ${Date.now() - started} ms idle`);
  t.equal((await put(c.url('node2'), 'abuse', 'after-idle', 'x')).status, 200, 'pooled peer connections come back by themselves');
});

t.test('requests in flight per connection are capped by pausing, not by dropping', async (t) => {
  const a = raw();
  await a.authenticate();
  for (let i = 0; i < 50; i++) a.send(msg(`q${i}`, 'ping'));
  for (let i = 0; i < 50; i++) t.equal((await a.reply(`q${i}`)).json.type, 'pong');
});

t.test('body bytes in flight per connection are capped by pausing, not by dropping', async (t) => {
  // Six chunks of 512 KiB sent at once: three times this cluster's budget of 1 MiB in flight. The node
  // stops reading past it and reads on as replies leave; every put is answered and kept.
  const a = raw();
  await a.authenticate();
  const chunks = Array.from({ length: 6 }, (_, i) => Buffer.alloc(512 * 1024, i + 1));
  const hashes = chunks.map((b) => createHash('sha256').update(b).digest('hex'));
  chunks.forEach((b, i) => a.send(msg(`c${i}`, 'chunk_put', { hash: hashes[i], size: b.length }), b));
  for (let i = 0; i < chunks.length; i++) t.equal((await a.reply(`c${i}`)).json.type, 'chunk_put_reply', `chunk ${i} stored`);
  a.send(msg('has', 'chunk_has', { hashes }));
  t.same((await a.reply('has')).json.present, hashes.map(() => true), 'the node holds all six');
});

/** A raw HTTP client that sends its request one byte at a time. */
function slowClient(port: number, text: string, everyMs: number): { closedAt: Promise<number> } {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  const started = Date.now();
  s.resume(); // read (and drop) what the server answers, so its close is seen
  let i = 0;
  const timer = setInterval(() => {
    if (i < text.length && !s.destroyed) s.write(text[i++] as string);
  }, everyMs);
  open.push({ end: () => s.destroy() });
  return {
    closedAt: new Promise((res) =>
      s.on('close', () => {
        clearInterval(timer);
        res(Date.now() - started);
      }),
    ),
  };
}

t.test('a slow-loris REST client is cut off while others are served', async (t) => {
  const port = node1.restPort;
  const head = slowClient(port, 'GET /cluster HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200), 100);
  const served = await Promise.all(Array.from({ length: 5 }, () => call('GET', `${c.url('node1')}/health`)));
  t.same(served.map((r) => r.status), [200, 200, 200, 200, 200], 'others are served meanwhile');
  const headMs = await head.closedAt;
  t.ok(headMs < 6000, `a client sending its headers a byte at a time was cut off after ${headMs} ms`);
  const trickle = slowClient(port, 'PUT /buckets/abuse/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n', 1);
  const bodyMs = await Promise.race([trickle.closedAt, new Promise<number>((r) => setTimeout(() => r(99_999), 10_000))]);
  t.ok(bodyMs < 8000, `a client that never sends its body was cut off after ${bodyMs} ms`);
});

t.test('a body under the minimum rate is answered 408 and discarded; one at a good pace is not cut', async (t) => {
  const port = node1.restPort;
  // 100 bytes owed, one sent every 300 ms (3 B/s, under 16 KiB/s over the 2 s window of this cluster).
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  open.push({ end: () => s.destroy() });
  let answer = '';
  s.on('data', (d) => (answer += d.toString()));
  const closed = new Promise<number>((res) => s.on('close', () => res(Date.now())));
  const started = Date.now();
  s.write('PUT /buckets/abuse/trickled HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n');
  const trickle = setInterval(() => s.destroyed || s.write('x'), 300);
  const served = await Promise.all(Array.from({ length: 5 }, () => call('GET', `${c.url('node1')}/health`)));
  t.same(served.map((r) => r.status), [200, 200, 200, 200, 200], 'others are served meanwhile');
  const cutMs = (await closed) - started;
  clearInterval(trickle);
  t.ok(cutMs < 6000, `cut off after ${cutMs} ms`);
  t.match(answer, /^HTTP\/1\.1 408/, 'answered 408');
  t.match(answer, /REQUEST_TIMEOUT/);
  t.equal((await get(c.url('node2'), 'abuse', 'trickled')).status, 404, 'nothing of it was stored');
  // A body of 4 MiB sent at once takes longer than no window, and is stored whole.
  const big = Buffer.alloc(4 << 20, 7);
  t.equal((await put(c.url('node1'), 'abuse', 'paced', big)).status, 200);
  t.equal(Buffer.compare(Buffer.from(await (await fetch(`${c.url('node3')}/buckets/abuse/paced`)).arrayBuffer()), big), 0, 'read back whole');
});

t.test('a frame under the minimum rate on the socket port: an error, then the connection closes', async (t) => {
  const r = raw();
  await r.authenticate();
  const wire = r.seal(msg('slow1', 'ping'));
  const started = Date.now();
  let i = 0;
  // Every byte but the last, one per 200 ms: never idle, never done.
  const trickle = setInterval(() => i < wire.length - 1 && !r.closed && r.write(wire.subarray(i, ++i)), 200);
  await r.waitClosed(8000);
  clearInterval(trickle);
  const ms = Date.now() - started;
  t.ok(ms < 6000, `closed after ${ms} ms`);
  t.ok(r.frames.some((f) => f.json.type === 'error' && f.json.code === 'REQUEST_TIMEOUT'), 'told why: REQUEST_TIMEOUT');
  const fresh = raw();
  await fresh.authenticate();
  fresh.send(msg('p1', 'ping'));
  t.equal((await fresh.reply('p1')).json.type, 'pong', 'the node serves others');
});

t.test('past maxConcurrentRequests: 503 with Retry-After', async (t) => {
  const port = node1.restPort;
  const hung: net.Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.write('PUT /buckets/abuse/hold HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
    hung.push(s);
  }
  open.push({ end: () => hung.forEach((s) => s.destroy()) });
  await new Promise((r) => setTimeout(r, 300));
  const r = await call('GET', `${c.url('node1')}/cluster`);
  t.equal(r.status, 503);
  t.equal(r.json.error.code, 'OVERLOADED');
  t.equal(r.headers.get('retry-after'), '1');
  hung.forEach((s) => s.destroy());
  await waitFor('served again', async () => (await call('GET', `${c.url('node1')}/health`)).status === 200);
  t.pass('served again once they are gone');
});

t.test('a request head over maxHeaderBytes is refused with 431', async (t) => {
  const r = await fetch(`${c.url('node1')}/health`, { headers: { 'x-big': 'a'.repeat(20_000) } });
  t.equal(r.status, 431);
});
