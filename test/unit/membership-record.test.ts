// The membership record (src/ring/membership.ts) remembers every member that
// left, so that a machine removed while it was down is still let in to be told
// so; and a node's heartbeat tells an epoch as taken up only once the writes
// placed under an older one are stored (src/node/context.ts).
import t from 'tap';
import { Membership, initialRecord, nextRecord, trimRecord, type MemberSpec } from '../../src/ring/membership.js';
import { InflightWrites } from '../../src/node/context.js';

const spec = (i: number): MemberSpec => ({ id: `node${i}`, host: '127.0.0.1', port: 7000 + i, restPort: 6000 + i });

t.test('a member that left is remembered after its data has moved, and forgotten when it joins again', async (t) => {
  const seeds = [1, 2, 3, 4].map(spec);
  const e1 = initialRecord(seeds, 64, 3);
  t.equal(e1.left, undefined, 'nobody has left a new cluster');
  const e2 = nextRecord(e1, seeds.slice(0, 3), 0);
  t.same(e2.left, ['node4']);
  const settled = new Membership(trimRecord(e2, 2));
  t.equal(settled.knows('node4'), false, 'no longer a member nor holding data');
  t.equal(settled.everKnew('node4'), true, 'but known as one that left');
  t.equal(settled.everKnew('mallory'), false, 'a machine never added is not');
  const e3 = nextRecord(trimRecord(e2, 2), [...seeds.slice(0, 3), spec(5)], 2);
  t.same(e3.left, ['node4'], 'a join keeps the list');
  const e4 = nextRecord(e3, seeds, 3);
  t.equal(e4.members.some((m) => m.id === 'node4'), true);
  t.same(e4.left, ['node5'], 'node4 came back; node5 was dropped by this member set');
});

t.test('the epoch taken up waits for the writes let in under an older one', async (t) => {
  const inflight = new InflightWrites();
  t.equal(inflight.takenUp(3), 3, 'nothing in flight: the epoch held');
  const a = inflight.admit(2);
  const b = inflight.admit(3);
  const c = inflight.admit(2);
  t.equal(inflight.takenUp(3), 2, 'a write placed under epoch 2 is still being stored');
  a();
  a();
  t.equal(inflight.takenUp(3), 2, 'one of the two is left (a second call of the same release counts once)');
  c();
  t.equal(inflight.takenUp(3), 3);
  b();
  t.equal(inflight.takenUp(4), 4);
});
