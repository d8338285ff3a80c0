// Dotted version vectors (Preguiça, Baquero et al. 2012; Riak's dvvset): the
// causality of one key on one replica. Each sibling is named by the dot of the
// write that created it; the context records every dot this replica has seen
// for the key, including the ones it has since discarded. Pure functions only:
// the storage layer persists, the coordinator decides.

/** actor -> highest counter seen. An actor is "<node id>.<incarnation>". */
export type VersionVector = Record<string, number>;
/** One write's name: [actor, counter]. */
export type Dot = readonly [actor: string, counter: number];

export interface Dotted {
  readonly dot: Dot;
}

export interface DvvState<S extends Dotted> {
  context: VersionVector;
  siblings: S[];
}

export function emptyState<S extends Dotted>(): DvvState<S> {
  return { context: {}, siblings: [] };
}

/** A dot [x, n] is covered by v when n <= v[x]. */
export function covers(v: VersionVector, dot: Dot): boolean {
  return dot[1] <= (v[dot[0]] ?? 0);
}

/** Pointwise max. */
export function join(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a };
  for (const [actor, n] of Object.entries(b)) if (n > (out[actor] ?? 0)) out[actor] = n;
  return sortVector(out);
}

/** a descends b: a has seen everything b has. */
export function descends(a: VersionVector, b: VersionVector): boolean {
  for (const [actor, n] of Object.entries(b)) if ((a[actor] ?? 0) < n) return false;
  return true;
}

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

/** How vector a relates to vector b (Dynamo section 4.4). */
export function compare(a: VersionVector, b: VersionVector): Ordering {
  const ab = descends(a, b);
  const ba = descends(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'after';
  if (ba) return 'before';
  return 'concurrent';
}

/** a dominates b: a descends b and differs from it. */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  return compare(a, b) === 'after';
}

export function dotId(dot: Dot): string {
  return `${dot[0]}.${dot[1]}`;
}

/** Inverse of dotId; actors contain dots themselves, the counter is after the last one. */
export function parseDotId(id: string): Dot | null {
  const i = id.lastIndexOf('.');
  if (i <= 0) return null;
  const n = Number(id.slice(i + 1));
  if (!Number.isSafeInteger(n) || n < 1) return null;
  return [id.slice(0, i), n];
}

export function sameDot(a: Dot, b: Dot): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function byDot(a: Dotted, b: Dotted): number {
  if (a.dot[0] !== b.dot[0]) return a.dot[0] < b.dot[0] ? -1 : 1;
  return a.dot[1] - b.dot[1];
}

function sortVector(v: VersionVector): VersionVector {
  const out: VersionVector = {};
  for (const k of Object.keys(v).sort()) out[k] = v[k] as number;
  return out;
}

/**
 * Merge two replicas' states of one key (replication, read repair, handoff).
 * A sibling survives if the other side has it too, or the other side's context
 * has not seen its dot. Commutative, associative and idempotent.
 */
export function sync<S extends Dotted>(a: DvvState<S>, b: DvvState<S>): DvvState<S> {
  const kept = new Map<string, S>();
  const keep = (mine: readonly S[], other: DvvState<S>): void => {
    for (const s of mine) {
      const id = dotId(s.dot);
      if (kept.has(id)) continue;
      const otherHasIt = other.siblings.some((o) => sameDot(o.dot, s.dot));
      if (otherHasIt || !covers(other.context, s.dot)) kept.set(id, s);
    }
  };
  keep(a.siblings, b);
  keep(b.siblings, a);
  return { context: join(a.context, b.context), siblings: [...kept.values()].sort(byDot) };
}

/**
 * A new write on the replica that mints its dot: drop what the client's context
 * covers, add the new sibling, and remember both the client's context and the dot.
 * The caller chooses the dot with nextCounter(); it must never have been used.
 */
export function update<S extends Dotted>(state: DvvState<S>, clientContext: VersionVector, sibling: S): DvvState<S> {
  const [actor, n] = sibling.dot;
  const siblings = state.siblings.filter((s) => !covers(clientContext, s.dot));
  const context = join(state.context, clientContext);
  context[actor] = Math.max(context[actor] ?? 0, n);
  siblings.push(sibling);
  return { context: sortVector(context), siblings: siblings.sort(byDot) };
}

/** The least counter this actor may use next on this key, given both contexts. */
export function nextCounter(state: DvvState<Dotted>, clientContext: VersionVector, actor: string, floor: number): number {
  return Math.max(floor, (state.context[actor] ?? 0) + 1, (clientContext[actor] ?? 0) + 1);
}

/** Same context and the same set of sibling dots. */
export function equalStates<S extends Dotted>(a: DvvState<S>, b: DvvState<S>): boolean {
  if (compare(a.context, b.context) !== 'equal') return false;
  if (a.siblings.length !== b.siblings.length) return false;
  return a.siblings.every((s) => b.siblings.some((o) => sameDot(o.dot, s.dot)));
}

/** Whether merging b into a changes a: a copy that would not (a replica has it all already) can be skipped. */
export function syncChanges<S extends Dotted>(a: DvvState<S>, b: DvvState<S>): boolean {
  return !equalStates(sync(a, b), a);
}
