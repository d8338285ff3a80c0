// Whether a history of operations on one register is linearizable (Wing and
// Gong's search): is there an order of the operations, each placed somewhere
// between its call and its answer, in which a plain register gives every answer
// that was given? An operation whose answer never came (its coordinator died,
// the client gave up) may have taken effect at any time after its call, or not
// at all. The search tries the operations that may come next, in every order,
// and remembers the (done set, value) pairs it has already explored.

export type RegisterValue = number | null;

export interface RegisterOp {
  kind: 'read' | 'cas';
  /** cas: the value it expected, and the one it set. */
  expected?: RegisterValue;
  next?: number;
  start: number;
  /** Infinity while no answer came. */
  end: number;
  /** read: the value read; cas: whether it set, and the value it found. */
  result?: { value: RegisterValue } | { ok: boolean; value: RegisterValue };
}

/** Past this many explored states the search gives up: the history is reported unchecked, not wrong. */
export const SEARCH_BUDGET = 500_000;

/** true, false, or 'unchecked' when the search ran past its budget. */
export function linearizable(history: readonly RegisterOp[], initial: RegisterValue = null): boolean | 'unchecked' {
  const ops = relevant(history);
  const n = ops.length;
  const seen = new Set<string>();
  const done = new Array<boolean>(n).fill(false);
  const known = ops.map((o) => o.result !== undefined);
  let budgetLeft = SEARCH_BUDGET;

  const search = (value: RegisterValue, left: number): boolean => {
    if (left === 0) return true;
    const memo = `${done.map((d) => (d ? 1 : 0)).join('')}|${value}`;
    if (seen.has(memo)) return false;
    if (--budgetLeft < 0) throw new Unchecked();
    seen.add(memo);
    // The first to come next must have been called before every remaining answered operation returned.
    let bound = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && known[i]) bound = Math.min(bound, (ops[i] as RegisterOp).end);
    if (bound === Infinity) return true; // only unanswered operations left: they may never have happened
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const op = ops[i] as RegisterOp;
      if (op.start > bound) continue;
      done[i] = true;
      const ok = step(op, value).some((next) => search(next, left - 1));
      done[i] = false;
      if (ok) return true;
    }
    return false;
  };
  try {
    return search(initial, n);
  } catch (e) {
    if (e instanceof Unchecked) return 'unchecked';
    throw e;
  }
}

class Unchecked extends Error {}

/**
 * The operations that can change the answer. An unanswered read changes
 * nothing. An unanswered compare-and-set whose new value nobody ever saw (no
 * answer returned it, no successful compare-and-set expected it) can only have
 * taken effect after every answered operation, which is the same as never:
 * values are unique, so anything that came after it would have seen it.
 */
function relevant(ops: readonly RegisterOp[]): RegisterOp[] {
  const observed = new Set<RegisterValue>();
  for (const o of ops) {
    if (!o.result) continue;
    observed.add(o.result.value);
    if ('ok' in o.result && o.result.ok) observed.add(o.expected ?? null);
  }
  return ops.filter((o) => o.result !== undefined || (o.kind === 'cas' && observed.has(o.next ?? null)));
}

/** The values the register may hold after this operation, given its answer (none if the answer is impossible). */
function step(op: RegisterOp, value: RegisterValue): RegisterValue[] {
  const r = op.result;
  if (op.kind === 'read') {
    if (!r) return [value];
    return r.value === value ? [value] : [];
  }
  const matches = value === (op.expected ?? null);
  if (!r) return matches ? [op.next as number, value] : [value]; // unanswered: it set, or never happened
  if (!('ok' in r)) return [];
  if (r.ok) return matches ? [op.next as number] : [];
  return !matches && r.value === value ? [value] : [];
}
