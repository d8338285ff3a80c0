// The ringstore CLI against a live cluster, run as a person runs it: every
// command, exit codes, --json, siblings and their resolution, a down endpoint.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TestCluster } from '../helpers/cluster.js';

const c = await TestCluster.create(t);
await c.startAll();
const work = mkdtempSync(join(tmpdir(), 'ringstore-cli-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--config', c.configFile, ...args], { cwd: work, encoding: 'buffer', env: { ...process.env, XDG_CACHE_HOME: join(work, 'cache'), XDG_CONFIG_HOME: join(work, 'config') } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
    });
  });
}

t.test('mb, ls, put, get, rm, rb: the round trip', async (t) => {
  let r = await cli('mb', 'cli-demo');
  t.equal(r.code, 0);
  t.match(r.stdout, /created bucket cli-demo/);
  r = await cli('ls');
  t.match(r.stdout, /cli-demo/);
  writeFileSync(join(work, 'notes.txt'), 'first notes\n');
  r = await cli('put', 'cli-demo', 'notes.txt');
  t.equal(r.code, 0);
  t.match(r.stdout, /stored cli-demo\/notes.txt \(12 bytes\): version \S+ on node\d, node\d/);
  r = await cli('put', 'cli-demo', 'notes.txt', '--as', 'dir/renamed.txt');
  t.equal(r.code, 0);
  r = await cli('ls', 'cli-demo');
  t.match(r.stdout, /notes\.txt/);
  t.match(r.stdout, /dir\/renamed\.txt/);
  r = await cli('get', 'cli-demo', 'notes.txt');
  t.equal(r.stdout, 'first notes\n', 'to stdout');
  r = await cli('get', 'cli-demo', 'dir/renamed.txt', '-o', 'out.txt');
  t.equal(r.code, 0);
  t.equal(readFileSync(join(work, 'out.txt'), 'utf8'), 'first notes\n');
  r = await cli('rm', 'cli-demo', 'notes.txt');
  t.equal(r.code, 0);
  t.match(r.stdout, /deleted cli-demo\/notes.txt/);
  r = await cli('get', 'cli-demo', 'notes.txt');
  t.equal(r.code, 1, 'a missing file is an error from the server: exit 1');
  t.match(r.stderr, /does not exist/);
  r = await cli('rb', 'cli-demo');
  t.equal(r.code, 0);
  r = await cli('ls', 'cli-demo');
  t.equal(r.code, 1);
  t.match(r.stderr, /NO_SUCH_BUCKET/);
});

t.test('a large file: put streams it from disk, get streams it to the output, a second get comes from the cache', async (t) => {
  t.equal((await cli('mb', 'cli-big')).code, 0);
  const content = randomBytes(9 * 1024 * 1024 + 3); // three chunks of 4 MiB
  writeFileSync(join(work, 'big.bin'), content);
  let r = await cli('put', 'cli-big', 'big.bin');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`stored cli-big/big.bin \\(${content.length} bytes\\)`));
  r = await cli('get', 'cli-big', 'big.bin', '-o', 'big.out');
  t.equal(r.code, 0, r.stderr);
  t.ok(readFileSync(join(work, 'big.out')).equals(content), 'the same bytes');
  r = await cli('get', 'cli-big', 'big.bin', '-o', 'big.again');
  t.match(r.stdout, /unchanged: from the local cache/);
  t.ok(readFileSync(join(work, 'big.again')).equals(content), 'the same bytes from the cache');
  t.notOk(readdirSync(work).some((f) => f.endsWith('.part')), 'no partial output left');
});

t.test('status shows the nodes and N/R/W', async (t) => {
  const r = await cli('status');
  t.equal(r.code, 0);
  t.match(r.stdout, /N=3 R=2 W=2/);
  for (const n of c.nodes) t.match(r.stdout, new RegExp(`${n.id}\\s+127\\.0\\.0\\.1:${n.port}`));
});

t.test('ls pages through every file: --limit sets the page, --prefix and --delimiter narrow it, --json streams a line per file', async (t) => {
  await cli('mb', 'cli-pages');
  for (let i = 0; i < 7; i++) {
    writeFileSync(join(work, `p${i}.txt`), `page file ${i}`);
    t.equal((await cli('put', 'cli-pages', `p${i}.txt`, '--as', i < 5 ? `a/p${i}.txt` : `b${i}.txt`)).code, 0);
  }
  const all = await cli('ls', 'cli-pages', '--limit', '2');
  t.equal(all.code, 0);
  const names = all.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).at(-1));
  t.same(names, ['a/p0.txt', 'a/p1.txt', 'a/p2.txt', 'a/p3.txt', 'a/p4.txt', 'b5.txt', 'b6.txt'], 'every file once, in order, across pages of 2');
  const json = await cli('ls', 'cli-pages', '--limit', '3', '--prefix', 'a/', '--json');
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; size: number });
  t.same(lines.map((l) => l.name), ['a/p0.txt', 'a/p1.txt', 'a/p2.txt', 'a/p3.txt', 'a/p4.txt'], 'one JSON line per file');
  t.equal(lines[0]?.size, 'page file 0'.length);
  const folded = await cli('ls', 'cli-pages', '--delimiter', '/');
  t.match(folded.stdout, /PRE\s+a\//, 'a common prefix');
  t.match(folded.stdout, /b5\.txt/);
});

