// Raw frames against a running node process, as a peer (or a stranger) sends
// them: replies by id, bodies as raw bytes, and bad input answered or closed
// without crashing the node or stalling its other connections.
import t from 'tap';
import net from 'node:net';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { FrameDecoder, encodeFrame, isFault, type Frame } from '../../src/protocol/codec.js';

const c = await TestCluster.create(t, { nodes: 1, replication: { n: 1, r: 1, w: 1 }, extra: { maxObjectBytes: 64 * 1024, maxFrameBytes: 128 * 1024 } });
const proc = c.spawnRole('node1', 'node');
const port = c.node('node1').port;

class RawConn {
  readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder(1 << 24);
  readonly frames: Frame[] = [];
  closed = false;
  constructor() {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('data', (d) => {
      for (const f of this.decoder.push(d)) if (!isFault(f)) this.frames.push(f);
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }
  send(msg: object, body?: Buffer): void {
    for (const b of encodeFrame(msg, body ? [body] : [])) this.socket.write(b);
  }
  async reply(re: string): Promise<Frame & { json: Record<string, any> }> {
    return (await waitFor(`reply to ${re}`, () => this.frames.find((f) => (f.json as { re?: string }).re === re), 5000)) as Frame & { json: Record<string, any> };
  }
  end(): void {
    this.socket.destroy();
  }
}

const msg = (id: string, type: string, fields: Record<string, unknown> = {}) => ({ v: 1, id, sender: 'test', type, ...fields });

await waitFor('node listening', () => new Promise<boolean>((res) => net.connect({ host: '127.0.0.1', port }).on('connect', function (this: net.Socket) { this.destroy(); res(true); }).on('error', () => res(false))));

t.teardown(() => {
  for (const conn of open) conn.end();
});
const open: RawConn[] = [];
const conn = (): RawConn => {
  const r = new RawConn();
  open.push(r);
  return r;
};

t.test('ping is answered with pong, by request id', async (t) => {
  const a = conn();
  a.send(msg('p1', 'ping'));
  a.send(msg('p2', 'ping'));
  t.equal((await a.reply('p2')).json.type, 'pong');
  t.equal((await a.reply('p1')).json.node, 'node1');
});

t.test('file content travels as raw bytes after the JSON', async (t) => {
  const a = conn();
  const rec = msg('b1', 'update', { ns: '$buckets', key: 'raw', context: {}, deleted: false, size: 0, uid: 'u1' });
  a.send(rec);
  t.equal((await a.reply('b1')).json.type, 'update_reply');
  const body = Buffer.from([0, 255, 1, 254, 0x7b, 0x22]);
  a.send(msg('u1', 'update', { ns: 'raw', key: 'bin', context: {}, deleted: false, size: body.length }), body);
  const up = await a.reply('u1');
  t.equal(up.json.type, 'update_reply');
  a.send(msg('r1', 'read', { ns: 'raw', key: 'bin', bodies: 'all' }));
  const r = await a.reply('r1');
  t.equal(r.json.bodies[0].size, body.length);
  t.ok(r.body.equals(body), 'the same bytes come back');
});

t.test('bad JSON and unknown types get an error reply and the connection goes on', async (t) => {
  const a = conn();
  const json = Buffer.from('{not json');
  const frame = Buffer.alloc(8 + json.length);
  frame.writeUInt32BE(4 + json.length, 0);
  frame.writeUInt32BE(json.length, 4);
  json.copy(frame, 8);
  a.socket.write(frame);
  a.send(msg('x1', 'launch_missiles'));
  a.send(msg('x2', 'read', { ns: '../../etc', key: 'passwd', bodies: 'all' }));
  a.send(msg('x3', 'update', { ns: 'raw', key: 'k', context: {}, deleted: false, size: 10 }), Buffer.from('short'));
  a.send(msg('x4', 'pong', { re: 'x', node: 'n', incarnation: 'i' }));
  a.send(msg('x5', 'sync', { ns: 'raw', key: 'k', state: { context: { '../../x.y': 1 }, siblings: [] }, bodies: [] }));
  const bad = await a.reply('-');
  t.equal(bad.json.code, 'BAD_FRAME');
  t.equal((await a.reply('x1')).json.code, 'BAD_MESSAGE', 'unknown type');
  t.equal((await a.reply('x2')).json.code, 'INVALID_BUCKET_NAME', 'a namespace that would traverse');
  t.equal((await a.reply('x3')).json.code, 'BAD_FRAME', 'a body shorter than declared');
  t.equal((await a.reply('x4')).json.code, 'BAD_MESSAGE', 'a reply sent as a request');
  t.equal((await a.reply('x5')).json.code, 'BAD_MESSAGE', 'an actor that is not <node>.<incarnation>');
  a.send(msg('ok', 'ping'));
  t.equal((await a.reply('ok')).json.type, 'pong', 'still served');
});

t.test('an oversized frame is answered and closed, other connections unaffected', async (t) => {
  const other = conn();
  const a = conn();
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0x80000000, 0); // 2 GiB
  a.socket.write(head);
  const err = await a.reply('-');
  t.equal(err.json.code, 'FRAME_TOO_LARGE');
  await waitFor('connection closed', () => a.closed);
  other.send(msg('still', 'ping'));
  t.equal((await other.reply('still')).json.type, 'pong');
  t.equal(proc.exitCode, null, 'the node is still running');
});

t.test('a half-sent frame does not stall other connections', async (t) => {
  const slow = conn();
  const frame = Buffer.concat(encodeFrame(msg('half', 'ping')));
  slow.socket.write(frame.subarray(0, 5));
  const other = conn();
  other.send(msg('fast', 'ping'));
  t.equal((await other.reply('fast')).json.type, 'pong');
  slow.socket.write(frame.subarray(5));
  t.equal((await slow.reply('half')).json.type, 'pong', 'and the half frame completes later');
});

t.test('garbage bytes never crash the node', async (t) => {
  for (let i = 0; i < 20; i++) {
    const a = conn();
    const junk = Buffer.alloc(200);
    for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 17) % 256;
    a.socket.write(junk);
  }
  const check = conn();
  check.send(msg('alive', 'ping'));
  t.equal((await check.reply('alive')).json.type, 'pong');
  t.equal(proc.exitCode, null);
});
