// The README cannot drift: its tour (the ```sh tour blocks) runs here, in
// order, against a cluster started by the scripts; every other command it shows
// must name a script or npm script that exists.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, freePort } from '../helpers/cluster.js';

const run = promisify(execFile);
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```(\S*)(?: (\S+))?\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1] ?? '', tag: m[2] ?? '', text: m[3] ?? '' }));
const tour = blocks.filter((b) => b.lang === 'sh' && b.tag === 'tour');
const shipped = JSON.parse(readFileSync(join(ROOT, 'nodes.json'), 'utf8')) as { nodes: Array<{ id: string; port: number; restPort: number }> };

t.test('the README shows the set-up commands first', async (t) => {
  const first = blocks.find((b) => b.lang === 'sh');
  t.match(first?.text ?? '', /^npm install\nnpm start/);
  t.ok(blocks.some((b) => /^npm test/m.test(b.text)));
});

t.test('every command outside the tour names something that exists', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const b of blocks.filter((x) => x.lang === 'sh' && x.tag !== 'tour')) {
    for (const line of b.text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)) {
      const [cmd, sub] = line.split(/\s+/);
      if (cmd === 'npm') t.ok(sub === 'install' || sub === 'ci' || (sub && (pkg.scripts[sub] || pkg.scripts[line.split(/\s+/)[2] ?? ''])), line);
      else if (cmd?.startsWith('scripts/')) t.ok(existsSync(join(ROOT, cmd)), line);
      else t.fail(`unknown command in README: ${line}`);
    }
  }
  for (const m of readme.matchAll(/`(scripts\/[\w.-]+)/g)) t.ok(existsSync(join(ROOT, m[1] as string)), `${m[1]} exists`);
  for (const m of readme.matchAll(/`(docs\/[\w./-]+)`/g)) t.ok(existsSync(join(ROOT, m[1] as string)), `${m[1]} exists`);
});

t.test('the tour runs as written', async (t) => {
  t.ok(tour.length >= 4, `${tour.length} tour blocks`);
  // A cluster like the shipped one, on free ports; the tour's addresses are rewritten to them.
  const dir = mkdtempSync(join(tmpdir(), 'ringstore-readme-'));
  const nodes = [];
  const portMap = new Map<number, number>();
  for (const n of shipped.nodes) {
    const port = await freePort();
    const restPort = await freePort();
    portMap.set(n.restPort, restPort);
    nodes.push({ id: n.id, host: '127.0.0.1', port, restPort });
  }
  const config = join(dir, 'nodes.json');
  writeFileSync(config, JSON.stringify({ replication: { n: 3, r: 2, w: 2 }, dataDir: 'data', nodes }));
  symlinkSync(join(ROOT, 'scripts'), join(dir, 'scripts'));
  // The CLI's login and copies of files live in the test's folder, not the home of whoever runs the suite.
  const env = { ...process.env, RINGSTORE_CONFIG: config, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') };
  t.teardown(async () => {
    await run(join(ROOT, 'scripts', 'stop-cluster.sh'), ['--config', config]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await run(join(ROOT, 'scripts', 'start-cluster.sh'), [], { env });

  const prelude = `set -euo pipefail\nnpx() { if [ "$1" = ringstore ]; then shift; node ${JSON.stringify(join(ROOT, 'dist', 'cli', 'main.js'))} "$@"; else command npx "$@"; fi; }\n`;
  const outputs: string[] = [];
  for (const [i, b] of tour.entries()) {
    const script = b.text.replace(/127\.0\.0\.1:(\d+)/g, (all, p: string) => (portMap.has(Number(p)) ? `127.0.0.1:${portMap.get(Number(p))}` : all));
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn('bash', ['-c', prelude + script], { cwd: dir, env });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', (code) => resolve({ code, out }));
    });
    t.equal(result.code, 0, `tour block ${i + 1} exits 0`);
    if (result.code !== 0) t.comment(result.out);
    outputs.push(result.out);
  }
  const all = outputs.join('\n');
  t.match(all, /hello, ringstore/, 'the upload reads back');
  t.match(all, /anonymous: 403/, "alice's private bucket refuses an anonymous read");
  t.match(all, /bob writing: 403/, 'bob, shared read only, may not write');
  t.match(all, /logged out alice/, 'the CLI logs out');
  t.match(all, /2 concurrent versions/, 'the siblings are listed');
  t.match(all, /Alice's and Bob's edits, merged/, 'the resolution reads back');
  t.match(all, /"down_system_data": \[\s*"node3"\s*\]/, 'the write during the outage names node3');
  t.match(all, /written while node3 is down/, 'and reads back after node3 returns');
  t.match(all, /"code": ?"LOCKED"/, 'a write of a locked file without its token is refused');
  t.match(all, /"released": ?true/, 'the lock is released');
  t.match(all, /"txn": ?"[0-9a-f-]{36}"/, 'a transaction commits');
  t.match(all, /"content_base64": ?"MTUw"/, 'and its files read back atomically');
});
