// The original store's flows over REST, against four real node processes:
// bucket create/delete, multipart upload, raw PUT, download, delete, listings.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { TestCluster } from '../helpers/cluster.js';
import { call, get, put, rawRequest, upload } from '../helpers/http.js';

const c = await TestCluster.create(t, { extra: { maxObjectBytes: 1024 * 1024 } });
await c.startAll();
const ids = c.nodes.map((n) => n.id);

t.test('POST /buckets/<bucket> creates the bucket on every node', async (t) => {
  const r = await call('POST', `${c.url('node1')}/buckets/photos`);
  t.equal(r.status, 200);
  t.equal(r.json.success, true);
  t.equal(r.json.created, true);
  t.same([...r.json.replicas_written].sort(), ids, 'every node holds the bucket record');
  const again = await call('POST', `${c.url('node2')}/buckets/photos`);
  t.equal(again.status, 200, 'creating it again is fine');
  t.equal(again.json.created, false);
  const list = await call('GET', `${c.url('node3')}/buckets`);
  t.same(list.json.buckets.map((b: { name: string }) => b.name), ['photos']);
});

t.test('a bad bucket name is a 400 with a clear message', async (t) => {
  for (const name of ['Bad_Name', 'ab', '..', '%2e%2e', 'a..b']) {
    const r = await rawRequest(c.url(), 'POST', `/buckets/${name}`);
    t.equal(r.status, 400, name);
    t.equal(r.json.success, false);
    t.equal(r.json.error.code, 'INVALID_BUCKET_NAME');
    t.match(r.json.error.message, /bucket name/);
  }
});

let uploaded: { version: string; context: string };
t.test('POST /buckets/<bucket>/files uploads a multipart file, as Postman does', async (t) => {
  const r = await upload(c.url('node2'), 'photos', 'cat.jpg', 'meow-bytes');
  t.equal(r.status, 200);
  t.equal(r.json.success, true);
  t.equal(r.json.coordinator, 'node2', 'the node called coordinates');
  t.equal(r.json.pref_list.length, 3);
  t.ok(r.json.replicas_written.length >= 2, 'at least W replicas');
  for (const n of r.json.replicas_written) t.ok(r.json.pref_list.includes(n), `${n} is in the preference list`);
  t.equal(r.json.vector_clock_list.length, r.json.replicas_written.length, 'one clock per replica written');
  for (const e of r.json.vector_clock_list) {
    t.type(e.node, 'string');
    t.type(e.clock, 'object');
    t.ok(Object.values(e.clock).every((v) => typeof v === 'number'));
  }
  uploaded = { version: r.json.version, context: r.json.context };
});

t.test('GET /buckets/<bucket>/<file> from any node returns the bytes and the context', async (t) => {
  for (const id of ids) {
    const r = await get(c.url(id), 'photos', 'cat.jpg');
    t.equal(r.status, 200, id);
    t.equal(r.body.toString(), 'meow-bytes');
    t.ok(r.headers.get('x-context'), 'X-Context header');
    t.equal(r.headers.get('x-version'), uploaded.version);
  }
});

t.test('PUT /buckets/<bucket>/<file> uploads the raw body, and binary content survives', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
  const r = await put(c.url('node4'), 'photos', 'bin/data.raw', bytes);
  t.equal(r.status, 200);
  const back = await get(c.url('node1'), 'photos', 'bin/data.raw');
  t.equal(back.status, 200);
  t.ok(back.body.equals(bytes), 'byte for byte');
  const over = await put(c.url('node1'), 'photos', 'cat.jpg', 'a newer cat');
  t.equal(over.status, 200);
  t.equal((await get(c.url('node3'), 'photos', 'cat.jpg')).body.toString(), 'a newer cat', 'a write without context supersedes what it saw');
});

