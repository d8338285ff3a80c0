// Randomized fault test on real processes: clients write in a loop while
// machines are killed (kill -9) and restarted, never more than two down at
// once. Then the cluster heals, handoff drains, and every acknowledged write
// must be readable as the value or a sibling. The schedule of kills and
// restarts (which machine, in which order, at which offset) is drawn from the
// seed before the run starts, so RINGSTORE_CHAOS_SEED=<seed> replays it; the
// clients draw from streams of their own, which timing cannot shift.
import t from 'tap';
import { TestCluster, waitFor } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';
import { seedFromEnv, seeded } from '../helpers/random.js';
import { hintsOf, waitAllUp } from '../helpers/views.js';

const SEED = seedFromEnv('RINGSTORE_CHAOS_SEED');
const CHAOS_MS = Number(process.env.RINGSTORE_CHAOS_MS ?? 20_000);
const CLIENTS = 3;
t.comment(`seed ${SEED} (replay with RINGSTORE_CHAOS_SEED=${SEED})`);
const pickWith = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const c = await TestCluster.create(t, { cron: true, extra: { timeouts: { requestMs: 1000, connectMs: 500 }, gossip: { intervalMs: 1000, failureTimeoutMs: 3000 } } });
await c.startAll();
await waitAllUp(c);
t.equal((await call('POST', `${c.url()}/buckets/chaos`)).status, 200);
const ids = c.nodes.map((n) => n.id);

interface Acked {
  key: string;
  value: string;
  client: number;
  seq: number;
}
const acked: Acked[] = [];
const attempted = new Map<string, number>(); // hot key -> highest seq attempted
let failedWrites = 0;

async function write(base: string, key: string, value: string): Promise<boolean> {
  try {
    const res = await fetch(`${base}/buckets/chaos/${encodeURIComponent(key)}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(8000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

let stop = false;
async function client(i: number): Promise<void> {
  const rand = seeded(SEED * 31 + i + 1);
  for (let seq = 1; !stop; seq++) {
    const live = ids.filter((id) => c.isRunning(id));
    const base = c.url(pickWith(rand, live.length ? live : ids));
    // A write-once key, and a key this client overwrites.
    const key = seq % 2 === 0 ? `hot-c${i}` : `c${i}-k${seq}`;
    const value = `c${i}-v${seq}`;
    if (key.startsWith('hot')) attempted.set(key, seq);
    if (await write(base, key, value)) acked.push({ key, value, client: i, seq });
    else failedWrites++;
  }
}

interface Step {
  /** Offset from the start of the chaos, ms. */
  at: number;
  action: 'kill' | 'restart';
  node: string;
}

/** The whole schedule, from the seed alone: a kill or a restart every 1 to 3 s, never more than two machines down. */
function plan(rand: () => number): Step[] {
  const steps: Step[] = [];
  const down = new Set<string>();
  for (let at = 1000 + rand() * 2000; at < CHAOS_MS; at += 1000 + rand() * 2000) {
    if (down.size < 2 && (down.size === 0 || rand() < 0.6)) {
      const node = pickWith(rand, ids.filter((id) => !down.has(id)));
      down.add(node);
      steps.push({ at: Math.round(at), action: 'kill', node });
    } else {
      const node = pickWith(rand, [...down].sort());
      down.delete(node);
      steps.push({ at: Math.round(at), action: 'restart', node });
    }
  }
  return steps;
}

async function chaos(steps: readonly Step[]): Promise<string[]> {
  const events: string[] = [];
  const started = Date.now();
  for (const step of steps) {
    // Each step at its offset; one that a slow restart delayed runs at once.
    const wait = started + step.at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (step.action === 'kill') await c.kill(step.node);
    else await c.restart(step.node);
    events.push(`${step.action} ${step.node} at ${step.at} ms (${Date.now() - started} ms)`);
  }
  return events;
}

t.test('no acknowledged write is lost while machines die and come back', async (t) => {
  const steps = plan(seeded(SEED));
  t.comment(`schedule: ${steps.map((x) => `${x.action} ${x.node} at ${x.at}`).join(', ')}`);
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  const events = await chaos(steps);
  stop = true;
  await Promise.all(clients);
  t.comment(`events: ${events.join(', ')}`);
  // Heal: everyone back, views converged, every hint handed off.
  for (const id of ids) if (!c.isRunning(id)) await c.restart(id);
  await waitAllUp(c, 30_000);
  await waitFor('handoff to drain', () => ids.every((id) => hintsOf(c, id).length === 0), 60_000, 250);

  const readRand = seeded(SEED + 7);
  const readValues = async (key: string): Promise<string[]> => {
    const base = c.url(pickWith(readRand, ids));
    const res = await fetch(`${base}/buckets/chaos/${encodeURIComponent(key)}`);
    if (res.status === 200) return [await res.text()];
    if (res.status !== 300) return [];
    const body = (await res.json()) as { siblings: Array<{ version: string; deleted: boolean }> };
    return Promise.all(
      body.siblings.filter((s) => !s.deleted).map(async (s) => (await fetch(`${base}/buckets/chaos/${encodeURIComponent(key)}?version=${encodeURIComponent(s.version)}`)).text()),
    );
  };

  const lost: string[] = [];
  // Write-once keys: the value itself must be there.
  for (const a of acked.filter((x) => !x.key.startsWith('hot'))) {
    if (!(await readValues(a.key)).includes(a.value)) lost.push(`${a.key}=${a.value}`);
  }
  // Overwritten keys: the last acknowledged value, or one the same client wrote after it.
  for (let i = 0; i < CLIENTS; i++) {
    const key = `hot-c${i}`;
    const last = acked.filter((a) => a.key === key).sort((x, y) => x.seq - y.seq).at(-1);
    if (!last) continue;
    const values = await readValues(key);
    const ok = values.some((v) => Number(v.split('-v')[1]) >= last.seq);
    if (!ok) lost.push(`${key}: last acknowledged ${last.value}, found [${values.join(', ')}]`);
  }
  t.comment(`acknowledged writes: ${acked.length}, failed or unacknowledged: ${failedWrites}, lost: ${lost.length}`);
  t.ok(acked.length > 20, `enough writes were acknowledged (${acked.length})`);
  t.same(lost, [], 'zero lost acknowledged writes');
});
