// Large files (issue 13) against four real node processes: a file above
// chunkBytes is stored as content-addressed chunks on N replicas each, placed
// by hash, and a manifest version; uploads (raw PUT and multipart) and
// downloads stream. Sizes at the chunk edges, ranges across chunk edges, HEAD,
// siblings of large files, equal chunks stored once.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call, get, put, upload } from '../helpers/http.js';

const CHUNK = 1024 * 1024;
const c = await TestCluster.create(t, { extra: { chunkBytes: CHUNK } });
await c.startAll();
const ids = c.nodes.map((n) => n.id);
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every chunk file on every node: hash -> the nodes holding it. */
function chunksOnDisk(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const top = join(c.dir, 'data', id, 'chunks');
    if (!existsSync(top)) continue;
    for (const sub of readdirSync(top)) for (const h of readdirSync(join(top, sub))) out.set(h, [...(out.get(h) ?? []), id]);
  }
  return out;
}

t.before(async () => {
  t.equal((await call('POST', `${c.url()}/buckets/big`)).status, 200);
});

const sizes: Array<[string, number]> = [
  ['empty', 0],
  ['one byte', 1],
  ['chunk - 1', CHUNK - 1],
  ['chunk', CHUNK],
  ['chunk + 1', CHUNK + 1],
  ['three chunks and a bit', 3 * CHUNK + 17],
];

for (const [label, size] of sizes) {
  t.test(`${label} (${size} bytes), raw PUT and multipart, reads back byte for byte from every node`, async (t) => {
    const content = randomBytes(size);
    const name = `f-${size}.bin`;
    const r = await put(c.url('node1'), 'big', name, content);
    t.equal(r.status, 200, JSON.stringify(r.json));
    t.equal(r.json.size, size);
    if (size > CHUNK) t.equal(r.json.chunks, Math.ceil(size / CHUNK), 'stored in chunks');
    else t.notOk(r.json.chunks, 'stored whole');
    for (const id of ids) {
      const g = await get(c.url(id), 'big', name);
      t.equal(g.status, 200, id);
      t.equal(g.body.length, size, `${id}: length`);
      t.ok(g.body.equals(content), `${id}: the same bytes`);
      t.equal(g.headers.get('content-md5'), Buffer.from(md5(content), 'hex').toString('base64'));
    }
    const form = await upload(c.url('node3'), 'big', `m-${size}.bin`, content);
    t.equal(form.status, 200, JSON.stringify(form.json));
    const g = await get(c.url('node2'), 'big', `m-${size}.bin`);
    t.ok(g.body.equals(content), 'multipart: the same bytes');
  });
}

t.test('each chunk is on N = 3 nodes, placed by its hash, and named by it', async (t) => {
  const content = randomBytes(5 * CHUNK);
  t.equal((await put(c.url(), 'big', 'placed.bin', content)).status, 200);
  // W of them answered; the third put may still be under way.
  const hashes = Array.from({ length: 5 }, (_, i) => sha(content.subarray(i * CHUNK, (i + 1) * CHUNK)));
  await waitFor('every chunk on three nodes', () => hashes.every((h) => chunksOnDisk().get(h)?.length === 3));
  const onDisk = chunksOnDisk();
  hashes.forEach((h, i) => t.equal(onDisk.get(h)?.length, 3, `chunk ${i} on three nodes`));
});

t.test('equal chunks are stored once', async (t) => {
  const content = randomBytes(2 * CHUNK + 5);
  t.equal((await put(c.url(), 'big', 'dup-a.bin', content)).status, 200);
  const mine = [0, 1, 2].map((i) => sha(content.subarray(i * CHUNK, (i + 1) * CHUNK)));
  await waitFor('its chunks on three nodes each', () => mine.every((h) => chunksOnDisk().get(h)?.length === 3));
  const before = [...chunksOnDisk().values()].reduce((n, nodes) => n + nodes.length, 0);
  t.equal((await put(c.url('node4'), 'big', 'dup-b.bin', content)).status, 200);
  t.equal([...chunksOnDisk().values()].reduce((n, nodes) => n + nodes.length, 0), before, 'a second file of the same bytes adds no chunk file on any node');
  t.ok((await get(c.url(), 'big', 'dup-b.bin')).body.equals(content));
});

