// The gossip view and the relay, with an injected clock.
import t from 'tap';
import { GossipView } from '../../src/cron/view.js';
import { GossipRelay } from '../../src/node/gossip-relay.js';

t.test('a node is down once its heartbeat has not advanced for the failure timeout', async (t) => {
  const v = new GossipView(['a', 'b'], 5000, 0);
  t.equal(v.status('b', 4000), 'up', 'presumed up at start');
  t.equal(v.status('b', 5001), 'down', 'never heard from');
  v.merge([{ node: 'b', generation: 1, version: 10, age: 0 }], 6000);
  t.equal(v.status('b', 6000), 'up', 'up again as soon as it advances');
  v.merge([{ node: 'b', generation: 1, version: 10, age: 0 }], 10_000);
  t.equal(v.status('b', 11_001), 'down', 'the same heartbeat again is no advance');
  v.merge([{ node: 'b', generation: 2, version: 0, age: 0 }], 12_000);
  t.equal(v.status('b', 12_000), 'up', 'a restart (newer generation) counts');
  t.same(v.down(12_000), ['a'], 'a was never heard from');
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
  const r = new GossipRelay('a', () => now);
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
