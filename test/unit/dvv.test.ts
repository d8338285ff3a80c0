// Dotted version vectors: the properties of shared/notes/versions.md, checked
// over many random histories of writes, syncs and disk losses.
import t from 'tap';
import fc from 'fast-check';
import {
  syncChanges,
  compare,
  covers,
  dominates,
  dotId,
  emptyState,
  equalStates,
  join,
  nextCounter,
  parseDotId,
  sync,
  update,
  type DvvState,
  type Dot,
  type VersionVector,
} from '../../src/clock/dvv.js';

interface Sib {
  dot: Dot;
  v: string;
}
type S = DvvState<Sib>;

t.test('vector comparison (Dynamo 4.4)', async (t) => {
  t.equal(compare({ a: 1 }, { a: 1 }), 'equal');
  t.equal(compare({ a: 2 }, { a: 1 }), 'after');
  t.equal(compare({ a: 1 }, { a: 1, b: 1 }), 'before');
  t.equal(compare({ a: 2 }, { a: 1, b: 1 }), 'concurrent');
  t.ok(dominates({ a: 2, b: 1 }, { a: 1 }));
  t.notOk(dominates({ a: 1 }, { a: 1 }));
  t.same(join({ a: 1, b: 3 }, { a: 2, c: 1 }), { a: 2, b: 3, c: 1 });
  t.ok(covers({ a: 3 }, ['a', 3]));
  t.notOk(covers({ a: 3 }, ['a', 4]));
  t.notOk(covers({}, ['a', 1]));
});

t.test('dot ids round-trip even though actors contain dots', async (t) => {
  t.same(parseDotId(dotId(['node1.ab12', 42])), ['node1.ab12', 42]);
  t.equal(parseDotId('nodot'), null);
  t.equal(parseDotId('a.b.0'), null);
});

function write(state: S, ctx: VersionVector, actor: string, v: string): S {
  const n = nextCounter(state, ctx, actor, 1);
  return update(state, ctx, { dot: [actor, n], v });
}

t.test('two writes with the same context both survive, at one replica', async (t) => {
  let a: S = emptyState();
  a = write(a, {}, 'a.1', 'v0');
  const ctx = a.context;
  a = write(a, ctx, 'a.1', 'x');
  a = write(a, ctx, 'a.1', 'y');
  t.same(a.siblings.map((s) => s.v).sort(), ['x', 'y'], 'no lost update through the shared counter');
  a = write(a, a.context, 'a.1', 'resolved');
  t.same(a.siblings.map((s) => s.v), ['resolved'], 'a write with the read\'s context supersedes both');
});

t.test('two writes with the same context both survive, at two replicas', async (t) => {
  let a: S = write(emptyState(), {}, 'a.1', 'v0');
  let b: S = sync(emptyState(), a);
  const ctx = a.context;
  a = write(a, ctx, 'a.1', 'x');
  b = write(b, ctx, 'b.1', 'y');
  const m = sync(a, b);
  t.same(m.siblings.map((s) => s.v).sort(), ['x', 'y']);
});

t.test('a blind write next to an unseen one keeps both', async (t) => {
  const a: S = write(emptyState(), {}, 'a.1', 'x');
  const b: S = write(emptyState(), {}, 'b.1', 'y');
  t.same(sync(a, b).siblings.map((s) => s.v).sort(), ['x', 'y']);
});

// A random history: writes at random replicas with contexts from earlier reads, syncs, disk losses.
type Op =
  | { kind: 'write'; at: number; ctxFrom: number; stale: boolean }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'lose'; at: number };

const REPLICAS = 3;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), at: fc.nat(REPLICAS - 1), ctxFrom: fc.nat(REPLICAS), stale: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(REPLICAS - 1), to: fc.nat(REPLICAS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), at: fc.nat(REPLICAS - 1) }) },
);

interface Run {
  states: S[];
  writes: Array<{ dot: Dot; ctx: VersionVector }>;
  snapshots: S[];
  reusedDot: boolean;
}

function run(ops: Op[]): Run {
  const states: S[] = Array.from({ length: REPLICAS }, () => emptyState<Sib>());
  const incarnation = Array.from({ length: REPLICAS }, () => 0);
  const writes: Run['writes'] = [];
  const snapshots: S[] = [];
  const minted = new Set<string>();
  let reusedDot = false;
  let vcount = 0;
  for (const op of ops) {
    if (op.kind === 'write') {
      // The client's context: a read of some replica now, or an earlier read (stale), or none (ctxFrom == REPLICAS).
      const source = op.ctxFrom === REPLICAS ? emptyState<Sib>() : op.stale && snapshots.length ? (snapshots[op.ctxFrom % snapshots.length] as S) : (states[op.ctxFrom] as S);
      const ctx = source.context;
      const actor = `r${op.at}.${incarnation[op.at]}`;
      const before = states[op.at] as S;
      const next = write(before, ctx, actor, `v${vcount++}`);
      const dot = next.siblings.find((s) => !before.siblings.includes(s))?.dot as Dot;
      if (minted.has(dotId(dot)) || states.some((s) => covers(s.context, dot) && s !== before)) reusedDot = true;
      minted.add(dotId(dot));
      writes.push({ dot, ctx });
      states[op.at] = next;
      snapshots.push(next);
    } else if (op.kind === 'sync') {
      states[op.to] = sync(states[op.to] as S, states[op.from] as S);
    } else {
      // The replica loses its disk: empty state, new incarnation.
      states[op.at] = emptyState();
      incarnation[op.at] = (incarnation[op.at] as number) + 1;
    }
  }
  return { states, writes, snapshots, reusedDot };
}

