// Fuzzing the REST routes of a live cluster: random methods, paths, names,
// headers and (multipart) bodies. Never a 5xx other than 503, never a file
// outside the data dir, and every node keeps serving.
import t from 'tap';
import fc from 'fast-check';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { TestCluster } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';
import { fuzzParams } from '../helpers/fuzz.js';

const c = await TestCluster.create(t, { extra: { maxObjectBytes: 64 * 1024, limits: { requestTimeoutMs: 5000, headersTimeoutMs: 3000 } } });
await c.startAll();
await call('POST', `${c.url()}/buckets/fuzz`);
await call('POST', `${c.url()}/buckets/untouched-by-fuzz-7`);
await call('PUT', `${c.url()}/buckets/untouched-by-fuzz-7/known`, 'known content');

const segment = fc.oneof(
  fc.constantFrom('buckets', 'fuzz', 'files', 'known', 'cluster', 'health', '..', '.', '%2e%2e', '%2F', '%00', '%ff', '%', '', 'Bad_Name', 'a'.repeat(70)),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 10 }).map((s) => encodeURIComponent(s)),
);
const path = fc
  .tuple(fc.array(segment, { maxLength: 5 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), fc.boolean())
  .map(([segs, q, rooted]) => `${rooted ? '/buckets/' : '/'}${segs.join('/')}${q === undefined ? '' : `?version=${encodeURIComponent(q)}`}`);
const printable = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const multipart = fc
  .tuple(printable, printable, fc.uint8Array({ maxLength: 200 }), fc.boolean(), fc.boolean())
  .map(([boundary, filename, data, close, withContext]) => {
    const b = boundary.replace(/[^A-Za-z0-9'()+_,-./:=?]/g, '') || 'x';
    const parts = [
      ...(withContext ? [`--${b}\r\nContent-Disposition: form-data; name="context"\r\n\r\nnot-a-context\r\n`] : []),
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${filename.replace(/"/g, '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ];
    const body = Buffer.concat([Buffer.from(parts.join('')), Buffer.from(data), Buffer.from(close ? `\r\n--${b}--\r\n` : '')]);
    return { contentType: `multipart/form-data; boundary=${b}`, body };
  });
const request = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'),
  path,
  context: fc.option(printable, { nil: undefined }),
  payload: fc.oneof(fc.constant({ contentType: 'application/octet-stream', body: Buffer.alloc(0) }), fc.uint8Array({ maxLength: 300 }).map((b) => ({ contentType: 'application/octet-stream', body: Buffer.from(b) })), multipart),
  node: fc.integer({ min: 0, max: 3 }),
});

interface FuzzRequest {
  method: string;
  path: string;
  context: string | undefined;
  payload: { contentType: string; body: Buffer };
  node: number;
}

function send(r: FuzzRequest): Promise<number> {
  const port = c.nodes[r.node]!.restPort;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': r.payload.contentType, 'content-length': String(r.payload.body.length) };
    if (r.context !== undefined) headers['x-context'] = r.context;
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(r.payload.body);
  });
}

t.test('random requests never get a 5xx other than 503', async (t) => {
  const statuses = new Map<number, number>();
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      cases++;
      const status = await send(r);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      return status < 500 || status === 503;
    }),
    fuzzParams(400),
  );
  t.comment(`${cases} cases; statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.pass('held');
});

t.test('nothing was written outside the data dir, and every node still serves', async (t) => {
  t.same(readdirSync(c.dir).sort(), ['data', 'nodes.json']);
  const allowed = new Set(['buckets', 'system', 'hints', 'identity.json', 'journal', 'paxos']);
  for (const n of c.nodes) {
    const extra = readdirSync(c.dataDir(n.id)).filter((e) => !allowed.has(e));
    t.same(extra, [], `${n.id}'s folder holds only the store's own entries`);
    t.equal((await call('GET', `${c.url(n.id)}/health`)).status, 200, `${n.id} serves`);
  }
  t.equal((await call('GET', `${c.url()}/buckets/untouched-by-fuzz-7/known`)).json, 'known content', 'and what was stored is intact');
});
