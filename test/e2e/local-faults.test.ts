// A full disk and a crashed process, as an operator meets them (issue 19): a
// four-node cluster started by the scripts, node2's folder on a 40 MiB tmpfs
// (made and removed here; needs root, as CI has), then 400 writes of 256 KiB
// through all four REST ports. node2 fills up: its writes are refused with
// INSUFFICIENT_STORAGE and go elsewhere (sloppy quorum), every acknowledged
// write reads back, no process of node2 dies (its log files are on the full
// disk too), its /health answers, and /cluster says its disk is full. Space is
// freed: node2 takes writes again within a few gossip ticks. With two other
// machines stopped as well, W is out of reach: 507 with each node's reason.
// Each of node2's processes killed with kill -9 is started again by the
// supervisor, which /cluster shows; a log file that cannot be opened costs
// dropped (and counted) lines, not the node.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { objectKey } from '../../src/ring/hash.js';
import { Ring } from '../../src/ring/ring.js';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';
import { call, put } from '../helpers/http.js';

const run = promisify(execFile);
const script = (name: string): string => join(ROOT, 'scripts', name);
const c = await TestCluster.create(t, { extra: { gossip: { intervalMs: 1000, failureTimeoutMs: 5000 } } });
const small = c.dataDir('node2');
mkdirSync(small, { recursive: true });
await run('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'ringstore-test', small]).catch((err: Error) => {
  throw new Error(`this test mounts a 40 MiB tmpfs for node2's data and needs root: ${err.message}`);
});
t.teardown(async () => {
  await run(script('stop-cluster.sh'), ['--config', c.configFile]).catch(() => undefined);
  await run('umount', ['-l', small]).catch(() => undefined);
});
// Room to give back later: 6 MiB that the test owns on node2's disk.
const filler = join(small, 'filler.bin');
writeFileSync(filler, Buffer.alloc(6 * 1024 * 1024, 7));
await run(script('start-cluster.sh'), ['--config', c.configFile]);
const pidOf = (id: string, role: string): number => Number(readFileSync(join(c.dataDir(id), `${role}.pid`), 'utf8'));
// (read at the start, while node2's disk has room for them)
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** ringstore_log_lines_dropped_total of a machine, by process. */
async function droppedLines(id: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${c.url(id)}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ringstore_log_lines_dropped_total\{process="(\w+)"\} (\d+)/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}
const node2Pids = Object.fromEntries(['node', 'rest', 'cron'].map((r) => [r, pidOf('node2', r)]));
t.equal((await call('POST', `${c.url('node1')}/buckets/fill`)).status, 200);
const ring = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256);
const onNode2 = (file: string): boolean => ring.preferenceList(objectKey('fill', file), 3).includes('node2');

