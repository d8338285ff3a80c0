// /cluster and /health: the nodes of the config and whether each answers.
import type { Cluster } from '../../coordinator/cluster.js';
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
  const nodes = await Promise.all(
    cluster.config.nodes.map(async (n) => ({ id: n.id, host: n.host, port: n.port, restPort: n.restPort, status: (await isUp(cluster, n.id)) ? 'up' : 'down' })),
  );
  sendJson(res, 200, { success: true, coordinator: cluster.self, n: cluster.n, r: cluster.r, w: cluster.w, ringSize: cluster.ring.partitions, nodes });
};

/** 200 once this machine's REST app and its socket server both answer: what the start scripts wait for. */
export const healthRoute: Route = async ({ cluster, res }) => {
  const up = await isUp(cluster, cluster.self);
  sendJson(res, up ? 200 : 503, { success: up, node: cluster.self, socket: up ? 'up' : 'down' });
};
