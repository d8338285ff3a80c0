// Merging pages of a listing that come from several sources (a node's own
// store and its hint stores; the nodes of the cluster), each in byte order of
// the names and each cut at the page size. An item past the end of a cut
// source might be missing from it, so the merged page ends where the first cut
// source ended: every item up to there is complete in every source.
import { compareUtf8 } from '../storage/name-index.js';

export type Item<S> = { key: string; state: S } | { prefix: string };

export interface Page<S> {
  items: Array<Item<S>>;
  truncated: boolean;
}

export interface Merged<S> {
  /** In order; a key's states from every source that had it. */
  items: Array<{ key: string; states: S[] } | { prefix: string }>;
  /** More follows the last item. */
  truncated: boolean;
}

const nameOf = <S>(i: Item<S>): string => ('key' in i ? i.key : i.prefix);

export function mergePages<S>(pages: ReadonlyArray<Page<S>>, limit: number): Merged<S> {
  let cutoff: string | null = null;
  for (const p of pages) {
    const last = p.items.at(-1);
    if (p.truncated && last && (cutoff === null || compareUtf8(nameOf(last), cutoff) < 0)) cutoff = nameOf(last);
  }
  const keys = new Map<string, unknown[]>();
  const prefixes = new Set<string>();
  for (const p of pages) {
    for (const i of p.items) {
      if (cutoff !== null && compareUtf8(nameOf(i), cutoff) > 0) break;
      if ('prefix' in i) prefixes.add(i.prefix);
      else {
        const states = keys.get(i.key) ?? [];
        states.push(i.state);
        keys.set(i.key, states);
      }
    }
  }
  const names = [...keys.keys(), ...prefixes].sort(compareUtf8);
  const items = names.slice(0, limit).map((n) => (keys.has(n) ? { key: n, states: keys.get(n) as S[] } : { prefix: n }));
  return { items, truncated: names.length > limit || cutoff !== null };
}
