// The versions of large files that the chunk scrub found without W copies of
// every chunk (cron/chunk-scrub.ts reports each version it checks), kept so
// that listing pages can say `"complete": false` for them. Written only by the
// socket server, atomically, to incomplete.json in the node's folder: derived
// state that the next scrub recomputes, so a crash may lose the last change.
import { join } from 'node:path';
import type { Volume } from '../storage/volume.js';

export const INCOMPLETE_JSON = 'incomplete.json';

export class IncompleteVersions {
  /** "<ns>\0<key>" -> the dot ids of its versions missing chunks. */
  private readonly byKey = new Map<string, Set<string>>();

  constructor(
    private readonly vol: Volume,
    private readonly dir: string,
  ) {}

  async load(): Promise<void> {
    try {
      const raw = JSON.parse((await this.vol.disk.readFile(join(this.dir, INCOMPLETE_JSON))).toString('utf8')) as Record<string, string[]>;
      for (const [k, dots] of Object.entries(raw)) if (Array.isArray(dots) && dots.length > 0) this.byKey.set(k, new Set(dots.map(String)));
    } catch {
      // none yet, or unreadable: the next scrub finds them again
    }
  }

  /** The versions of a key known to miss chunks (none: undefined). */
  of(ns: string, key: string): string[] | undefined {
    const s = this.byKey.get(`${ns}\0${key}`);
    return s ? [...s] : undefined;
  }

  /**
   * Record what a scrub found of one version, forgetting versions of the key
   * that are no longer stored (`current`); written out if anything changed.
   */
  async report(ns: string, key: string, dot: string, complete: boolean, current: readonly string[]): Promise<void> {
    const k = `${ns}\0${key}`;
    const before = [...(this.byKey.get(k) ?? [])].sort().join();
    const s = new Set([...(this.byKey.get(k) ?? [])].filter((d) => current.includes(d)));
    if (complete) s.delete(dot);
    else s.add(dot);
    if ([...s].sort().join() === before) return;
    if (s.size === 0) this.byKey.delete(k);
    else this.byKey.set(k, s);
    const out = Object.fromEntries([...this.byKey].map(([key, dots]) => [key, [...dots]]));
    await this.vol.writeFileAtomic(join(this.dir, INCOMPLETE_JSON), JSON.stringify(out), { durable: false });
  }
}
