// A background worker of the scheduler: a name, a status a person can read,
// start/stop, no overlap with its own previous run, and a time limit per run.
// Its ticker fires it (node-cron in the scheduler process, the simulator's
// timers in a simulation); runOnce() runs it directly (tests, first tick).
import type { Logger } from '../log.js';
import type { WorkerStatus } from '../protocol/messages.js';
import type { Runtime, Ticker, Timer } from '../runtime/runtime.js';

export type WorkerRun = (signal: AbortSignal) => Promise<string | void>;

export class Worker {
  private task: Timer | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private readonly st: WorkerStatus;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly run: WorkerRun,
    private readonly log: Logger,
    private readonly rt: Runtime,
    private readonly ticker: Ticker,
  ) {
    this.st = { name, state: 'stopped', runs: 0, failures: 0, lastStart: null, lastMs: null, lastResult: null, lastError: null };
  }

  start(): void {
    if (this.task) return;
    this.stopped = false;
    this.st.state = 'idle';
    this.task = this.ticker(this.intervalMs, () => void this.runOnce());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.task?.cancel();
    this.task = null;
    await this.running;
    this.st.state = 'stopped';
  }

  /** Run now, unless a run is already under way (then wait for that one). */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.execute().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async execute(): Promise<void> {
    const started = this.rt.clock.monotonic();
    this.st.state = 'running';
    this.st.lastStart = new Date(this.rt.clock.now()).toISOString();
    const ac = new AbortController();
    const timer = this.rt.timers.setTimeout(() => ac.abort(new Error(`${this.name} run timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    const run = this.run(ac.signal);
    try {
      const result = await Promise.race([
        run,
        new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true })),
      ]);
      this.st.lastResult = (result ?? 'ok').slice(0, 1024);
      this.st.lastError = null;
    } catch (err) {
      this.st.failures++;
      this.st.lastError = (err as Error).message.slice(0, 1024);
      this.log.warn('worker run failed', { worker: this.name, error: (err as Error).message });
    } finally {
      timer.cancel();
      // A run past its time limit was told to stop (signal); the next one starts only once it has.
      await run.catch(() => undefined);
      this.st.runs++;
      this.st.lastMs = Math.round(this.rt.clock.monotonic() - started);
      this.st.state = this.stopped ? 'stopped' : 'idle';
    }
  }

  status(): WorkerStatus {
    return { ...this.st };
  }
}
