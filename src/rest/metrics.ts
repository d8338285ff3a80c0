// What a machine's REST app tells Prometheus (/metrics, prom-client) and its
// dashboard (/ui): its own requests (by route), quorum failures and siblings
// per read, counted here; the socket server's figures (journal fsyncs, hints
// held) and the scheduler's (gossip rounds, hints delivered, who is up), asked
// of the socket server with messages at scrape time.
import client from 'prom-client';
import type { Cluster } from '../coordinator/cluster.js';

const WINDOW_MS = 60_000;

interface Recent {
  at: number;
  route: string;
  method: string;
  ms: number;
}

export interface RouteFigures {
  route: string;
  method: string;
  count: number;
  /** Requests per second over the last minute. */
  rate: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The scheduler's and socket server's figures, as of the last scrape. */
interface Remote {
  hints: Record<string, number>;
  /** Log lines each process of this machine could not write. */
  logDropped: { node: number; cron: number };
  hintsDelivered: number;
  gossipRounds: number;
  journalFsyncs: number;
  nodeUp: Record<string, number>;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'route' | 'method' | 'status'>;
  private readonly duration: client.Histogram<'route'>;
  private readonly quorumFailures: client.Counter<'op'>;
  private readonly siblings: client.Histogram;
  private readonly recent: Recent[] = [];
  private remote: Remote = { hints: {}, logDropped: { node: 0, cron: 0 }, hintsDelivered: 0, gossipRounds: 0, journalFsyncs: 0, nodeUp: {} };
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly cluster: Cluster,
    /** Log lines this REST app could not write. */
    private readonly logDropped: () => number = () => 0,
  ) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.requests = new client.Counter({ name: 'ringstore_requests_total', help: 'Requests served by this REST app', labelNames: ['route', 'method', 'status'], registers });
    this.duration = new client.Histogram({
      name: 'ringstore_request_duration_seconds',
      help: 'Time to answer a request, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.quorumFailures = new client.Counter({ name: 'ringstore_quorum_failures_total', help: 'Requests that could not reach their quorum, by operation', labelNames: ['op'], registers });
    // Zero from the start, so that a scrape (and a rate() over it) sees each series before its first failure.
    for (const op of ['read', 'write', 'list']) this.quorumFailures.inc({ op }, 0);
    this.siblings = new client.Histogram({ name: 'ringstore_siblings_per_read', help: 'Concurrent versions a file read found', buckets: [1, 2, 3, 5, 10, 25, 100], registers });
    // The other processes' figures: fetched once per scrape (collects run together and share one refresh).
    const self = this;
    new client.Gauge({
      name: 'ringstore_hints_pending',
      help: 'Hinted copies this machine holds for a down owner, by owner',
      labelNames: ['owner'],
      registers,
      async collect() {
        await self.refresh();
        this.reset();
        // Every member has a series (0 when nothing waits for it), plus any owner hints are still held for.
        for (const owner of self.cluster.nodeIds) this.set({ owner }, 0);
        for (const [owner, n] of Object.entries(self.remote.hints)) this.set({ owner }, n);
      },
    });
    const counterFrom = (name: string, help: string, value: (r: Remote) => number): void => {
      new client.Counter({
        name,
        help,
        registers,
          async collect() {
          await self.refresh();
          this.reset();
          this.inc(value(self.remote));
        },
      });
    };
    counterFrom('ringstore_hints_delivered_total', 'Hinted copies handed off to their owners by this machine\'s scheduler', (r) => r.hintsDelivered);
    counterFrom('ringstore_gossip_rounds_total', 'Gossip rounds of this machine\'s scheduler', (r) => r.gossipRounds);
    counterFrom('ringstore_journal_fsyncs_total', 'fdatasyncs of this machine\'s write-ahead journal (each covers a group of changes)', (r) => r.journalFsyncs);
    new client.Counter({
      name: 'ringstore_log_lines_dropped_total',
      help: 'Log lines a process of this machine could not write (a full disk under its log), by process',
      labelNames: ['process'],
      registers,
      async collect() {
        await self.refresh();
        this.reset();
        this.inc({ process: 'rest' }, self.logDropped());
        this.inc({ process: 'node' }, self.remote.logDropped.node);
        this.inc({ process: 'cron' }, self.remote.logDropped.cron);
      },
    });
    new client.Gauge({
      name: 'ringstore_node_up',
      help: 'Whether this machine sees each node up (1) or not (0)',
      labelNames: ['node'],
      registers,
      async collect() {
        await self.refresh();
        this.reset();
        for (const [node, up] of Object.entries(self.remote.nodeUp)) this.set({ node }, up);
      },
    });
  }

  /** Ask the socket server for its figures and the scheduler's view (one request for all who ask meanwhile). */
  refresh(): Promise<void> {
    this.refreshing ??= this.fetchRemote().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** A socket server that does not answer leaves the figures as they were (but who is up). */
  private async fetchRemote(): Promise<void> {
    const view = await this.cluster.health.fetch();
    const nodeUp = Object.fromEntries(this.cluster.nodeIds.map((id) => [id, (id === this.cluster.self ? view.socketUp : view.statuses?.[id] === 'up') ? 1 : 0]));
    try {
      const { reply } = await this.cluster.transport.request(this.cluster.peer(this.cluster.self), { type: 'stats' }, [], { timeoutMs: 1000 });
      this.remote = {
        hints: reply.hints,
        logDropped: { node: reply.logDropped, cron: view.counters.logDropped },
        hintsDelivered: view.counters.hintsDelivered,
        gossipRounds: view.counters.gossipRounds,
        journalFsyncs: reply.journal.syncs,
        nodeUp,
      };
    } catch {
      this.remote = { ...this.remote, nodeUp };
    }
  }

  get hints(): Record<string, number> {
    return this.remote.hints;
  }

  request(route: string, method: string, status: number, ms: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.duration.observe({ route }, ms / 1000);
    const now = this.cluster.rt.clock.monotonic();
    this.recent.push({ at: now, route, method, ms });
    this.prune(now);
  }

  quorumFailure(op: string): void {
    this.quorumFailures.inc({ op });
  }

  siblingsRead(n: number): void {
    this.siblings.observe(n);
  }

  /** Each route's rate and latency percentiles over the last minute (for the dashboard). */
  lastMinute(): RouteFigures[] {
    const now = this.cluster.rt.clock.monotonic();
    this.prune(now);
    const by = new Map<string, Recent[]>();
    for (const r of this.recent) {
      const k = `${r.method} ${r.route}`;
      const list = by.get(k) ?? [];
      list.push(r);
      by.set(k, list);
    }
    return [...by.values()]
      .map((rs) => {
        const ms = rs.map((r) => r.ms).sort((a, b) => a - b);
        const q = (p: number): number => Math.round((ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0) * 10) / 10;
        const first = rs[0] as Recent;
        const span = Math.min(WINDOW_MS, Math.max(1000, now - first.at)) / 1000;
        return { route: first.route, method: first.method, count: rs.length, rate: Math.round((rs.length / span) * 100) / 100, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
      })
      .sort((a, b) => b.count - a.count);
  }

  private prune(now: number): void {
    let drop = 0;
    while (drop < this.recent.length && (this.recent[drop] as Recent).at < now - WINDOW_MS) drop++;
    if (drop > 0) this.recent.splice(0, drop);
  }
}
