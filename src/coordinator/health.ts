// Which nodes this machine believes are down: what its scheduler's gossip wrote
// to down_system.json. Read at most every REFRESH_MS. When the file is missing
// or stale (no scheduler running), every node is presumed up and failures are
// found at request time instead.
import { readDownSystem } from '../cron/files.js';

const REFRESH_MS = 200;

export class HealthView {
  private down = new Set<string>();
  private fresh = false;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly nodeDir: string,
    /** A view older than this is not trusted. */
    private readonly staleAfterMs: number,
  ) {}

  /** The nodes believed down, refreshed from disk when older than REFRESH_MS. */
  async downSet(): Promise<ReadonlySet<string>> {
    if (Date.now() - this.loadedAt > REFRESH_MS) {
      this.loading ??= readDownSystem(this.nodeDir)
        .then(({ down, ageMs }) => {
          this.fresh = ageMs <= this.staleAfterMs;
          this.down = new Set(this.fresh ? down : []);
          this.loadedAt = Date.now();
        })
        .finally(() => (this.loading = null));
      await this.loading;
    }
    return this.down;
  }

  /** Whether the last read found a current gossip view. */
  get isFresh(): boolean {
    return this.fresh;
  }
}
