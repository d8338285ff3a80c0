// A storage node: the socket server that holds replicas. It owns the node's
// data dir and is the only process that writes into it.
import type { ClusterConfig, NodeSpec } from '../config.js';
import { clusterSecret, nodeDir } from '../config.js';
import type { Logger } from '../log.js';
import { listen, tcpOptions } from '../net/tcp.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { Identity } from '../storage/identity.js';
import { Store } from '../storage/store.js';
import { BucketRegistry } from './buckets.js';
import type { NodeContext } from './context.js';
import { dispatcher } from './dispatch.js';
import { GossipRelay } from './gossip-relay.js';
import { HintStores } from './hints.js';

export interface RunningNode {
  ctx: NodeContext;
  port: number;
  stop(): Promise<void>;
}

export async function startNode(config: ClusterConfig, node: NodeSpec, log: Logger): Promise<RunningNode> {
  const identity = await Identity.open(nodeDir(config, node.id), node.id);
  const store = new Store(nodeDir(config, node.id), identity, log, config.siblings.warn);
  const swept = await store.sweep();
  const buckets = new BucketRegistry();
  for (const { key, state } of await store.list(BUCKETS_NS)) buckets.apply(key, state);
  const hints = new HintStores(nodeDir(config, node.id), identity, log, config.siblings.warn);
  const hinted = await hints.load();
  const ctx: NodeContext = { config, identity, store, buckets, hints, gossip: new GossipRelay(node.id), log };
  const listener = await listen({ ...tcpOptions(config, node.id, clusterSecret(config), log), host: node.host, port: node.port }, dispatcher(ctx));
  log.info('node listening', { host: node.host, port: listener.port, actor: identity.actor, swept, hinted, buckets: buckets.entries().length });
  return { ctx, port: listener.port, stop: () => listener.close() };
}
