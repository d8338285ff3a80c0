// The gossip view and the relay, with an injected clock.
import t from 'tap';
import { GossipView } from '../../src/cron/view.js';
import { GossipRelay } from '../../src/node/gossip-relay.js';

t.test('a node is down once its heartbeat has not advanced for the failure timeout', async (t) => {
  const v = new GossipView(['a', 'b'], 5000, 0);
  t.equal(v.status('b', 4000), 'unknown', 'not heard from yet: neither up nor a failure');
  t.same(v.down(4000), [], 'and not listed as down');
  t.equal(v.status('b', 5001), 'down', 'never heard from within the failure timeout');
  v.merge([{ node: 'b', generation: 1, version: 10, age: 0 }], 6000);
  t.equal(v.status('b', 6000), 'up', 'up again as soon as it advances');
  v.merge([{ node: 'b', generation: 1, version: 10, age: 0 }], 10_000);
  t.equal(v.status('b', 11_001), 'down', 'the same heartbeat again is no advance');
  v.merge([{ node: 'b', generation: 2, version: 0, age: 0 }], 12_000);
  t.equal(v.status('b', 12_000), 'up', 'a restart (newer generation) counts');
  t.same(v.down(12_000), ['a'], 'a was never heard from');
});

t.test('a refused connection is down at once; only proof of life brings the node back', async (t) => {
  const v = new GossipView(['b', 'c'], 5000, 0);
  v.refused('c', 100);
  t.equal(v.status('c', 200), 'unknown', 'refused before ever being heard from: still unknown, not yet a failure');
  v.merge([{ node: 'b', generation: 1, version: 10, age: 0 }], 1000);
  t.equal(v.status('b', 1000), 'up');
  v.refused('b', 2000);
  t.equal(v.status('b', 2000), 'down', 'down within the tick, not after the failure timeout');
  t.same(v.down(2000), ['b']);
  v.merge([{ node: 'b', generation: 1, version: 11, age: 1200 }], 2100);
  t.equal(v.status('b', 2100), 'down', 'a relayed heartbeat it minted before the refusal proves nothing');
  v.merge([{ node: 'b', generation: 1, version: 12, age: 0 }], 2200);
  t.equal(v.status('b', 2200), 'down', 'nor one of the same generation: peers may relay what it said before it died');
  v.merge([{ node: 'b', generation: 2, version: 0, age: 0 }], 3000);
  t.equal(v.status('b', 3000), 'up', 'a newer generation that advanced after the refusal: it restarted');
  v.refused('b', 4000);
  v.answered('b', undefined, 4050);
  v.merge([{ node: 'b', generation: 2, version: 900, age: 0 }], 4100);
  t.equal(v.status('b', 4100), 'up', 'an answer from the node itself clears the refusal');
});

t.test('an answer from the node itself is proof of life, even of a lower generation (its disk and clock went back)', async (t) => {
  const v = new GossipView(['b'], 5000, 0);
  v.merge([{ node: 'b', generation: 500, version: 10, age: 0 }], 1000);
  v.merge([{ node: 'b', generation: 100, version: 1, age: 0 }], 9000);
  t.equal(v.status('b', 9000), 'down', 'relays of a lower generation are not news');
  v.answered('b', { node: 'b', generation: 100, version: 2, age: 0 }, 9100);
  t.equal(v.status('b', 9100), 'up', 'its own answer is');
  v.merge([{ node: 'b', generation: 500, version: 10, age: 6000 }], 9200);
  t.equal(v.status('b', 9200), 'up', 'and an old relay does not take it back');
});

t.test('ages: a relayed heartbeat counts from when it advanced, not when it arrived', async (t) => {
  const v = new GossipView(['b'], 5000, 0);
  v.merge([{ node: 'b', generation: 1, version: 5, age: 3000 }], 10_000);
  t.equal(v.entry('b')?.lastAdvanced, 7000);
  t.equal(v.status('b', 12_001), 'down', 'down 5 s after it last advanced');
  const row = v.table(11_000)[0];
  t.equal(row?.age, 4000, 'and passes the age on');
});

t.test('the relay answers peers with the pushed view and its own heartbeat, and hands peers\' rows to its scheduler', async (t) => {
  let now = 1000;
  const r = new GossipRelay('a', { now: () => 1_700_000_000_000, monotonic: () => now }, 1_700_000_000_000);
  r.exchange('a', [{ node: 'c', generation: 1, version: 1, age: 100 }]);
  now = 1500;
  const toPeer = r.exchange('b', [{ node: 'b', generation: 3, version: 9, age: 0 }]);
  t.equal(toPeer[0]?.node, 'a', 'own heartbeat first');
  t.same(toPeer.find((h) => h.node === 'c')?.age, 600, 'age grows while held');
  now = 2000;
  const toSelf = r.exchange('a', []);
  t.same(toSelf.find((h) => h.node === 'b'), { node: 'b', generation: 3, version: 9, age: 500 });
  t.ok((toSelf[0]?.version ?? 0) >= 0);
});

t.test('every node telling of a newer membership epoch is a place to fetch it, highest first (seed 4459)', async (t) => {
  const v = new GossipView(['a', 'b', 'c'], 5000, 0);
  // a was wiped while its clock ran back: its new heartbeats are of an older generation, so the one it minted
  // at epoch 2 before the wipe stays here, though a holds epoch 1 now.
  v.merge([{ node: 'a', generation: 50, version: 9, age: 0, epoch: 2 }], 100);
  v.merge([{ node: 'a', generation: 10, version: 1, age: 0, epoch: 1 }], 200);
  v.merge([{ node: 'b', generation: 7, version: 3, age: 0, epoch: 2 }], 200);
  v.merge([{ node: 'c', generation: 7, version: 3, age: 0, epoch: 3 }], 200);
  t.same(v.newerEpochs(1), [{ node: 'c', epoch: 3 }, { node: 'a', epoch: 2 }, { node: 'b', epoch: 2 }], 'the stale one is one candidate among the others, not the only one');
  t.same(v.newerEpochs(3), [], 'none newer than what is held');
});
