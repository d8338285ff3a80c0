// What the scheduler's workers share: the config, this machine's gossip view,
// a transport to the socket servers (this machine's and its peers'), and an
// injected clock and random source so a run can be replayed.
import type { ClusterConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import type { WorkerStatus } from '../protocol/messages.js';
import type { GossipView } from './view.js';

export interface SchedulerContext {
  config: ClusterConfig;
  self: string;
  nodeDir: string;
  transport: Transport;
  view: GossipView;
  log: Logger;
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  /** What the scheduler's workers are doing, handed to the socket server with the view. */
  workers: () => WorkerStatus[];
}

export function peerAddress(ctx: SchedulerContext, id: string): PeerAddress {
  const n = ctx.config.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`unknown node ${id}`);
  return { id: n.id, host: n.host, port: n.port };
}

/** Peers the view says are up, in random order. */
export function shuffledPeers(ctx: SchedulerContext, upOnly: boolean): string[] {
  const now = ctx.now();
  const peers = ctx.view.nodes.filter((n) => n !== ctx.self && (!upOnly || ctx.view.status(n, now) === 'up'));
  for (let i = peers.length - 1; i > 0; i--) {
    const j = Math.floor(ctx.random() * (i + 1));
    [peers[i], peers[j]] = [peers[j] as string, peers[i] as string];
  }
  return peers;
}