t.test('Range: 206 with the bytes asked for, 416 past the end; HEAD answers the headers alone', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  t.equal((await put(c.url(), 'photos', 'ranged.bin', bytes)).status, 200);
  const url = `${c.url('node2')}/buckets/photos/ranged.bin`;
  const cases: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=10-19', 10, 19],
    ['bytes=990-', 990, 999],
    ['bytes=-5', 995, 999],
    ['bytes=900-5000', 900, 999],
    ['bytes=-5000', 0, 999],
  ];
  for (const [range, start, end] of cases) {
    const r = await fetch(url, { headers: { range } });
    t.equal(r.status, 206, `${range}: 206`);
    t.equal(r.headers.get('content-range'), `bytes ${start}-${end}/1000`, `${range}: Content-Range`);
    t.same(Buffer.from(await r.arrayBuffer()), bytes.subarray(start, end + 1), `${range}: the right bytes`);
  }
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
    const r = await fetch(url, { headers: { range } });
    t.equal(r.status, 416, `${range}: 416`);
    t.equal(r.headers.get('content-range'), 'bytes */1000');
    t.equal(((await r.json()) as { error: { code: string } }).error.code, 'RANGE_NOT_SATISFIABLE');
  }
  // Several ranges, another unit or nonsense: the whole file, as RFC 9110 allows.
  for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-2']) {
    const r = await fetch(url, { headers: { range } });
    t.equal(r.status, 200, `${range}: the whole file`);
    t.equal((await r.arrayBuffer()).byteLength, 1000);
  }
  // If-Range with a tag that no longer matches: the whole (new) file.
  const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag') as string;
  t.equal((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status, 206, 'If-Range with the current tag: 206');
  t.equal((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })).status, 200, 'If-Range with another tag: 200');
  const head = await fetch(url, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), '1000');
  t.equal(head.headers.get('accept-ranges'), 'bytes');
  t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD: no body');
  t.equal((await call('DELETE', url)).status, 200, 'gone again (the listing below counts the bucket\'s files)');
});

t.test('GET /buckets/<bucket> lists files with size, clock and sibling count', async (t) => {
  const r = await call('GET', `${c.url('node3')}/buckets/photos`);
  t.equal(r.status, 200);
  const names = r.json.files.map((f: { name: string }) => f.name);
  t.same(names, ['bin/data.raw', 'cat.jpg']);
  const cat = r.json.files.find((f: { name: string }) => f.name === 'cat.jpg');
  t.equal(cat.size, 'a newer cat'.length);
  t.equal(cat.siblings, 1);
  t.type(cat.clock, 'object');
});

t.test('missing bucket or file is a 404 with its code', async (t) => {
  const a = await upload(c.url(), 'nobucket', 'x.txt', 'x');
  t.equal(a.status, 404);
  t.equal(a.json.error.code, 'NO_SUCH_BUCKET');
  // Regression (CI): the answer came before the body was read, and the client still sending got EPIPE.
  for (let i = 0; i < 5; i++) {
    const big = await upload(c.url(), 'nobucket', 'big.bin', Buffer.alloc(4 << 20, i));
    t.equal(big.status, 404, `an upload of 4 MiB to a missing bucket hears 404 (${i + 1} of 5)`);
  }
  const b = await get(c.url(), 'photos', 'nothing-here');
  t.equal(b.status, 404);
  t.equal(b.json.error.code, 'NO_SUCH_FILE');
  const d = await get(c.url(), 'nobucket', 'x.txt');
  t.equal(d.json.error.code, 'NO_SUCH_BUCKET');
  const e = await call('GET', `${c.url()}/buckets/nobucket`);
  t.equal(e.status, 404);
});

