// The simulator's event loop: simulated time, a queue of events ordered by
// (time, sequence), and the processes that own them. An event owned by a
// process that has died is skipped, as a killed process's timers and
// callbacks never fire. After each event every promise continuation it
// unleashed runs (the microtasks drain before the next event), so the real
// async code of the nodes interleaves exactly as the queue says, and a run is
// a function of its seed. Every event can add a line to the trace, whose hash
// proves that a replay was the same run, byte for byte.
import { createHash, type Hash } from 'node:crypto';

export interface Owner {
  readonly name: string;
  readonly alive: boolean;
}

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  owner: Owner | null;
  cancelled: boolean;
}

export interface Scheduled {
  cancel(): void;
}

const TAIL = 400;

export class SimLoop {
  now = 0;
  events = 0;
  private readonly heap: Event[] = [];
  private seq = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly tail: string[] = [];
  private readonly stamp = Buffer.alloc(16);
  /** Keep every trace line, not only the last few hundred (to study one seed). */
  keepAll = false;
  private tailAt = 0;

  /** Run fn after ms of simulated time, unless its owner has died by then or it was cancelled. */
  schedule(ms: number, fn: () => void, owner: Owner | null = null): Scheduled {
    const e: Event = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, owner, cancelled: false };
    this.push(e);
    return { cancel: () => void (e.cancelled = true) };
  }

  /** Add a line to the trace: hashed, and the last few hundred kept for a failure report. */
  trace(line: string): void {
    const text = `${this.now.toFixed(3)} ${line}`;
    this.hash.update(text);
    this.hash.update('\n');
    if (this.keepAll || this.tail.length < TAIL) this.tail.push(text);
    else this.tail[this.tailAt++ % TAIL] = text;
  }

  /** Hash bytes into the trace without keeping them (the frames the network delivers). */
  hashBytes(data: Buffer): void {
    this.hash.update(data);
  }

  traceHash(): string {
    return this.hash.copy().digest('hex');
  }

  lastTrace(n: number): string[] {
    const ordered = this.keepAll || this.tail.length < TAIL ? this.tail : [...this.tail.slice(this.tailAt % TAIL), ...this.tail.slice(0, this.tailAt % TAIL)];
    return ordered.slice(-n);
  }

  /** Run events until simulated time `until` (or until `stop` says so); then the clock stands at `until`. */
  async runUntil(until: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      if (stop?.()) return;
      const next = this.heap[0];
      if (!next || next.at > until) break;
      this.pop();
      // Skipped without a turn of the loop: a timer cleared, or a dead process's.
      if (next.cancelled || (next.owner && !next.owner.alive)) continue;
      this.now = next.at;
      this.events++;
      this.stamp.writeDoubleLE(next.at, 0);
      this.stamp.writeDoubleLE(next.seq, 8);
      this.hash.update(this.stamp);
      next.fn();
      await drain();
    }
    this.now = Math.max(this.now, until);
  }

  /** Let every pending continuation run (microtasks drain before an immediate). */
  settle(): Promise<void> {
    return drain();
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent] as Event)) break;
      h[i] = h[parent] as Event;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Event;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      if (l < h.length && before(h[l] as Event, best)) {
        m = l;
        best = h[l] as Event;
      }
      if (r < h.length && before(h[r] as Event, best)) m = r;
      if (m === i) break;
      h[i] = h[m] as Event;
      i = m;
    }
    h[i] = last;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
