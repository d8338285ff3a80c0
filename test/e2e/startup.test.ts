// Start-up tells the truth (issue 10): a cluster started one socket server at a
// time while GET /cluster is polled every 100 ms from its first answer. Every
// node it calls up must accept an authenticated connection right then (checked
// by a ping after each answer: a node that refuses it was not serving when the
// answer was given); nodes not yet heard from are `unknown`, never `up` and
// never in down_system.json; a bucket created right after the first all-up
// answer is created; and a socket server killed later is shown not up within a
// gossip tick or so, not after the failure timeout.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitFor, type Role } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';
import { peerClient } from '../helpers/peer.js';

const c = await TestCluster.create(t, { cron: true });
const ids = c.nodes.map((n) => n.id);
const tr = peerClient(t, 'node1');
const serving = async (id: string): Promise<boolean> => {
  const n = c.node(id);
  try {
    await tr.request({ id, host: n.host, port: n.port }, { type: 'ping' }, [], { timeoutMs: 3000 });
    return true;
  } catch {
    return false;
  }
};

// Every REST app and scheduler first, and node1's socket server; the other socket servers come one by one, below.
for (const id of ids) for (const role of ['rest', 'cron'] as Role[]) c.spawnRole(id, role);
c.spawnRole('node1', 'node');
const started = Date.now();
const first = await waitFor('node1 /cluster to answer', async () => (await call('GET', `${c.url('node1')}/cluster`)).status === 200, 30_000, 20);
t.ok(first);

interface Poll {
  at: number;
  from: string;
  statuses: Record<string, string>;
}
const trace: Poll[] = [];
const lies: string[] = [];
const downListed: string[] = [];
const poll = async (): Promise<Poll> => {
  const r = await call('GET', `${c.url('node1')}/cluster`);
  const p: Poll = { at: Date.now() - started, from: r.json.status_from, statuses: Object.fromEntries(r.json.nodes.map((n: { id: string; status: string }) => [n.id, n.status])) };
  trace.push(p);
  for (const [id, s] of Object.entries(p.statuses)) if (s === 'up' && !(await serving(id))) lies.push(`${(p.at / 1000).toFixed(2)} s: ${id} shown up, but its socket port refused a ping`);
  return p;
};
/** node1's down_system.json; none until its scheduler's first round. */
const downSystem = (id: string): string[] => {
  try {
    return JSON.parse(readFileSync(join(c.dataDir(id), 'down_system.json'), 'utf8')) as string[];
  } catch {
    return [];
  }
};
const line = (p: Poll): string => `${(p.at / 1000).toFixed(2).padStart(6)} status_from=${p.from.padEnd(7)} ${ids.map((id) => `${id}:${p.statuses[id]}`).join(' ')}`;

t.test('polled every 100 ms from its first answer while the socket servers start one by one', async (t) => {
  const pending = ids.slice(1);
  let allUp: Poll | null = null;
  const deadline = Date.now() + 60_000;
  for (let i = 0; !allUp && Date.now() < deadline; i++) {
    const p = await poll();
    // A socket server every eight polls: long enough for the views to settle between starts.
    if (i % 8 === 7 && pending.length > 0) c.spawnRole(pending.shift() as string, 'node');
    for (const id of pending) {
      t.not(p.statuses[id], 'up', `${id} has no socket server yet and is not shown up`);
      const down = downSystem('node1');
      if (down.includes(id) && p.at < 5000) downListed.push(`${(p.at / 1000).toFixed(2)} s: ${id}`);
    }
    if (pending.length === 0 && ids.every((id) => p.statuses[id] === 'up')) allUp = p;
    else await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(allUp, 'every node came up in node1\'s view');
  const create = await call('POST', `${c.url('node1')}/buckets/newcomer`);
  t.equal(create.status, 200, `a create right after the first all-up answer succeeds: ${JSON.stringify(create.json).slice(0, 300)}`);
  t.equal(create.json.created, true);
  t.same(lies, [], 'every node shown up was serving');
  t.same(downListed, [], 'a node not yet heard from is not listed in down_system.json before its failure timeout');
  t.ok(trace.some((p) => Object.values(p.statuses).includes('unknown')), 'nodes not yet heard from were shown unknown');
  // The trace for the closing note: one line per change of what node1 showed.
  const changes = trace.filter((p, i) => i === 0 || line(p).slice(7) !== line(trace[i - 1] as Poll).slice(7));
  t.comment(`${trace.length} polls; the answers that changed:\n${changes.map(line).join('\n')}`);
});

t.test('a socket server killed is shown not up within about a gossip tick', async (t) => {
  await waitFor('node3 up everywhere', async () => {
    for (const id of ids) {
      const r = await call('GET', `${c.url(id)}/cluster`);
      if (r.json.nodes.find((n: { id: string }) => n.id === 'node3')?.status !== 'up') return false;
    }
    return true;
  }, 20_000, 100);
  await c.signal('node3', 'SIGKILL', 'node');
  const killed = Date.now();
  const seen = await waitFor('node1 to stop showing node3 up', async () => {
    const p = await poll();
    return p.statuses.node3 !== 'up' ? p : null;
  }, 10_000, 100);
  const ms = Date.now() - killed;
  t.comment(`node3 killed; node1 showed it ${seen.statuses.node3} after ${ms} ms`);
  t.equal(seen.statuses.node3, 'down', 'it is down (its port refuses connections), not merely unknown');
  // One 1 s tick of lag, plus the round and the REST app's fetch; the failure timeout alone would take 5 s.
  t.ok(ms < 3000, `shown down within ${ms} ms`);
});