const settle = (states: S[]): S => states.reduce((a, b) => sync(a, b), emptyState<Sib>());

t.test('no sibling is lost except by a write whose context covers it (property)', async (t) => {
  let writes = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 20, maxLength: 80 }), (all) => {
      // A lost disk loses what only it held, by design; the property is about histories without losses.
      const r = run(all.filter((o) => o.kind !== 'lose'));
      writes += r.writes.length;
      const final = settle(r.states);
      const present = new Set(final.siblings.map((s) => dotId(s.dot)));
      for (const w of r.writes) {
        const superseded = r.writes.some((o) => covers(o.ctx, w.dot));
        if (present.has(dotId(w.dot)) === superseded) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.ok(writes > 3000, `checked ${writes} writes`);
});

t.test('sync is commutative, associative and idempotent (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.nat(), fc.nat(), fc.nat(), (ops, i, j, k) => {
      const r = run(ops);
      const pool = [...r.states, ...r.snapshots];
      const a = pool[i % pool.length] as S;
      const b = pool[j % pool.length] as S;
      const c = pool[k % pool.length] as S;
      return (
        equalStates(sync(a, b), sync(b, a)) &&
        equalStates(sync(sync(a, b), c), sync(a, sync(b, c))) &&
        equalStates(sync(a, a), a) &&
        equalStates(sync(sync(a, b), b), sync(a, b))
      );
    }),
    { numRuns: 500 },
  );
  t.pass('holds');
});

t.test('a copy is skipped exactly when it would change nothing (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.nat(), fc.nat(), (ops, i, j) => {
      const r = run(ops);
      const pool = [...r.states, ...r.snapshots];
      const a = pool[i % pool.length] as S;
      const b = pool[j % pool.length] as S;
      // Skipping b at a is safe only when a already is what the merge would make it.
      return syncChanges(a, b) === !equalStates(sync(a, b), a) && !syncChanges(sync(a, b), b) && !syncChanges(sync(a, b), a);
    }),
    { numRuns: 500 },
  );
  // A replica whose sibling the other has superseded is changed by the copy, though it has seen every dot.
  const old: S = { context: { x: 1 }, siblings: [{ dot: ['x', 1], v: 'old' }] };
  const newer: S = { context: { x: 2 }, siblings: [{ dot: ['x', 2], v: 'new' }] };
  t.ok(syncChanges(old, newer), 'a superseding version is copied');
  t.notOk(syncChanges(newer, old), 'a superseded one is not');
});

t.test('an update with a read\'s context supersedes exactly what that read returned (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), fc.array(opArb, { maxLength: 30 }), fc.nat(REPLICAS - 1), (before, after, at) => {
      const r1 = run(before.filter((o) => o.kind !== 'lose'));
      const read = r1.states[at] as S;
      // More history after the read, then the write that carries the read's context.
      const states = r1.states;
      const later: Dot[] = [];
      after.forEach((o, i) => {
        if (o.kind !== 'write') return;
        const a = o.at;
        const prev = states[a] as S;
        states[a] = write(prev, prev.context, `r${a}.0`, `later${i}`);
        later.push((states[a] as S).siblings.find((s) => s.v === `later${i}`)?.dot as Dot);
      });
      states[at] = write(sync(states[at] as S, read), read.context, `r${at}.0`, 'new');
      const final = settle(states);
      const present = new Set(final.siblings.map((s) => dotId(s.dot)));
      const readGone = read.siblings.every((s) => !present.has(dotId(s.dot)));
      const laterKept = later.every((d) => covers(read.context, d) === false);
      return readGone && laterKept && final.siblings.some((s) => s.v === 'new');
    }),
    { numRuns: 300 },
  );
  t.pass('holds');
});

t.test('a replica restarted on an empty disk never mints a dot another replica covers (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => !run(ops).reusedDot),
    { numRuns: 500 },
  );
  t.pass('holds');
});

t.test('siblings stay at or below the number of concurrent writers (property)', async (t) => {
  // k writers each read once, then write once with what they read: at most k siblings remain.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(REPLICAS - 1), { minLength: 8, maxLength: 8 }), (k, places) => {
      let states: S[] = Array.from({ length: REPLICAS }, () => emptyState<Sib>());
      states[0] = write(states[0] as S, {}, 'r0.0', 'base');
      states = states.map((s) => sync(s, states[0] as S));
      const reads = Array.from({ length: k }, (_, i) => (states[(places[i] as number) % REPLICAS] as S).context);
      reads.forEach((ctx, i) => {
        const at = (places[i] as number) % REPLICAS;
        states[at] = write(states[at] as S, ctx, `r${at}.0`, `w${i}`);
      });
      return settle(states).siblings.length <= k;
    }),
    { numRuns: 300 },
  );
  t.pass('holds');
});
