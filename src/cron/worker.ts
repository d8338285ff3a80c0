// A background worker of the scheduler process: a name, a status a person can
// read, start/stop, no overlap with its own previous run, and a time limit per
// run. node-cron fires it; runOnce() runs it directly (tests, first tick).
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import type { WorkerStatus } from '../protocol/messages.js';

export type WorkerRun = (signal: AbortSignal) => Promise<string | void>;

export class Worker {
  private task: ScheduledTask | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private readonly st: WorkerStatus;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly run: WorkerRun,
    private readonly log: Logger,
  ) {
    this.st = { name, state: 'stopped', runs: 0, failures: 0, lastStart: null, lastMs: null, lastResult: null, lastError: null };
  }

  start(): void {
    if (this.task) return;
    this.stopped = false;
    this.st.state = 'idle';
    const seconds = Math.max(1, Math.round(this.intervalMs / 1000));
    // Overlap is prevented here (runOnce), not by node-cron, which would log a warning each time.
    this.task = cron.schedule(`*/${seconds} * * * * *`, () => this.runOnce(), { name: this.name, noOverlap: false });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.destroy();
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
    const started = Date.now();
    this.st.state = 'running';
    this.st.lastStart = new Date(started).toISOString();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`${this.name} run timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
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
      clearTimeout(timer);
      // A run past its time limit was told to stop (signal); the next one starts only once it has.
      await run.catch(() => undefined);
      this.st.runs++;
      this.st.lastMs = Date.now() - started;
      this.st.state = this.stopped ? 'stopped' : 'idle';
    }
  }

  status(): WorkerStatus {
    return { ...this.st };
  }
}
