// Entry point of a machine's scheduler: ringstore-cron --id node1 [--config nodes.json]
// node-cron drives three workers: gossip (failure detection), handoff (hinted
// replicas to their owners) and bucket-sync (anti-entropy of bucket records).
import { join } from 'node:path';
import { clusterSecret, nodeDir } from '../config.js';
import { parseEntry, runProcess } from '../entry.js';
import { TcpTransport, tcpOptions } from '../net/tcp.js';
import { bucketSyncRound } from './bucket-sync.js';
import type { SchedulerContext } from './context.js';
import { WORKERS_JSON, writeState } from './files.js';
import { gossipRound } from './gossip.js';
import { handoffRound } from './handoff.js';
import { GossipView } from './view.js';
import { Worker } from './worker.js';
import { mkdir } from 'node:fs/promises';

runProcess('cron', async () => {
  const { config, node, log } = await parseEntry('cron', 'Runs gossip failure detection, hinted handoff and bucket anti-entropy on a schedule.');
  const dir = nodeDir(config, node.id);
  await mkdir(dir, { recursive: true });
  const transport = new TcpTransport(tcpOptions(config, node.id, clusterSecret(config), log));
  const ctx: SchedulerContext = {
    config,
    self: node.id,
    nodeDir: dir,
    transport,
    view: new GossipView(config.nodes.map((n) => n.id), config.gossip.failureTimeoutMs, Date.now()),
    log,
    now: () => Date.now(),
    random: Math.random,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    workers: () => workers.map((w) => w.status()),
  };
  const every = config.gossip.intervalMs;
  const workers: Worker[] = [
    new Worker('gossip', every, Math.max(every * 3, config.timeouts.requestMs * 2), () => gossipRound(ctx), log),
    new Worker('handoff', every, 10 * 60_000, (signal) => handoffRound(ctx, signal), log),
    new Worker('bucket-sync', every, 60_000, () => bucketSyncRound(ctx), log),
  ];
  const report = new Worker('status', every, 10_000, async () => {
    await writeState(dir, WORKERS_JSON, { node: node.id, at: new Date().toISOString(), workers: workers.map((w) => w.status()) });
  }, log);
  for (const w of [...workers, report]) {
    w.start();
    void w.runOnce();
  }
  log.info('scheduler started', { intervalMs: every, failureTimeoutMs: config.gossip.failureTimeoutMs, files: join(dir, '{gossip.txt,down_system.json,hinted.json}') });
  return {
    log,
    stop: async () => {
      await Promise.all([...workers, report].map((w) => w.stop()));
      await transport.close();
    },
  };
});
