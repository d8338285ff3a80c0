// Raw frames against a running node process, as a peer sends them after the
// handshake: replies by id, bodies as raw bytes, and bad input answered or
// closed without crashing the node or stalling its other connections.
import t from 'tap';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { RawConn, msg } from '../helpers/raw.js';
import net from 'node:net';

const c = await TestCluster.create(t, { nodes: 1, replication: { n: 1, r: 1, w: 1 }, extra: { maxObjectBytes: 64 * 1024, maxFrameBytes: 128 * 1024 } });
const proc = c.spawnRole('node1', 'node');
const port = c.node('node1').port;
await waitFor('node listening', () => new Promise<boolean>((res) => net.connect({ host: '127.0.0.1', port }).on('connect', function (this: net.Socket) { this.destroy(); res(true); }).on('error', () => res(false))));

const open: RawConn[] = [];
t.teardown(() => open.forEach((x) => x.end()));
const conn = async (): Promise<RawConn> => {
  const r = new RawConn(port);
  open.push(r);
  await r.authenticate();
  return r;
};
/** A payload framed by hand: [u32 JSON length][bytes]. */
const payloadOf = (json: Buffer, jsonLen = json.length): Buffer => {
  const b = Buffer.alloc(4 + json.length);
  b.writeUInt32BE(jsonLen, 0);
  json.copy(b, 4);
  return b;
};

t.test('ping is answered with pong, by request id', async (t) => {
  const a = await conn();
  a.send(msg('p1', 'ping'));
  a.send(msg('p2', 'ping'));
  t.equal((await a.reply('p2')).json.type, 'pong');
  t.equal((await a.reply('p1')).json.node, 'node1');
});

t.test('file content travels as raw bytes after the JSON', async (t) => {
  const a = await conn();
  a.send(msg('b1', 'update', { ns: '$buckets', key: 'raw', context: {}, deleted: false, size: 0, uid: 'u1' }));
  t.equal((await a.reply('b1')).json.type, 'update_reply');
  const body = Buffer.from([0, 255, 1, 254, 0x7b, 0x22]);
  a.send(msg('u1', 'update', { ns: 'raw', key: 'bin', context: {}, deleted: false, size: body.length }), body);
  t.equal((await a.reply('u1')).json.type, 'update_reply');
  a.send(msg('r1', 'read', { ns: 'raw', key: 'bin', bodies: 'all' }));
  const r = await a.reply('r1');
  t.equal(r.json.bodies[0].size, body.length);
  t.ok(r.body.equals(body), 'the same bytes come back');
});

t.test('bad JSON and unknown types get an error reply and the connection goes on', async (t) => {
  const a = await conn();
  a.write(a.frameOf(payloadOf(Buffer.from('{not json'))));
  const bad = await a.reply('-');
  t.equal(bad.json.code, 'BAD_FRAME');
  a.write(a.frameOf(payloadOf(Buffer.from('{}'), 999)));
  a.send(msg('x1', 'launch_missiles'));
  a.send(msg('x2', 'read', { ns: '../../etc', key: 'passwd', bodies: 'all' }));
  a.send(msg('x3', 'update', { ns: 'raw', key: 'k', context: {}, deleted: false, size: 10 }), Buffer.from('short'));
  a.send(msg('x4', 'pong', { re: 'x', node: 'n', incarnation: 'i' }));
  a.send(msg('x5', 'sync', { ns: 'raw', key: 'k', state: { context: { '../../x.y': 1 }, siblings: [] }, bodies: [] }));
  a.send(msg('x6', 'ping', {}, 'node2'));
  t.equal((await a.reply('x1')).json.code, 'BAD_MESSAGE', 'unknown type');
  t.equal((await a.reply('x2')).json.code, 'INVALID_BUCKET_NAME', 'a namespace that would traverse');
  t.equal((await a.reply('x3')).json.code, 'BAD_FRAME', 'a body shorter than declared');
  t.equal((await a.reply('x4')).json.code, 'BAD_MESSAGE', 'a reply sent as a request');
  t.equal((await a.reply('x5')).json.code, 'BAD_MESSAGE', 'an actor that is not <node>.<incarnation>');
  const x6 = await a.reply('x6');
  t.equal(x6.json.code, 'BAD_MESSAGE', 'a sender that is not the authenticated node');
  t.match(x6.json.message, /authenticated/);
  a.send(msg('ok', 'ping'));
  t.equal((await a.reply('ok')).json.type, 'pong', 'still served');
});

t.test('an oversized frame is answered and closed, other connections unaffected', async (t) => {
  const other = await conn();
  const a = await conn();
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0x80000000, 0); // 2 GiB
  a.write(head);
  t.equal((await a.reply('-')).json.code, 'FRAME_TOO_LARGE');
  await a.waitClosed();
  other.send(msg('still', 'ping'));
  t.equal((await other.reply('still')).json.type, 'pong');
  t.equal(proc.exitCode, null, 'the node is still running');
});

t.test('a half-sent frame does not stall other connections', async (t) => {
  const slow = await conn();
  const wire = slow.seal(msg('half', 'ping'));
  slow.write(wire.subarray(0, 5));
  const other = await conn();
  other.send(msg('fast', 'ping'));
  t.equal((await other.reply('fast')).json.type, 'pong');
  slow.write(wire.subarray(5));
  t.equal((await slow.reply('half')).json.type, 'pong', 'and the half frame completes later');
});

t.test('garbage bytes never crash the node', async (t) => {
  for (let i = 0; i < 20; i++) {
    const a = new RawConn(port);
    open.push(a);
    const junk = Buffer.alloc(200);
    for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 17) % 256;
    a.write(junk);
    if (i % 2 === 0) {
      const b = await conn();
      b.write(junk);
    }
  }
  const check = await conn();
  check.send(msg('alive', 'ping'));
  t.equal((await check.reply('alive')).json.type, 'pong');
  t.equal(proc.exitCode, null);
});

t.test('a Paxos prepare chosen under an older membership epoch is refused with STALE_EPOCH and the epoch held', async (t) => {
  const a = await conn();
  const ballot = { n: 1, actor: 'tester' };
  a.send(msg('x0', 'paxos_prepare', { space: 'locks', key: 'k', ballot, epoch: 0 }));
  const refused = (await a.reply('x0')).json;
  t.equal(refused.type, 'error');
  t.equal(refused.code, 'STALE_EPOCH');
  t.equal(refused.details?.epoch, 1);
  a.send(msg('x1', 'paxos_prepare', { space: 'locks', key: 'k', ballot, epoch: 1 }));
  // This lone node has no scheduler to take in its peers' Paxos state, so it answers that it is recovering.
  const taken = (await a.reply('x1')).json;
  t.not(taken.code, 'STALE_EPOCH', 'the epoch the node holds is not refused');
});
