// A machine's scheduler: gossip (failure detection), handoff (hinted replicas
// to their owners), bucket-sync (anti-entropy of bucket records) and status
// (workers.json), each a named worker on its own ticker. The scheduler process
// runs one on node-cron; the simulator runs one per machine on its clock.
import { join } from 'node:path';
import type { Transport } from '../net/transport.js';
import type { NodeEnv } from '../node-env.js';
import type { Ticker } from '../runtime/runtime.js';
import { Volume } from '../storage/volume.js';
import { bucketSyncRound } from './bucket-sync.js';
import { chunkGcRound } from './chunk-gc.js';
import { chunkScrubRound } from './chunk-scrub.js';
import { paxosRecoveryRound } from './paxos-recovery.js';
import { transferRound } from './transfer.js';
import { antiEntropyRound } from './anti-entropy.js';
import type { SchedulerContext } from './context.js';
import { WORKERS_JSON, writeState } from './files.js';
import { gossipRound } from './gossip.js';
import { gossipNodes } from './membership.js';
import { handoffRound } from './handoff.js';
import { GossipView } from './view.js';
import { Worker } from './worker.js';

export interface Scheduler {
  ctx: SchedulerContext;
  workers: Worker[];
  stop(): Promise<void>;
}

export async function startScheduler(env: NodeEnv, transport: Transport, ticker: Ticker): Promise<Scheduler> {
  const { rt, config, log, dir } = env;
  const vol = new Volume(rt.disk, rt.random);
  await vol.mkdirDurable(dir);
  const workers: Worker[] = [];
  const ctx: SchedulerContext = {
    env,
    config,
    self: env.self.id,
    nodeDir: dir,
    rt,
    vol,
    transport,
    view: new GossipView([...new Set([...env.membership.everyone, env.self.id])], config.gossip.failureTimeoutMs, rt.clock.monotonic()),
    log,
    workers: () => workers.map((w) => w.status()),
    counters: { gossipRounds: 0, hintsDelivered: 0, logDropped: 0 },
  };
  // The view follows the membership, however this process came to take a newer one.
  env.membership.onChange(() => ctx.view.setNodes(gossipNodes(ctx), rt.clock.monotonic()));
  const every = config.gossip.intervalMs;
  const worker = (name: string, timeoutMs: number, run: (signal: AbortSignal) => Promise<string | void>): Worker => new Worker(name, every, timeoutMs, run, log, rt, ticker);
  workers.push(
    worker('gossip', Math.max(every * 3, config.timeouts.requestMs * 2), () => gossipRound(ctx)),
    worker('handoff', 10 * 60_000, (signal) => handoffRound(ctx, signal)),
    worker('bucket-sync', 60_000, () => bucketSyncRound(ctx)),
    worker('paxos-recovery', 60_000, () => paxosRecoveryRound(ctx)),
    worker('transfer', 10 * 60_000, (signal) => transferRound(ctx, signal)),
  );
  // Anti-entropy on its own, slower ticker; its first round comes after one interval, not at start-up.
  const antiEntropy = new Worker('anti-entropy', config.antiEntropy.intervalMs, 30 * 60_000, (signal) => antiEntropyRound(ctx, signal), log, rt, ticker);
  antiEntropy.start();
  workers.push(antiEntropy);
  // The chunk scrub likewise (its first round after one interval).
  const scrub = new Worker('chunk-scrub', config.chunkScrub.intervalMs, 30 * 60_000, (signal) => chunkScrubRound(ctx, signal), log, rt, ticker);
  scrub.start();
  workers.push(scrub);
  const gc = new Worker('chunk-gc', config.chunkGc.intervalMs, 30 * 60_000, (signal) => chunkGcRound(ctx, signal), log, rt, ticker);
  gc.start();
  workers.push(gc);
  const report = worker('status', 10_000, async () => (await writeState(ctx, WORKERS_JSON, { node: env.self.id, at: new Date(rt.clock.now()).toISOString(), workers: ctx.workers() })) ?? undefined);
  for (const w of [...workers, report]) {
    w.start();
    if (w !== antiEntropy && w !== scrub && w !== gc) void w.runOnce();
  }
  log.info('scheduler started', { intervalMs: every, failureTimeoutMs: config.gossip.failureTimeoutMs, files: join(dir, '{gossip.txt,down_system.json,hinted.json}') });
  return {
    ctx,
    workers,
    stop: async () => {
      await Promise.all([...workers, report].map((w) => w.stop()));
    },
  };
}
