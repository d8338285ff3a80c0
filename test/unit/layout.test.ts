// The layout's claim (src/ring/layout.ts): the first layout is today's ring;
// a change keeps the balance (Q·N/k ± 1 replicas per member), never puts a
// member twice in a partition, moves at most 1.1 × the optimum, and is a pure
// function of the previous layout and the new member set.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Ring } from '../../src/ring/ring.js';
import { initialLayout, loads, movedReplicas, rebalance, type Layout } from '../../src/ring/layout.js';
import { fuzzParams } from '../helpers/fuzz.js';

const ids = (k: number, from = 1): string[] => Array.from({ length: k }, (_, i) => `node${i + from}`);

function check(t: Test, l: Layout, what: string): void {
  const width = Math.min(l.n, l.members.length);
  const bad = l.replicas.findIndex((list) => list.length !== width || new Set(list).size !== width || list.some((m) => !l.members.includes(m)));
  t.equal(bad, -1, `${what}: every partition has ${width} distinct members`);
  const per = loads(l);
  const ideal = (l.partitions * width) / l.members.length;
  const off = l.members.filter((m) => Math.abs((per.get(m) ?? 0) - ideal) >= 1);
  t.same(off, [], `${what}: every member holds Q·N/k = ${ideal.toFixed(2)} replicas ± 1`);
}

t.test('the first layout is the ring the cluster has today', async (t) => {
  const nodes = ids(4);
  const ring = new Ring({ version: 1, nodes }, 256);
  const l = initialLayout(nodes, 256, 3);
  const differ: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const key = `b/f${i}`;
    if (JSON.stringify(l.replicas[ring.partitionOfKey(key)]) !== JSON.stringify(ring.preferenceList(key, 3))) differ.push(key);
  }
  t.same(differ, [], 'the same preference list for every key');
  check(t, l, '4 members');
});

t.test('4 to 5 and back: balanced, and close to the optimum', async (t) => {
  const four = initialLayout(ids(4), 256, 3);
  const five = rebalance(four, ids(5));
  check(t, five, '4 → 5');
  const total = 256 * 3;
  const moved = movedReplicas(four, five);
  t.comment(`4 → 5: ${moved} of ${total} replicas moved (${((moved / total) * 100).toFixed(1)}%; the optimum is 1/5 = 20%)`);
  t.ok(moved / total <= 1.1 / 5, 'at most 1.1 × the optimum');
  const back = rebalance(five, ids(4));
  check(t, back, '5 → 4');
  const movedBack = movedReplicas(five, back);
  t.comment(`5 → 4: ${movedBack} of ${total} replicas moved (${((movedBack / total) * 100).toFixed(1)}%; the optimum is the leaver's share, 20%)`);
  t.ok(movedBack / total <= 1.1 / 5, 'at most 1.1 × the optimum');
  t.same(rebalance(four, ids(5)), five, 'the same inputs give the same layout');
  t.same(rebalance(four, [...ids(5)].reverse()), five, 'whatever the order the members are given in');
});

t.test('any sequence of joins and leaves keeps the layout valid and moves little', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 3, max: 6 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      (n, start, steps) => {
        const q = 64;
        let members = ids(start);
        let next = start + 1;
        let l = initialLayout(members, q, n);
        for (const join of steps) {
          const before = l;
          if (join || members.length <= 2) members = [...members, `node${next++}`];
          else members = members.filter((_, i) => i !== (next * 7) % members.length);
          l = rebalance(l, members);
          const width = Math.min(n, members.length);
          const beforeWidth = Math.min(n, before.members.length);
          for (const list of l.replicas) if (list.length !== width || new Set(list).size !== width) return false;
          const per = loads(l);
          for (const m of members) if (Math.abs((per.get(m) ?? 0) - (q * width) / members.length) >= 1) return false;
          // Only when N' is unchanged is the optimum simple: a join moves the newcomer's share, a leave the leaver's.
          if (width === beforeWidth) {
            const share = join || before.members.length <= 2 ? (q * width) / members.length : (q * width) / before.members.length;
            if (movedReplicas(before, l) > Math.ceil(1.1 * share) + 1) return false;
          }
        }
        return true;
      },
    ),
    fuzzParams(300),
  );
  t.pass('held');
});
