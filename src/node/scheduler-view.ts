// The scheduler's latest view, held by the socket server for the machine's
// other processes. The scheduler (cron process) pushes it after every gossip
// round; the REST app asks for it. The socket server is the one process every
// other one already talks to, so the view travels in messages, never through
// files that one process writes and another polls.
import type { NodeStatus, SchedulerCounters, WorkerStatus } from '../protocol/messages.js';
import type { Clock } from '../runtime/runtime.js';

export interface HeldView {
  statuses: Record<string, NodeStatus> | null;
  /** ms since the scheduler pushed it; null with no view. */
  ageMs: number | null;
  workers: WorkerStatus[];
  counters: SchedulerCounters;
}

export class SchedulerView {
  private statuses: Record<string, NodeStatus> | null = null;
  private workers: WorkerStatus[] = [];
  private counters: SchedulerCounters = { gossipRounds: 0, hintsDelivered: 0 };
  private at = 0;

  constructor(private readonly clock: Clock) {}

  private now(): number {
    return this.clock.monotonic();
  }

  push(statuses: Record<string, NodeStatus>, workers: WorkerStatus[], counters: SchedulerCounters): void {
    this.statuses = statuses;
    this.workers = workers;
    this.counters = counters;
    this.at = this.now();
  }

  held(): HeldView {
    return { statuses: this.statuses, ageMs: this.statuses ? Math.max(0, Math.round(this.now() - this.at)) : null, workers: this.workers, counters: this.counters };
  }
}