t.test('--json prints the server\'s JSON', async (t) => {
  await cli('mb', 'cli-json');
  writeFileSync(join(work, 'j.bin'), Buffer.from([1, 2, 3]));
  const r = await cli('put', 'cli-json', 'j.bin', '--json');
  t.equal(r.code, 0);
  const body = JSON.parse(r.stdout);
  t.equal(body.success, true);
  t.equal(body.pref_list.length, 3);
  t.ok(Array.isArray(body.vector_clock_list));
  const st = JSON.parse((await cli('status', '--json')).stdout);
  t.same([st.n, st.r, st.w], [3, 2, 2]);
  const err = await cli('ls', 'no-such-bucket', '--json');
  t.equal(err.code, 1);
  t.equal(JSON.parse(err.stdout).error.code, 'NO_SUCH_BUCKET');
});

t.test('siblings: get says so and lists them; resolve --keep and --from write the resolution', async (t) => {
  await cli('mb', 'cli-sib');
  writeFileSync(join(work, 'v0'), 'v0');
  await cli('put', 'cli-sib', 'v0', '--as', 'doc');
  const ctx = (await fetch(`${c.url()}/buckets/cli-sib/doc`)).headers.get('x-context') as string;
  writeFileSync(join(work, 'a'), 'from a');
  writeFileSync(join(work, 'b'), 'from b');
  t.equal((await cli('put', 'cli-sib', 'a', '--as', 'doc', '--context', ctx)).code, 0);
  t.equal((await cli('--endpoint', c.url('node3'), 'put', 'cli-sib', 'b', '--as', 'doc', '--context', ctx)).code, 0);
  let r = await cli('get', 'cli-sib', 'doc');
  t.equal(r.code, 1, 'a file with siblings is not one file: exit 1');
  t.match(r.stderr, /2 concurrent versions/);
  t.match(r.stderr, /ringstore resolve cli-sib doc --keep/);
  const versions = [...r.stderr.matchAll(/^(node\d\.\S+)\s/gm)].map((m) => m[1] as string);
  t.equal(versions.length, 2);
  r = await cli('get', 'cli-sib', 'doc', '--version', versions[1] as string);
  t.equal(r.code, 0);
  t.ok(['from a', 'from b'].includes(r.stdout));
  r = await cli('resolve', 'cli-sib', 'doc', '--keep', versions[0] as string);
  t.equal(r.code, 0);
  t.match(r.stdout, /resolved cli-sib\/doc/);
  r = await cli('get', 'cli-sib', 'doc');
  t.equal(r.code, 0);
  // Make siblings again and resolve from a merged local file.
  const ctx2 = (await fetch(`${c.url()}/buckets/cli-sib/doc`)).headers.get('x-context') as string;
  await cli('put', 'cli-sib', 'a', '--as', 'doc', '--context', ctx2);
  await cli('put', 'cli-sib', 'b', '--as', 'doc', '--context', ctx2);
  writeFileSync(join(work, 'merged'), 'from a + from b');
  r = await cli('resolve', 'cli-sib', 'doc', '--from', 'merged');
  t.equal(r.code, 0);
  t.equal((await cli('get', 'cli-sib', 'doc')).stdout, 'from a + from b');
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await cli()).code, 2);
  t.equal((await cli('bogus')).code, 2);
  t.equal((await cli('put', 'only-bucket')).code, 2);
  t.equal((await cli('resolve', 'b', 'f')).code, 2, 'resolve needs --keep or --from');
  t.equal((await cli('put', 'cli-json', 'no/such/local/file')).code, 2);
});

t.test('when the endpoint is down, the CLI tries the next node', async (t) => {
  await c.kill('node1');
  t.teardown(() => c.restart('node1'));
  const r = await cli('--endpoint', c.url('node1'), 'ls');
  t.equal(r.code, 0);
  t.match(r.stderr, /did not answer .* trying http:\/\/127\.0\.0\.1:\d+/);
  t.match(r.stdout, /cli-json/);
  const none = await new Promise<Run>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--endpoint', c.url('node1'), '--config', join(work, 'missing.json'), 'ls'], (err, stdout, stderr) =>
      resolve({ code: (err as { code?: number } | null)?.code ?? 0, stdout, stderr }),
    ),
  );
  t.equal(none.code, 2, 'a config that does not exist is a usage error');
});
