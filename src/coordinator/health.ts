// Which nodes this machine believes are up, down or not yet heard from: its
// scheduler's gossip view, asked of this machine's socket server (the scheduler
// pushes it there every tick). Asked at most every REFRESH_MS for routing. When
// there is no current view (no scheduler running, or the socket server not
// answering), no node is presumed down and failures are found at request time.
import type { Transport, PeerAddress } from '../net/transport.js';
import type { DiskInfo, NodeStatus, SchedulerCounters, Supervised, PeerEpochs, TransferStatus, WorkerStatus } from '../protocol/messages.js';

const REFRESH_MS = 200;
const NO_COUNTERS: SchedulerCounters = { gossipRounds: 0, hintsDelivered: 0, logDropped: 0 };

export interface LocalView {
  /** The socket server of this machine answered. */
  socketUp: boolean;
  /** The scheduler's view, if the socket server holds one younger than the staleness bound. */
  statuses: Record<string, NodeStatus> | null;
  /** Each node's disk, from its heartbeats ({} without a view). */
  disks: Record<string, DiskInfo>;
  workers: WorkerStatus[];
  /** The scheduler's counters as last pushed (zeros when there is no view). */
  counters: SchedulerCounters;
  /** This machine's processes, as its supervisor reported them; null without one. */
  processes: Supervised[] | null;
  /** The membership epoch the socket server holds, and how many layouts are live in it. */
  epoch?: number | undefined;
  live?: number | undefined;
  /** This machine's transfers, and every node's epochs as heartbeats tell them. */
  transfers?: TransferStatus | undefined;
  epochs?: Record<string, PeerEpochs> | undefined;
}

export class HealthView {
  private last: LocalView = { socketUp: false, statuses: null, disks: {}, workers: [], counters: NO_COUNTERS, processes: null };
  private loadedAt = -Infinity;
  private loading: Promise<LocalView> | null = null;
  /** This machine's socket server has answered at least once. */
  everUp = false;

  constructor(
    private readonly transport: Transport,
    private readonly self: PeerAddress,
    /** A view older than this is not trusted. */
    private readonly staleAfterMs: number,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    /** Told the membership epoch the socket server holds, before the view is used: a newer one is fetched first. */
    private readonly onEpoch: (epoch: number, live: number) => Promise<void> = async () => undefined,
  ) {}

  /** The view as the socket server holds it now (one local request, shared by concurrent callers). */
  fetch(): Promise<LocalView> {
    this.loading ??= this.transport
      .request(this.self, { type: 'view' }, [], { timeoutMs: this.timeoutMs })
      .then(
        ({ reply }): LocalView => ({
          socketUp: true,
          statuses: reply.statuses && reply.ageMs !== null && reply.ageMs <= this.staleAfterMs ? reply.statuses : null,
          disks: reply.disks,
          workers: reply.workers,
          counters: reply.counters,
          processes: reply.processes,
          epoch: reply.epoch,
          live: reply.live,
          transfers: reply.transfers,
          epochs: reply.epochs,
        }),
        (): LocalView => ({ socketUp: false, statuses: null, disks: {}, workers: [], counters: NO_COUNTERS, processes: null }),
      )
      .then(async (v) => {
        if (v.epoch !== undefined) await this.onEpoch(v.epoch, v.live ?? 1).catch(() => undefined);
        this.last = v;
        this.everUp ||= v.socketUp;
        this.loadedAt = this.now();
        return v;
      })
      .finally(() => (this.loading = null));
    return this.loading;
  }

  /** The view, refreshed when older than REFRESH_MS (and with it the membership, when it changed). */
  async current(): Promise<LocalView> {
    return this.now() - this.loadedAt > REFRESH_MS ? await this.fetch() : this.last;
  }

  /** The nodes believed down, refreshed when older than REFRESH_MS. */
  async downSet(): Promise<ReadonlySet<string>> {
    const v = await this.current();
    return new Set(Object.entries(v.statuses ?? {}).filter(([, s]) => s === 'down').map(([n]) => n));
  }
}
