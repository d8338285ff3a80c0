// What the scheduler's workers share: the machine's environment (runtime,
// config, membership), a transport to the socket servers (this machine's and
// its peers'), this machine's gossip view, and the volume the scheduler writes
// its human-readable files to.
import type { ClusterConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import type { NodeEnv } from '../node-env.js';
import type { SchedulerCounters, WorkerStatus } from '../protocol/messages.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Volume } from '../storage/volume.js';
import type { GossipView } from './view.js';

export interface SchedulerContext {
  env: NodeEnv;
  config: ClusterConfig;
  self: string;
  nodeDir: string;
  rt: Runtime;
  vol: Volume;
  transport: Transport;
  view: GossipView;
  log: Logger;
  /** What the scheduler's workers are doing, handed to the socket server with the view. */
  workers: () => WorkerStatus[];
  /** What they have done since the scheduler started (for /metrics). */
  counters: SchedulerCounters;
}

export function peerAddress(ctx: SchedulerContext, id: string): PeerAddress {
  // This machine's own socket server, also before it is a member.
  if (id === ctx.self) return { id, host: ctx.env.self.host, port: ctx.env.self.port };
  const a = ctx.env.membership.address(id);
  if (!a) throw new Error(`unknown node ${id}`);
  return a;
}

/** Peers the view says are up, in random order. */
export function shuffledPeers(ctx: SchedulerContext, upOnly: boolean): string[] {
  const now = ctx.rt.clock.monotonic();
  const peers = ctx.view.nodes.filter((n) => n !== ctx.self && (!upOnly || ctx.view.status(n, now) === 'up'));
  for (let i = peers.length - 1; i > 0; i--) {
    const j = Math.floor(ctx.rt.random.float() * (i + 1));
    [peers[i], peers[j]] = [peers[j] as string, peers[i] as string];
  }
  return peers;
}
