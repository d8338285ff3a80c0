// The deterministic simulator as CI runs it: a thousand seeds of the real code
// under seeded faults, every one checked (RINGSTORE_SIM_SEEDS sets the count,
// RINGSTORE_SIM_FROM the first seed; `npm run sim -- --seeds 100000` is the
// long campaign). And a run is a function of its seed: the same seed gives the
// same trace, byte for byte, in a batch, alone, or twice in one process.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runSeed } from '../../src/sim/run.js';
import { ROOT } from '../helpers/cluster.js';

const run = promisify(execFile);
const SIM = join(ROOT, 'dist', 'sim', 'main.js');
const seeds = Number(process.env.RINGSTORE_SIM_SEEDS ?? 1000);
const from = Number(process.env.RINGSTORE_SIM_FROM ?? 1);
t.setTimeout(15 * 60_000);

interface Summary {
  seeds: number;
  failed: number;
  events: number;
  simulatedSeconds: number;
  wallSeconds: number;
  traceHash: string;
}

const summary = (stdout: string): Summary => JSON.parse(stdout.trim().split('\n').at(-1) as string) as Summary;

t.test(`${seeds} seeds pass the checker`, async (t) => {
  const r = await run(process.execPath, [SIM, '--seeds', String(seeds), '--from', String(from), '--jobs', '2'], { maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; code?: number }) => {
    t.comment(err.stdout ?? '');
    return { stdout: err.stdout ?? '', code: err.code };
  });
  const s = summary(r.stdout);
  t.comment(
    `${s.seeds} seeds, ${s.events} events, ${s.simulatedSeconds} simulated s in ${s.wallSeconds} wall s: ` +
      `${(s.seeds / s.wallSeconds).toFixed(1)} seeds/s, ${(s.simulatedSeconds / s.wallSeconds).toFixed(0)} simulated s per wall s`,
  );
  t.equal(s.seeds, seeds);
  t.equal(s.failed, 0, 'no seed failed (each failure above prints the command that replays it)');
  t.match(s.traceHash, /^[0-9a-f]{64}$/);
});

t.test('a seed replays exactly: alone, in a batch, and twice in one process', async (t) => {
  const seed = String(from + 7);
  const a = await runSeed(seed);
  const b = await runSeed(seed);
  t.equal(a.traceHash, b.traceHash, 'the same trace twice in one process');
  t.equal(a.events, b.events);
  t.ok(a.events > 1000, `${a.events} events`);
  const alone = summary((await run(process.execPath, [SIM, '--seed', seed])).stdout);
  t.equal(alone.events, a.events, 'and in a process of its own');
  const other = await runSeed(String(from + 8));
  t.not(other.traceHash, a.traceHash, 'another seed is another run');
});
