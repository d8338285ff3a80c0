// The layout: which N members hold the replicas of each of the Q partitions
// (Dynamo's strategy 3: Q equal partitions, fixed for the cluster's life).
// It is kept as a table, not recomputed by walking the ring, so that a change
// of membership moves only what balance needs (as riak_core's claim and
// Garage's layout do): a joining member takes replicas from the members that
// hold the most; a leaving member's replicas go to the members that hold the
// least. The table is a pure function of the previous table and the new
// member set, so every node that knows the same epoch has the same layout.
//
// The first layout of a cluster is the one today's ring gives (partitions
// dealt round-robin, preference lists walked clockwise), so a cluster's data
// stays where it is.

export interface Layout {
  /** The number of partitions (Q). */
  readonly partitions: number;
  /** Replicas per partition (N), or fewer when there are fewer members. */
  readonly n: number;
  /** The members, sorted. */
  readonly members: readonly string[];
  /** For each partition, the members holding its replicas, in preference order. */
  readonly replicas: readonly (readonly string[])[];
}

/** The layout of a cluster's first membership: Q partitions dealt round-robin in `nodes` order, each partition's replicas the next N distinct owners clockwise. */
export function initialLayout(nodes: readonly string[], partitions: number, n: number): Layout {
  if (nodes.length === 0) throw new Error('a layout needs at least one member');
  if (partitions < nodes.length) throw new Error('a layout needs at least one partition per member');
  const owners = Array.from({ length: partitions }, (_, p) => nodes[p % nodes.length] as string);
  const width = Math.min(n, nodes.length);
  const replicas = owners.map((_, p) => {
    const seen: string[] = [];
    for (let i = 0; i < partitions && seen.length < width; i++) {
      const o = owners[(p + i) % partitions] as string;
      if (!seen.includes(o)) seen.push(o);
    }
    return seen;
  });
  return { partitions, n, members: [...nodes].sort(), replicas };
}

/** How many replicas each member holds. */
export function loads(layout: Pick<Layout, 'replicas'>): Map<string, number> {
  const m = new Map<string, number>();
  for (const list of layout.replicas) for (const node of list) m.set(node, (m.get(node) ?? 0) + 1);
  return m;
}

/**
 * The layout for a new member set, moving as few replicas as balance allows:
 * every member ends with floor(Q·N'/k) or ceil(Q·N'/k) replicas (N' = min(N, k)),
 * no partition holds a member twice, and a member that stays keeps every replica
 * it is not asked to give up. Deterministic: ties go by member id, partitions in order.
 */
export function rebalance(prev: Layout, members: readonly string[]): Layout {
  const next = [...new Set(members)].sort();
  if (next.length === 0) throw new Error('a layout needs at least one member');
  if (prev.partitions < next.length) throw new Error('a layout needs at least one partition per member');
  const width = Math.min(prev.n, next.length);
  const keep = new Set(next);
  // Members that left are dropped; each partition is cut to the new width (last in preference order first).
  const replicas = prev.replicas.map((list) => list.filter((m) => keep.has(m)).slice(0, width));
  const load = new Map<string, number>(next.map((m) => [m, 0]));
  for (const list of replicas) for (const m of list) load.set(m, (load.get(m) ?? 0) + 1);

  // 1. Fill the holes left by members that left (or by a wider N'), each from the member holding the fewest
  //    among those that may take it; the most constrained hole first (fewest members below the ceiling that
  //    may take it), so that no hole is left with only full members, which would cost a second move later.
  const total = prev.partitions * width;
  const base = Math.floor(total / next.length);
  const ceiling = total % next.length === 0 ? base : base + 1;
  const lighter = (a: string, b: string): number => (load.get(a) ?? 0) - (load.get(b) ?? 0) || (a < b ? -1 : 1);
  const fresh = new Set<string>(); // "partition member": placed just now, so placing it elsewhere instead costs no extra move
  const takers = (p: number): string[] => next.filter((m) => !replicas[p]!.includes(m)).sort(lighter);
  for (;;) {
    let p = -1;
    let fewest = Infinity;
    for (let i = 0; i < replicas.length; i++) {
      if (replicas[i]!.length >= width) continue;
      const c = takers(i).filter((m) => (load.get(m) ?? 0) < ceiling).length;
      if (c < fewest) [p, fewest] = [i, c];
    }
    if (p < 0) break;
    const m = takers(p)[0];
    if (m === undefined) throw new Error(`no member can take a replica of partition ${p}`);
    replicas[p]!.push(m);
    fresh.add(`${p} ${m}`);
    load.set(m, (load.get(m) ?? 0) + 1);
  }

  // Targets: everyone gets the floor; the remainder goes to those holding the most now (fewest moves), by id on ties.
  const target = new Map<string, number>(next.map((m) => [m, base]));
  const byLoad = [...next].sort((a, b) => (load.get(b) ?? 0) - (load.get(a) ?? 0) || (a < b ? -1 : 1));
  for (let i = 0; i < total - base * next.length; i++) target.set(byLoad[i] as string, base + 1);
  const over = (m: string): number => (load.get(m) ?? 0) - (target.get(m) ?? 0);
  const neediest = (p: number): string | undefined => {
    let best: string | undefined;
    for (const m of next) {
      if (over(m) >= 0 || replicas[p]!.includes(m)) continue;
      if (best === undefined || over(m) < over(best)) best = m;
    }
    return best;
  };

  // 2. Members above target hand replicas to members below it, one partition at a time: first the
  //    replicas they were given in step 1 (re-placing those moves nothing more), then their own.
  const giveAway = (giver: string, freshOnly: boolean): boolean => {
    let moved = false;
    for (let p = 0; p < replicas.length && over(giver) > 0; p++) {
      const list = replicas[p]!;
      const at = list.indexOf(giver);
      if (at < 0 || fresh.has(`${p} ${giver}`) !== freshOnly) continue;
      const taker = neediest(p);
      if (taker === undefined) continue;
      list[at] = taker;
      fresh.delete(`${p} ${giver}`);
      if (freshOnly) fresh.add(`${p} ${taker}`);
      load.set(giver, (load.get(giver) ?? 0) - 1);
      load.set(taker, (load.get(taker) ?? 0) + 1);
      moved = true;
    }
    return moved;
  };
  for (const freshOnly of [true, false]) {
    for (let progress = true; progress; ) {
      progress = false;
      for (const giver of [...next].sort((a, b) => over(b) - over(a) || (a < b ? -1 : 1))) if (over(giver) > 0 && giveAway(giver, freshOnly)) progress = true;
    }
  }
  return { partitions: prev.partitions, n: prev.n, members: next, replicas };
}

/** How many replicas are held by a different member in `b` than in `a` (partition by partition, as sets). */
export function movedReplicas(a: Layout, b: Layout): number {
  let moved = 0;
  for (let p = 0; p < a.replicas.length; p++) {
    const before = new Set(a.replicas[p]);
    for (const m of b.replicas[p] ?? []) if (!before.has(m)) moved++;
  }
  return moved;
}
