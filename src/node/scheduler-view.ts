// The scheduler's latest view, held by the socket server for the machine's
// other processes. The scheduler (cron process) pushes it after every gossip
// round; the REST app asks for it. The socket server is the one process every
// other one already talks to, so the view travels in messages, never through
// files that one process writes and another polls.
import type { DiskInfo, NodeStatus, SchedulerCounters, Supervised, PeerEpochs, TransferStatus, WorkerStatus } from '../protocol/messages.js';
import type { Clock } from '../runtime/runtime.js';

export interface HeldView {
  statuses: Record<string, NodeStatus> | null;
  /** ms since the scheduler pushed it; null with no view. */
  ageMs: number | null;
  disks: Record<string, DiskInfo>;
  workers: WorkerStatus[];
  counters: SchedulerCounters;
  processes: Supervised[] | null;
  transfers?: TransferStatus;
  epochs?: Record<string, PeerEpochs>;
}

/** The membership side of a push: this machine's transfers, and every node's epochs as heartbeats told them. */
export interface PushedMembership {
  transfers?: TransferStatus | undefined;
  synced?: number | undefined;
  ae?: PeerEpochs['ae'] | undefined;
  epochs?: Record<string, PeerEpochs> | undefined;
}

export class SchedulerView {
  private statuses: Record<string, NodeStatus> | null = null;
  private disks: Record<string, DiskInfo> = {};
  private workers: WorkerStatus[] = [];
  private counters: SchedulerCounters = { gossipRounds: 0, hintsDelivered: 0, logDropped: 0 };
  private at = 0;
  private processes: Supervised[] | null = null;
  private membership: PushedMembership = {};

  constructor(private readonly clock: Clock) {}

  private now(): number {
    return this.clock.monotonic();
  }

  push(statuses: Record<string, NodeStatus>, disks: Record<string, DiskInfo>, workers: WorkerStatus[], counters: SchedulerCounters, membership: PushedMembership = {}): void {
    this.membership = membership;
    this.statuses = statuses;
    this.disks = disks;
    this.workers = workers;
    this.counters = counters;
    this.at = this.now();
  }

  /** The machine's supervisor reports its processes (kept apart from the scheduler's pushes). */
  supervised(processes: Supervised[]): void {
    this.processes = processes;
  }

  /** The newest epoch whose partitions this machine holds, as its scheduler last said (told in heartbeats). */
  get synced(): number | undefined {
    return this.membership.synced;
  }

  /** This machine's last anti-entropy round, as its scheduler last said (told in heartbeats). */
  get ae(): PeerEpochs['ae'] | undefined {
    return this.membership.ae;
  }

  held(): HeldView {
    const { transfers, epochs } = this.membership;
    return {
      statuses: this.statuses,
      ageMs: this.statuses ? Math.max(0, Math.round(this.now() - this.at)) : null,
      disks: this.disks,
      workers: this.workers,
      counters: this.counters,
      processes: this.processes,
      ...(transfers ? { transfers } : {}),
      ...(epochs ? { epochs } : {}),
    };
  }
}
