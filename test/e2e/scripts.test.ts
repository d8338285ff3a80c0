// The operator's scripts, run as a person runs them: start and stop one node,
// the whole cluster, and the foreground cluster of `npm start` with Ctrl-C.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';

const run = promisify(execFile);
const c = await TestCluster.create(t);
const script = (name: string): string => join(ROOT, 'scripts', name);
/** Running, and not a zombie: this sandbox's init does not reap orphans. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};
const pidOf = (id: string, role: string): number => Number(readFileSync(join(c.dataDir(id), `${role}.pid`), 'utf8'));

t.teardown(async () => {
  // Whatever a failed assertion left running: stop it by its pid files.
  await run(script('stop-cluster.sh'), ['--config', c.configFile]).catch(() => undefined);
});

t.test('start-node.sh starts a node in the background and returns once it answers', async (t) => {
  const { stdout } = await run(script('start-node.sh'), ['node1', '--config', c.configFile]);
  t.match(stdout, /node1: up/);
  for (const role of ['node', 'rest', 'cron']) {
    t.ok(existsSync(join(c.dataDir('node1'), `${role}.pid`)), `${role}.pid`);
    t.ok(existsSync(join(c.dataDir('node1'), `${role}.log`)), `${role}.log`);
    t.ok(alive(pidOf('node1', role)), `${role} is running`);
  }
  t.equal((await call('GET', `${c.url('node1')}/health`)).status, 200);
  const again = await run(script('start-node.sh'), ['node1', '--config', c.configFile]);
  t.match(again.stdout, /already running/, 'starting it twice does not start a second copy');
});

t.test('stop-node.sh stops exactly that node', async (t) => {
  const pids = ['node', 'rest', 'cron'].map((r) => pidOf('node1', r));
  const { stdout } = await run(script('stop-node.sh'), ['node1', '--config', c.configFile]);
  t.match(stdout, /node1: stopped/);
  for (const pid of pids) t.notOk(alive(pid), `pid ${pid} ended`);
  t.notOk(existsSync(join(c.dataDir('node1'), 'node.pid')));
});

t.test('start-cluster.sh and stop-cluster.sh do every node of the config', async (t) => {
  const { stdout } = await run(script('start-cluster.sh'), ['--config', c.configFile]);
  const ready = stdout.trim().split('\n').at(-1) ?? '';
  const ports = c.nodes.map((n) => n.restPort);
  const rest = ports.every((p, i) => p === (ports[0] as number) + i) ? `http://127.0.0.1:${ports[0]} ... ${ports[3]}` : ports.map((p) => `http://127.0.0.1:${p}`).join(', ');
  t.equal(ready, `cluster ready: 4 of 4 nodes up (N=3 R=2 W=2), REST on ${rest}`, 'the last line says the cluster is ready');
  const created = await call('POST', `${c.url('node3')}/buckets/after-ready`);
  t.equal(created.status, 200, 'a write sent right after the ready line succeeds');
  const written = await call('PUT', `${c.url('node4')}/buckets/after-ready/first.txt`, 'first');
  t.equal(written.status, 200);
  const r = await call('GET', `${c.url('node2')}/cluster`);
  t.same(r.json.nodes.map((n: { status: string }) => n.status), ['up', 'up', 'up', 'up']);
  const pids = c.nodes.flatMap((n) => ['node', 'rest', 'cron'].map((role) => pidOf(n.id, role)));
  await run(script('stop-cluster.sh'), ['--config', c.configFile]);
  for (const pid of pids) t.notOk(alive(pid));
});

t.test('usage errors exit 2', async (t) => {
  await t.rejects(run(script('start-node.sh'), []), { code: 2 });
  await t.rejects(run(script('stop-node.sh'), ['a', 'b']), { code: 2 });
});

t.test('run-cluster.sh (npm start) runs in the foreground and Ctrl-C stops the cluster', async (t) => {
  const p = spawn(script('run-cluster.sh'), ['--config', c.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('cluster running', () => out.includes('Press Ctrl-C'), 60_000);
  t.match(out, /^cluster ready: 4 of 4 nodes up \(N=3 R=2 W=2\), REST on http:\/\/127\.0\.0\.1:\d+/m, 'npm start prints the ready line');
  const pids = c.nodes.flatMap((n) => ['node', 'rest', 'cron'].map((role) => pidOf(n.id, role)));
  t.ok(pids.every(alive));
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGINT');
  t.equal(await exited, 0);
  for (const pid of pids) t.notOk(alive(pid), `pid ${pid} stopped`);
});
