// A failing disk, in process (the simulator's cluster, disk and network, the
// real code on top): a replica whose disk returns EIO fails those requests with
// DISK_ERROR and keeps serving reads; after three such errors it is read-only
// and refuses writes up front (READ_ONLY), and its peers see it in its
// heartbeat; the writes go to the others meanwhile. Once the disk works again,
// a probe write lifts the read-only state and it takes writes again.
import t from 'tap';
import { createBucket } from '../../src/coordinator/buckets.js';
import { putFile } from '../../src/coordinator/files.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { SimLoop } from '../../src/sim/loop.js';
import { SimNetwork } from '../../src/sim/network.js';
import { Prng } from '../../src/sim/prng.js';

const loop = new SimLoop();
const prng = new Prng('disk-faults');
const net = new SimNetwork(loop, prng.fork('network'));
let failing = false;
const WRITES = new Set(['write', 'writeFileSync', 'writeFileDurable', 'writeFile', 'open', 'datasync', 'rename', 'renameSync']);
const cluster = new SimCluster(loop, net, prng.fork('cluster'), 3, { n: 3, r: 2, w: 2 }, (host, op) => (failing && host === 'n2' && WRITES.has(op) ? 'EIO' : null));
for (const n of cluster.nodes) cluster.start(n.id);
await loop.runUntil(5000);

/** Run the simulation until the promise settles (or the deadline passes). */
async function settle<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  let done = false;
  const guarded = p.finally(() => (done = true));
  await loop.runUntil(loop.now + ms, () => done);
  return guarded;
}

const c1 = cluster.node('n1').running?.cluster;
const n2 = () => cluster.node('n2').running?.node.ctx;
t.ok(c1 && n2(), 'the three machines run');
if (!c1) throw new Error('no coordinator');
await settle(createBucket(c1, 'disks'));

t.test('EIO fails the request, not the process; three make the replica read-only', async (t) => {
  failing = true;
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await settle(putFile(c1, 'disks', `f${i}`, Buffer.from(`body ${i}`), null)));
  const failures = answers.flatMap((o) => o.failed.filter((f) => f.node === 'n2').map((f) => f.code));
  t.ok(answers.every((o) => o.written.length >= 2 && !o.written.includes('n2')), 'every write was stored by the two others');
  // (Other writes to n2 meanwhile, such as the bucket anti-entropy's, count toward the three as well.)
  t.equal(failures[0], 'DISK_ERROR', 'the first failed with DISK_ERROR');
  t.equal(failures.at(-1), 'READ_ONLY', 'after a few, n2 refused up front');
  t.same([...new Set(failures)].sort(), ['DISK_ERROR', 'READ_ONLY'], 'and never anything else');
  t.equal(n2()?.disk.state, 'read-only');
  t.ok(cluster.node('n2').running, 'n2 still runs');
  await loop.runUntil(loop.now + 3000);
  const seen = cluster.node('n1').running?.scheduler.ctx.view.disks().n2;
  t.equal(seen?.state, 'read-only', 'n1 learns it from n2\'s heartbeat');
  // Reads are still served by n2.
  const state = await settle(n2()?.store.read('$buckets', 'disks') ?? Promise.resolve(null));
  t.ok(state, 'n2 still reads its data');
});

t.test('once the disk works again, a probe lifts the read-only state', async (t) => {
  failing = false;
  await loop.runUntil(loop.now + 3000);
  t.equal(n2()?.disk.state, 'ok', 'the probe write succeeded');
  const o = await settle(putFile(c1, 'disks', 'after', Buffer.from('after'), null));
  t.ok(o.written.includes('n2'), 'and n2 takes writes again');
});
