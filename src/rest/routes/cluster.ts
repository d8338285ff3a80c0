// /cluster and /health: the nodes of the config and each one's status as this
// machine sees it (its scheduler's gossip view; a direct ping when no current
// view exists), and what this machine's background workers are doing.
import { nodeDir } from '../../config.js';
import type { Cluster } from '../../coordinator/cluster.js';
import { WORKERS_JSON, readJsonFile } from '../../cron/files.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

async function isUp(cluster: Cluster, id: string): Promise<boolean> {
  try {
    await cluster.transport.request(cluster.peer(id), { type: 'ping' }, [], { timeoutMs: Math.min(1000, cluster.config.timeouts.requestMs) });
    return true;
  } catch {
    return false;
  }
}

export const clusterRoute: Route = async ({ cluster, res }) => {
  const down = await cluster.health.downSet();
  const gossip = cluster.health.isFresh;
  const nodes = await Promise.all(
    cluster.config.nodes.map(async (n) => ({
      id: n.id,
      host: n.host,
      port: n.port,
      restPort: n.restPort,
      status: (gossip ? !down.has(n.id) : await isUp(cluster, n.id)) ? 'up' : 'down',
    })),
  );
  const workers = await readJsonFile<{ workers: unknown[] }>(nodeDir(cluster.config, cluster.self), WORKERS_JSON);
  sendJson(res, 200, {
    success: true,
    coordinator: cluster.self,
    n: cluster.n,
    r: cluster.r,
    w: cluster.w,
    ringSize: cluster.ring.partitions,
    status_from: gossip ? 'gossip' : 'ping',
    nodes,
    workers: workers?.workers ?? [],
  });
};

/** 200 once this machine's REST app and its socket server both answer: what the start scripts wait for. */
export const healthRoute: Route = async ({ cluster, res }) => {
  const up = await isUp(cluster, cluster.self);
  sendJson(res, up ? 200 : 503, { success: up, node: cluster.self, socket: up ? 'up' : 'down' });
};
