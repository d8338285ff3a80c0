import t from 'tap';
import { Ring } from '../../src/ring/ring.js';
import { objectKey, ringHash } from '../../src/ring/hash.js';

const four = new Ring({ version: 1, nodes: ['node1', 'node2', 'node3', 'node4'] }, 256);

t.test('the hash is stable', async (t) => {
  t.equal(ringHash('demo/hello.txt'), ringHash('demo/hello.txt'));
  // MD5("a") = 0cc175b9..., first 32 bits
  t.equal(ringHash('a'), 0x0cc175b9);
});

t.test('a preference list is N distinct nodes, clockwise from the key', async (t) => {
  const bad: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const key = objectKey('b', `f${i}`);
    const pl = four.preferenceList(key, 3);
    const p = four.partitionOfKey(key);
    // the owner of the key's partition, then the owners of the next partitions
    const expected = [four.owners[p], four.owners[(p + 1) % 256], four.owners[(p + 2) % 256]];
    if (new Set(pl).size !== 3 || JSON.stringify(pl) !== JSON.stringify(expected)) bad.push(key);
  }
  t.same(bad, [], 'every preference list is 3 distinct nodes clockwise');
  t.same(four.walk('x').length, 4, 'the walk lists every node once');
});

t.test('strategy 3: equal partitions dealt evenly', async (t) => {
  const counts = new Map<string, number>();
  for (const o of four.owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  t.same([...counts.values()], [64, 64, 64, 64]);
  t.equal(four.partitionOf(0), 0);
  t.equal(four.partitionOf(2 ** 32 - 1), 255);
});

t.test('balance: each of 4 nodes owns 25% ± 3% of 100k keys', async (t) => {
  const counts = new Map<string, number>();
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const owner = four.preferenceList(objectKey('bucket', `key-${i}`), 1)[0] as string;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  for (const [node, c] of counts) {
    const share = c / N;
    t.ok(Math.abs(share - 0.25) <= 0.03, `${node} owns ${(share * 100).toFixed(2)}%`);
  }
  t.comment(`ring balance: ${[...counts].map(([n, c]) => `${n} ${((c / N) * 100).toFixed(2)}%`).join(', ')}`);
  t.equal(counts.size, 4);
});

t.test('every node is a replica of 75% of keys with N=3', async (t) => {
  const counts = new Map<string, number>();
  const N = 20_000;
  for (let i = 0; i < N; i++) for (const n of four.preferenceList(`k${i}`, 3)) counts.set(n, (counts.get(n) ?? 0) + 1);
  for (const [node, c] of counts) t.ok(Math.abs(c / N - 0.75) < 0.03, `${node} holds ${((c / N) * 100).toFixed(1)}%`);
});

t.test('a ring needs nodes and at least one partition per node', async (t) => {
  t.throws(() => new Ring({ version: 1, nodes: [] }, 8));
  t.throws(() => new Ring({ version: 1, nodes: ['a', 'b', 'c'] }, 2));
});