t.test('ranges across chunk edges answer 206 with the right bytes; HEAD has the headers alone', async (t) => {
  const content = randomBytes(3 * CHUNK + 100);
  t.equal((await put(c.url(), 'big', 'ranged.bin', content)).status, 200);
  const cases: Array<[string, number, number]> = [
    [`bytes=0-0`, 0, 0],
    [`bytes=${CHUNK - 1}-${CHUNK}`, CHUNK - 1, CHUNK],
    [`bytes=${CHUNK}-${2 * CHUNK - 1}`, CHUNK, 2 * CHUNK - 1],
    [`bytes=${CHUNK - 10}-${2 * CHUNK + 10}`, CHUNK - 10, 2 * CHUNK + 10],
    [`bytes=${3 * CHUNK}-`, 3 * CHUNK, content.length - 1],
    [`bytes=-50`, content.length - 50, content.length - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await fetch(`${c.url('node2')}/buckets/big/ranged.bin`, { headers: { range } });
    const body = Buffer.from(await res.arrayBuffer());
    t.equal(res.status, 206, range);
    t.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${content.length}`, range);
    t.ok(body.equals(content.subarray(start, end + 1)), `${range}: the right bytes`);
  }
  const past = await fetch(`${c.url()}/buckets/big/ranged.bin`, { headers: { range: `bytes=${content.length}-` } });
  t.equal(past.status, 416);
  t.equal(past.headers.get('content-range'), `bytes */${content.length}`);
  const head = await fetch(`${c.url()}/buckets/big/ranged.bin`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(content.length));
  t.equal((await head.arrayBuffer()).byteLength, 0);
});

t.test('concurrent writes of a large file are siblings, each readable whole', async (t) => {
  const base = await put(c.url(), 'big', 'sib.bin', randomBytes(CHUNK + 3));
  const context = base.headers.get('x-context') as string;
  const a = randomBytes(2 * CHUNK + 1);
  const b = randomBytes(CHUNK + 9);
  const [ra, rb] = await Promise.all([put(c.url('node1'), 'big', 'sib.bin', a, context), put(c.url('node3'), 'big', 'sib.bin', b, context)]);
  t.equal(ra.status, 200);
  t.equal(rb.status, 200);
  const g = await get(c.url('node2'), 'big', 'sib.bin');
  t.equal(g.status, 300, 'two concurrent versions');
  const versions = g.json.siblings as Array<{ version: string; size: number }>;
  t.same(versions.map((s) => s.size).sort((x, y) => x - y), [b.length, a.length]);
  for (const s of versions) {
    const one = await get(c.url('node4'), 'big', 'sib.bin', `?version=${encodeURIComponent(s.version)}`);
    t.equal(one.status, 200);
    t.ok(one.body.equals(s.size === a.length ? a : b), `version ${s.version} reads back whole`);
  }
  // Resolved with the context of that read: one version again.
  const resolved = randomBytes(CHUNK * 2);
  t.equal((await put(c.url(), 'big', 'sib.bin', resolved, g.json.context)).status, 200);
  const after = await get(c.url('node1'), 'big', 'sib.bin');
  t.equal(after.status, 200);
  t.ok(after.body.equals(resolved));
});

t.test('the listing shows a large file with its whole size', async (t) => {
  const r = await call('GET', `${c.url()}/buckets/big?prefix=f-`);
  t.equal(r.status, 200);
  const f = (r.json.files as Array<{ name: string; size: number }>).find((x) => x.name === `f-${3 * CHUNK + 17}.bin`);
  t.equal(f?.size, 3 * CHUNK + 17);
});

t.test('a delete of a large file leaves it unreadable; its previous version stays until then', async (t) => {
  const r = await call('DELETE', `${c.url()}/buckets/big/f-${CHUNK + 1}.bin`);
  t.equal(r.status, 200);
  t.equal((await get(c.url('node2'), 'big', `f-${CHUNK + 1}.bin`)).status, 404);
});

/** Send `total` random bytes as a raw PUT, a piece at a time (the test holds no more than a piece); after `stopAfter` bytes, call it. */
function streamPut(base: string, name: string, total: number, opts: { stopAfter?: number; onStop?: (req: http.ClientRequest) => void } = {}): Promise<{ status: number; sha: string; body: string }> {
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/buckets/big/${name}`, { method: 'PUT', headers: { 'content-length': total } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha: hash.digest('hex'), body }));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        if (opts.stopAfter !== undefined && sent >= opts.stopAfter) return opts.onStop?.(req);
        const piece = randomBytes(Math.min(256 * 1024, total - sent));
        hash.update(piece);
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** GET a file as a stream: its status, length and SHA-256, never the whole body in memory. */
function streamGet(base: string, name: string): Promise<{ status: number; length: number; sha: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/buckets/big/${name}`, (res) => {
        const hash = createHash('sha256');
        let length = 0;
        res.on('data', (d: Buffer) => {
          hash.update(d);
          length += d.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length, sha: hash.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

t.test('100 MiB streams up and down byte for byte', async (t) => {
  // Peak memory is measured by `npm run bench` (bench/large.ts), not here.
  const size = 100 * 1024 * 1024;
  const up = await streamPut(c.url('node2'), 'hundred.bin', size);
  t.equal(up.status, 200, up.body);
  t.equal(JSON.parse(up.body).chunks, 100);
  const down = await streamGet(c.url('node4'), 'hundred.bin');
  t.equal(down.status, 200);
  t.equal(down.length, size);
  t.equal(down.sha, up.sha, 'the same bytes');
});

t.test('a client that disconnects mid-upload leaves the previous version, and no partial file', async (t) => {
  const old = randomBytes(2 * CHUNK + 1);
  t.equal((await put(c.url(), 'big', 'cut.bin', old)).status, 200);
  const cut = await streamPut(c.url('node1'), 'cut.bin', 8 * CHUNK, { stopAfter: 3 * CHUNK + 5, onStop: (req) => req.destroy() }).catch((e: Error) => ({ status: 0, sha: '', body: e.message }));
  t.equal(cut.status, 0, 'the client gave up');
  for (const id of ids) {
    const g = await get(c.url(id), 'big', 'cut.bin');
    t.equal(g.status, 200, id);
    t.ok(g.body.equals(old), `${id}: the previous version`);
  }
  const list = await call('GET', `${c.url()}/buckets/big?prefix=cut`);
  t.same(list.json.files.map((f: { name: string; size: number }) => [f.name, f.size]), [['cut.bin', old.length]]);
});

t.test('kill -9 of the coordinating REST process mid-upload: the previous version stays readable', async (t) => {
  const old = randomBytes(CHUNK + 7);
  t.equal((await put(c.url(), 'big', 'killed.bin', old)).status, 200);
  let killed: Promise<void> | null = null;
  const cut = await streamPut(c.url('node2'), 'killed.bin', 10 * CHUNK, { stopAfter: 4 * CHUNK, onStop: () => void (killed = c.signal('node2', 'SIGKILL', 'rest')) }).catch((e: Error) => ({ status: 0, sha: '', body: e.message }));
  t.equal(cut.status, 0, 'the upload failed with the connection');
  await killed;
  c.spawnRole('node2', 'rest');
  await waitFor('node2 REST', async () => (await fetch(`${c.url('node2')}/health`).catch(() => null))?.ok);
  for (const id of ids) {
    const g = await get(c.url(id), 'big', 'killed.bin');
    t.equal(g.status, 200, id);
    t.ok(g.body.equals(old), `${id}: the previous version`);
  }
});
