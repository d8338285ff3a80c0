// /cluster and /health: the nodes of the config and each one's status as this
// machine sees it, and what this machine's background workers are doing.
//
// The status is the scheduler's gossip view, which the socket server holds
// (`status_from: "gossip"`): a node is `unknown` until this machine has heard
// from it, `up` while it is heard from, `down` once it refused a connection or
// fell silent past the failure timeout. This machine's own node is `up` exactly
// when its socket server answered the question (before it first has, it is
// `unknown`; after, `down`). Without a current view (no
// scheduler running) each node is pinged instead (`status_from: "ping"`): `up`
// if it answers now, `unknown` if not, since one missed ping is no verdict.
import type { Cluster } from '../../coordinator/cluster.js';
import type { DiskInfo, NodeStatus, PeerEpochs, TransferStatus } from '../../protocol/messages.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

async function answers(cluster: Cluster, id: string): Promise<boolean> {
  return (await pong(cluster, id)) !== null;
}

async function pong(cluster: Cluster, id: string): Promise<{ paxos?: 'ready' | 'recovering' } | null> {
  try {
    return (await cluster.transport.request(cluster.peer(id), { type: 'ping' }, [], { timeoutMs: Math.min(1000, cluster.config.timeouts.requestMs) })).reply;
  } catch {
    return null;
  }
}

export interface ClusterState {
  nodes: Array<{
    id: string;
    host: string;
    port: number;
    restPort: number;
    status: NodeStatus;
    disk?: { state: DiskInfo['state']; free_bytes: number | null };
    /** Replicas of partitions it holds in the newest layout. */
    partitions: number;
    /** member: in this epoch; leaving: removed, its data still moving; joining: started, not yet added. */
    role: 'member' | 'leaving' | 'not a member';
    anti_entropy: { last_round: string | null; repaired: number };
  }>;
  statusFrom: 'gossip' | 'ping';
  workers: unknown[];
  processes: unknown[] | null;
  transfers: TransferStatus | null;
  epochs: Record<string, PeerEpochs>;
}

/** Every member with its status as this machine sees it now. */
export async function clusterState(cluster: Cluster): Promise<ClusterState> {
  const view = await cluster.health.fetch();
  const gossip = view.statuses;
  const statusOf = async (id: string): Promise<NodeStatus> => {
    // Not answering now: down if it has answered this REST app before, else not yet known.
    if (id === cluster.self) return view.socketUp ? 'up' : cluster.health.everUp ? 'down' : 'unknown';
    if (gossip) return gossip[id] ?? 'unknown';
    return (await answers(cluster, id)) ? 'up' : 'unknown';
  };
  const m = cluster.membership;
  const held = new Map<string, number>();
  for (const list of cluster.ring.replicas) for (const id of list) held.set(id, (held.get(id) ?? 0) + 1);
  const listed: Array<{ spec: { id: string; host: string; port: number; restPort: number }; role: ClusterState['nodes'][number]['role'] }> = [
    ...m.members.map((spec) => ({ spec, role: 'member' as const })),
    ...m.record.leaving.map((spec) => ({ spec, role: 'leaving' as const })),
  ];
  // A machine started to join and not yet added still shows itself (its start script waits on that).
  if (!m.knows(cluster.self)) listed.push({ spec: cluster.selfSpec, role: 'not a member' });
  const nodes = await Promise.all(
    listed.map(async ({ spec: n, role }) => {
      const disk = view.disks[n.id];
      const ae = view.epochs?.[n.id]?.ae;
      return {
        id: n.id,
        host: n.host,
        port: n.port,
        restPort: n.restPort,
        status: await statusOf(n.id),
        ...(disk ? { disk: { state: disk.state, free_bytes: disk.free } } : {}),
        partitions: held.get(n.id) ?? 0,
        role,
        // Its last completed anti-entropy round and the keys it repaired then (from its heartbeat).
        anti_entropy: { last_round: ae?.lastRound ?? null, repaired: ae?.repaired ?? 0 },
      };
    }),
  );
  return { nodes, statusFrom: gossip ? 'gossip' : 'ping', workers: view.workers, processes: view.processes, transfers: view.transfers ?? null, epochs: view.epochs ?? {} };
}

/** The membership change as this node sees it: its epoch, whether it has settled, the partitions it takes in. */
export function changeState(cluster: Cluster, state: ClusterState) {
  const m = cluster.membership;
  const { transfers, epochs } = state;
  return {
    epoch: m.epoch,
    // No partition is moving anywhere this node knows of: one live layout, and every node heard from has synced it.
    settled: m.layouts.length === 1 && (transfers?.pending ?? 0) === 0 && m.ids.every((id) => (epochs[id]?.epoch ?? m.epoch) === m.epoch),
    live_layouts: m.layouts.map((l) => l.epoch),
    transfers: transfers ? { pending: transfers.pending, done: transfers.done, bytes: transfers.bytes, keys: transfers.keys, epoch: transfers.epoch } : { pending: 0, done: 0, bytes: 0, keys: 0, epoch: m.epoch },
  };
}

export const clusterRoute: Route = async ({ cluster, res }) => {
  const state = await clusterState(cluster);
  const { nodes, statusFrom, workers, processes } = state;
  sendJson(res, 200, {
    success: true,
    coordinator: cluster.self,
    ...changeState(cluster, state),
    n: cluster.n,
    r: cluster.r,
    w: cluster.w,
    ringSize: cluster.ring.partitions,
    status_from: statusFrom,
    nodes,
    workers,
    // This machine's processes and their restarts, when a supervisor runs them (scripts/start-node.sh).
    ...(processes ? { processes } : {}),
  });
};

/**
 * 200 once this machine's REST app and its socket server both answer: what the start scripts wait for.
 * With ?view, also each member's status as this machine sees it (what /cluster shows), which the start
 * scripts wait on too: /health needs no token even where the config requires one.
 */
export const healthRoute: Route = async ({ cluster, res, query }) => {
  const reply = await pong(cluster, cluster.self);
  const up = reply !== null;
  let view = {};
  if (query.has('view')) {
    const state = await clusterState(cluster);
    view = { status_from: state.statusFrom, nodes: Object.fromEntries(state.nodes.map((n) => [n.id, n.status])) };
  }
  // locks: "recovering" while this node, started on an empty disk, takes in its peers' Paxos state.
  sendJson(res, up ? 200 : 503, { success: up, node: cluster.self, socket: up ? 'up' : 'down', ...(reply?.paxos ? { locks: reply.paxos } : {}), auth: cluster.config.auth.required ? 'required' : 'optional', ...view });
};