t.test('names that look like traversal stay inside the data dir', async (t) => {
  for (const [path, name] of [['..%2F..%2Fescape', '../../escape'], ['..', '..'], ['%252e%252e%252fx', '%2e%2e%2fx'], ['../../x', '../../x'], ['%2e%2e/%2e%2e/y', '../../y']]) {
    const r = await rawRequest(c.url(), 'PUT', `/buckets/photos/${path}`, `content of ${name}`);
    t.equal(r.status, 200, `${path} stores a file named ${name}`);
    t.equal(r.json.file, name);
    const back = await rawRequest(c.url('node2'), 'GET', `/buckets/photos/${path}`);
    t.equal(back.json, `content of ${name}`);
  }
  t.same(readdirSync(c.dir).sort(), ['data', 'nodes.json'], 'nothing was written beside the data dir');
  for (const id of ids) {
    const entries = readdirSync(`${c.dir}/data/${id}`).filter((e) => !e.endsWith('.log') && !e.endsWith('.pid'));
    t.same(entries.sort(), ['buckets', 'identity.json', 'journal', 'paxos', 'system'], `${id}'s dir holds only the store's own folders`);
  }
  const nul = await call('PUT', `${c.url()}/buckets/photos/a%00b`, 'x');
  t.equal(nul.status, 400);
  t.equal(nul.json.error.code, 'INVALID_FILE_NAME');
  const bad = await call('GET', `${c.url()}/buckets/photos/%E0%A4%A`);
  t.equal(bad.status, 400);
  const long = await call('PUT', `${c.url()}/buckets/photos/${'x'.repeat(1025)}`, 'x');
  t.equal(long.status, 400);
});

t.test('a file over the size limit is a 413', async (t) => {
  const big = Buffer.alloc(1024 * 1024 + 1, 1);
  const a = await put(c.url(), 'photos', 'big', big);
  t.equal(a.status, 413);
  t.equal(a.json.error.code, 'TOO_LARGE');
  const b = await upload(c.url(), 'photos', 'big', big);
  t.equal(b.status, 413);
  t.equal((await get(c.url(), 'photos', 'big')).status, 404, 'nothing was stored');
});

t.test('DELETE /buckets/<bucket>/<file> writes a tombstone', async (t) => {
  const r = await call('DELETE', `${c.url('node2')}/buckets/photos/cat.jpg`);
  t.equal(r.status, 200);
  t.equal(r.json.success, true);
  t.ok(r.json.replicas_written.length >= 2);
  t.equal((await get(c.url('node4'), 'photos', 'cat.jpg')).status, 404);
  const again = await call('DELETE', `${c.url('node2')}/buckets/photos/cat.jpg`);
  t.equal(again.status, 404, 'deleting a deleted file is a 404');
  const list = await call('GET', `${c.url()}/buckets/photos`);
  t.notOk(list.json.files.some((f: { name: string }) => f.name === 'cat.jpg'));
});

t.test('GET /cluster shows N, R, W and every node', async (t) => {
  const r = await call('GET', `${c.url('node3')}/cluster`);
  t.equal(r.status, 200);
  t.same([r.json.n, r.json.r, r.json.w], [3, 2, 2]);
  t.same(r.json.nodes.map((n: { id: string }) => n.id), ids);
  for (const n of r.json.nodes) {
    t.same(Object.keys(n).sort(), ['anti_entropy', 'host', 'id', 'partitions', 'port', 'restPort', 'role', 'status']);
    t.equal(n.status, 'up');
  }
});

t.test('unknown endpoints and methods', async (t) => {
  t.equal((await call('GET', `${c.url()}/nope`)).json.error.code, 'NOT_FOUND');
  const m = await call('PATCH', `${c.url()}/buckets/photos`);
  t.equal(m.status, 405);
});

t.test('DELETE /buckets/<bucket> removes it and its files on every node', async (t) => {
  const r = await call('DELETE', `${c.url('node4')}/buckets/photos`);
  t.equal(r.status, 200);
  t.equal((await call('GET', `${c.url()}/buckets/photos`)).status, 404);
  t.equal((await call('DELETE', `${c.url()}/buckets/photos`)).status, 404, 'deleting it again is a 404');
  t.same((await call('GET', `${c.url()}/buckets`)).json.buckets, []);
  for (const id of ids) t.notOk(readdirSync(`${c.dir}/data/${id}/buckets`).includes('photos'), `${id} removed the folder`);
  // Re-created, it is empty: the old files do not come back.
  t.equal((await call('POST', `${c.url()}/buckets/photos`)).status, 200);
  t.same((await call('GET', `${c.url()}/buckets/photos`)).json.files, []);
  t.equal((await get(c.url(), 'photos', 'bin/data.raw')).status, 404);
});