t.test('node2 fills up under a write load: refused there, carried elsewhere, nothing lost, nothing dies', async (t) => {
  const body = (i: number): Buffer => Buffer.alloc(256 * 1024, i % 251);
  const acked: number[] = [];
  const statuses = new Map<number, number>();
  const connectionFailures: string[] = [];
  let refusedByNode2 = 0;
  for (let i = 0; i < 400; i += 8) {
    await Promise.all(
      Array.from({ length: 8 }, async (_, j) => {
        const k = i + j;
        const via = c.nodes[k % 4]?.id as string;
        try {
          const r = await put(c.url(via), 'fill', `f${k}`, body(k));
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200) acked.push(k);
          const failures = [...(r.json.replicas_failed ?? []), ...(r.json.error?.failed ?? [])] as Array<{ node: string; code: string }>;
          if (failures.some((f) => f.node === 'node2' && f.code === 'INSUFFICIENT_STORAGE')) refusedByNode2++;
        } catch (err) {
          connectionFailures.push(`f${k} via ${via}: ${(err as Error).message}`);
        }
      }),
    );
  }
  t.comment(`answers: ${JSON.stringify(Object.fromEntries(statuses))}; ${refusedByNode2} writes refused by node2 with INSUFFICIENT_STORAGE`);
  t.same(connectionFailures, [], 'every request got an answer, node2\'s REST port included');
  t.ok(refusedByNode2 > 0, 'node2 refused writes for want of space');
  t.ok(acked.length > 300, `the cluster kept taking writes (${acked.length} of 400)`);
  t.ok([...statuses.keys()].every((s) => s === 200 || s === 507 || s === 503), 'answers are 200, or 507/503 with the reasons');

  for (const [role, pid] of Object.entries(node2Pids)) t.ok(alive(pid), `node2's ${role} process (pid ${pid}) is still running`);
  t.equal((await call('GET', `${c.url('node2')}/health`)).status, 200, 'node2 answers /health');
  const bad: string[] = [];
  for (const k of acked) {
    const r = await fetch(`${c.url(c.nodes[(k + 1) % 4]?.id)}/buckets/fill/f${k}`);
    const got = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200 || !got.equals(body(k))) bad.push(`f${k}: ${r.status}, ${got.length} bytes`);
  }
  t.same(bad, [], `all ${acked.length} acknowledged writes read back intact`);

  const seen = await waitFor('node1 to show node2\'s disk full', async () => {
    const r = await call('GET', `${c.url('node1')}/cluster`);
    const n2 = r.json.nodes.find((n: { id: string }) => n.id === 'node2');
    return n2?.disk?.state === 'full' ? n2 : null;
  }, 15_000, 250);
  t.equal(seen.status, 'up', 'still up: it serves reads');
  t.type(seen.disk.free_bytes, 'number', `and its free space is shown (${seen.disk.free_bytes} bytes)`);
  const cli = await run(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'status', '--endpoint', c.url('node3')]);
  t.match(cli.stdout, /node2 .*full/, 'ringstore status shows it');
  const byProcess = await droppedLines('node2');
  const dropped = Object.values(byProcess).reduce((a, b) => a + b, 0);
  t.ok(dropped > 0, `log lines that could not be written were dropped and counted (${dropped}), not fatal`);
  // What each of node2's processes did with its disk full, for the record.
  const view = (await call('GET', `${c.url('node2')}/cluster`)).json;
  const workers = (view.workers as Array<{ name: string; lastResult?: string; lastError?: string }>).map((w) => `${w.name}: ${w.lastError ? `error ${w.lastError}` : (w.lastResult ?? '-')}`);
  t.comment(`node2 full: node, rest and cron all running; log lines dropped ${JSON.stringify(byProcess)}; free ${seen.disk.free_bytes} bytes; scheduler's workers: ${workers.join('; ')}`);

  // With W out of reach because of it, the client gets 507 and each node's reason: two other machines stopped.
  for (const id of ['node3', 'node4']) await run(script('stop-node.sh'), [id, '--config', c.configFile]);
  const big = Buffer.alloc((seen.disk.free_bytes as number) + 2 * 1024 * 1024, 9);
  const w = await put(c.url('node1'), 'fill', 'beyond-w', big);
  t.equal(w.status, 507, `W out of reach with node2 full and node3, node4 stopped: ${w.status}`);
  t.equal(w.json.error?.code, 'INSUFFICIENT_STORAGE');
  const reasons = Object.fromEntries((w.json.error?.failed ?? []).map((f: { node: string; code: string }) => [f.node, f.code]));
  t.equal(reasons.node2, 'INSUFFICIENT_STORAGE', `with each node's reason: ${JSON.stringify(reasons)}`);
  // The answer comes as soon as W is out of reach: a stopped node not asked by then is not listed.
  t.ok(reasons.node3 === 'PEER_UNAVAILABLE' || reasons.node4 === 'PEER_UNAVAILABLE', 'a stopped one is named too');
  for (const id of ['node3', 'node4']) await run(script('start-node.sh'), [id, '--config', c.configFile]);
});

