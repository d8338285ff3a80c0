// A minimum rate over a sliding window, for whatever a peer or client owes us
// (a request body, the rest of a frame): a sender that delivers less than
// `bytesPerSecond` on average over the last `windowMs` is too slow. Judged by
// rate rather than by total time, so a large upload at a good pace is never
// cut, and a client trickling a byte a second is cut within one window.
interface Sample {
  at: number;
  total: number;
}

export class RateFloor {
  private samples: Sample[] = [];

  constructor(
    readonly bytesPerSecond: number,
    readonly windowMs: number,
  ) {}

  get watching(): boolean {
    return this.samples.length > 0;
  }

  /** Start watching, with `total` bytes received so far (a count that only grows). */
  start(now: number, total: number): void {
    this.samples = [{ at: now, total }];
  }

  stop(): void {
    this.samples = [];
  }

  /**
   * Note `total` at `now`. Returns the rate over the last window (at least
   * windowMs of samples) when it is under the floor, else null.
   */
  tooSlow(now: number, total: number): number | null {
    if (this.samples.length === 0) return null;
    this.samples.push({ at: now, total });
    // Keep one sample at or before the window's start, and those after it.
    while (this.samples.length > 2 && (this.samples[1] as Sample).at <= now - this.windowMs) this.samples.shift();
    const first = this.samples[0] as Sample;
    const span = now - first.at;
    if (span < this.windowMs) return null;
    const rate = ((total - first.total) * 1000) / span;
    return rate < this.bytesPerSecond ? rate : null;
  }
}

/** How often to sample a window: ten times in it, at most once a second, at least every 100 ms. */
export function sampleEvery(windowMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(windowMs / 10)));
}