t.test('once space is freed, node2 takes writes again within a few gossip ticks', async (t) => {
  // The operator frees space for good: the filler goes and the disk grows, so
  // that the hints of the writes node2 refused (tens of MiB, handed off as soon
  // as it has room) do not fill it again while the test watches.
  rmSync(filler);
  await run('mount', ['-o', 'remount,size=200m', small]);
  const freed = Date.now();
  let i = 0;
  const r = await waitFor('a write stored on node2', async () => {
    let file = `after-${i++}`;
    while (!onNode2(file)) file = `after-${i++}`;
    const w = await put(c.url('node1'), 'fill', file, Buffer.alloc(1024, 1));
    return w.status === 200 && w.json.replicas_written.includes('node2') ? w : null;
  }, 20_000, 500);
  const stored = Date.now() - freed;
  t.equal(r.status, 200);
  await waitFor('node1 to show node2\'s disk ok', async () => {
    const v = await call('GET', `${c.url('node1')}/cluster`);
    return v.json.nodes.find((n: { id: string }) => n.id === 'node2')?.disk?.state === 'ok';
  }, 15_000, 250);
  t.comment(`node2 stored a write ${stored} ms after space was freed; node1's /cluster showed its disk ok after ${Date.now() - freed} ms`);
});

t.test('a process killed with kill -9 is started again by the supervisor', async (t) => {
  const processes = async (): Promise<Array<{ role: string; pid: number | null; restarts: number; lastExit: { signal: string | null } | null }> | null> =>
    (await call('GET', `${c.url('node2')}/cluster`).catch(() => null))?.json?.processes ?? null;
  const first = await waitFor('node2\'s supervisor to report its processes', processes, 15_000, 250);
  // The pid files may not be written while node2's disk is full (handoff fills it again): the report is what counts.
  for (const role of ['rest', 'node', 'cron']) {
    const before = first.find((p) => p.role === role)?.pid as number;
    const killed = Date.now();
    process.kill(before, 'SIGKILL');
    const after = await waitFor(`node2's ${role} process to come back`, async () => {
      const p = (await processes())?.find((x) => x.role === role);
      return p && p.pid !== null && p.pid !== before && alive(p.pid) ? p : null;
    }, 20_000, 200);
    t.ok(after, `${role}: pid ${before} killed, ${after.pid} running ${Date.now() - killed} ms later (seen in /cluster)`);
    t.equal(after.restarts, 1);
    t.equal(after.lastExit?.signal, 'SIGKILL', 'with how it exited');
  }
  await waitFor('node2 to answer /health again', async () => (await call('GET', `${c.url('node2')}/health`).catch(() => null))?.status === 200, 15_000, 200);
  const log = readFileSync(join(c.dataDir('node2'), 'supervisor.log'), 'utf8');
  t.match(log, /process exited: restarting it/, 'each restart is in the supervisor\'s log');
});

t.test('a log destination that cannot be written: lines dropped and counted, the node works', async (t) => {
  // An unwritable folder, as root sees one: the log file's name is taken by a folder.
  await run(script('stop-node.sh'), ['node4', '--config', c.configFile]);
  const logFile = join(c.dataDir('node4'), 'rest.log');
  rmSync(logFile, { force: true });
  mkdirSync(logFile);
  await run(script('start-node.sh'), ['node4', '--config', c.configFile]);
  const w = await put(c.url('node4'), 'fill', 'logless', Buffer.from('still works'));
  t.equal(w.status, 200, 'node4 takes writes');
  t.equal((await call('GET', `${c.url('node4')}/buckets/fill/logless`)).json, 'still works', 'and reads');
  const dropped = await waitFor('the REST app\'s dropped lines in /metrics', async () => ((await droppedLines('node4')).rest ?? 0) > 0 ? droppedLines('node4') : null, 10_000, 250);
  t.ok((dropped.rest ?? 0) > 0, `its REST app dropped and counted ${dropped.rest} log lines`);
  await run(script('stop-node.sh'), ['node4', '--config', c.configFile]);
  rmSync(logFile, { recursive: true });
  await run(script('start-node.sh'), ['node4', '--config', c.configFile]);
  t.equal((await call('GET', `${c.url('node4')}/health`)).status, 200, 'a writable log again after a restart');
});
