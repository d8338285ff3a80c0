// Micro-benchmarks of the hot pure parts: frame codec, frame MAC, message
// validation, ring lookup, version-vector compare and DVV sync; then the
// storage layer's costs (file creation against journal appends, Store.update).
//   npx tsx bench/micro.ts [--quick]
import { FrameDecoder, encodeFrame } from '../src/protocol/codec.js';
import { newStore, openWriter } from '../test/helpers/storage.js';
import { FrameSealer } from '../src/net/auth.js';
import { validateMessage } from '../src/protocol/messages.js';
import { Ring } from '../src/ring/ring.js';
import { objectKey } from '../src/ring/hash.js';
import { compare, sync, update, type DvvState, type Dot } from '../src/clock/dvv.js';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/log.js';


const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(ROOT_DIR, 'data'), { recursive: true });

const quick = process.argv.includes('--quick');
const scale = quick ? 0.02 : 1;

function bench(name: string, iterations: number, fn: (i: number) => void): void {
  const n = Math.max(10, Math.floor(iterations * scale));
  for (let i = 0; i < Math.min(n, 1000); i++) fn(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const per = ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
  console.log(`${name.padEnd(46)} ${per.padStart(10)}   ${(1e9 / ns).toFixed(0).padStart(10)} ops/s`);
}

const small = { v: 1, id: '6f1c2a0e-8f3b-4f4b-9a51-0d2f6f3d1a11', sender: 'node1', type: 'read', ns: 'bucket', key: 'file.txt', bodies: 'all' };
const body1k = Buffer.alloc(1024, 7);
const body1m = Buffer.alloc(1024 * 1024, 7);
const wire1k = Buffer.concat(encodeFrame(small, [body1k]));
const wire1m = Buffer.concat(encodeFrame(small, [body1m]));

bench('encodeFrame (JSON message + 1 KiB body)', 200_000, () => encodeFrame(small, [body1k]));
bench('decode one frame (1 KiB body), whole chunk', 200_000, () => new FrameDecoder(1 << 26).push(wire1k));
bench('decode one frame (1 MiB body), 64 KiB chunks', 2_000, () => {
  const d = new FrameDecoder(1 << 26);
  for (let off = 0; off < wire1m.length; off += 65536) d.push(wire1m.subarray(off, off + 65536));
});
const sealer = new FrameSealer(Buffer.from('a-cluster-secret-for-benchmarks'), '00'.repeat(16), '11'.repeat(16), 'toServer');
const chunks1k = encodeFrame(small, [body1k], 16);
const chunks1m = encodeFrame(small, [body1m], 16);
bench('seal a frame (GMAC), 1 KiB body', 200_000, () => sealer.seal(chunks1k));
bench('seal a frame (GMAC), 1 MiB body', 2_000, () => sealer.seal(chunks1m));
bench('validate a read message (zod)', 200_000, () => validateMessage(small));
const syncMsg = {
  v: 1, id: 'x', sender: 'node1', type: 'sync', ns: 'bucket', key: 'file.txt', bodies: [{ dot: 'node1.ab12cd34.7', size: 1024 }],
  state: { context: { 'node1.ab12cd34': 7, 'node2.99aa88bb': 3 }, siblings: [{ dot: ['node1.ab12cd34', 7], size: 1024, etag: 'd41d8cd98f00b204e9800998ecf8427e', ts: 1, clock: { 'node1.ab12cd34': 7 } }] },
};
bench('validate a sync message (zod)', 100_000, () => validateMessage(syncMsg));
bench('JSON.stringify + parse of that sync message', 100_000, () => JSON.parse(JSON.stringify(syncMsg)));

const ring = new Ring({ version: 1, nodes: ['node1', 'node2', 'node3', 'node4'] }, 256);
const keys = Array.from({ length: 1024 }, (_, i) => objectKey('bucket', `file-${i}.txt`));
bench('ring: preference list of a key (MD5 + lookup)', 500_000, (i) => ring.preferenceList(keys[i & 1023] as string, 3));

interface Sib {
  dot: Dot;
}
const a: DvvState<Sib> = { context: { 'n1.a': 5, 'n2.b': 3, 'n3.c': 9 }, siblings: [{ dot: ['n1.a', 5] }, { dot: ['n2.b', 3] }] };
const b: DvvState<Sib> = { context: { 'n1.a': 4, 'n2.b': 3, 'n3.c': 10 }, siblings: [{ dot: ['n2.b', 3] }, { dot: ['n3.c', 10] }] };
bench('version vector compare (3 actors)', 1_000_000, () => compare(a.context, b.context));
bench('DVV sync of two states (2 siblings each)', 500_000, () => sync(a, b));
bench('DVV update (mint one sibling)', 500_000, () => update(a, a.context, { dot: ['n1.a', 6] }));

// The storage layer, on a temporary folder under data/ (the disk the store uses).
// Not pure, so its figures move with the disk and whatever else runs; they show
// why the journal exists: creating a small file costs far more than appending.
{
  const root = mkdtempSync(join(ROOT_DIR, 'data', '.micro-'));
  try {
    const n = Math.max(20, Math.floor(2000 * scale));
    let t0 = performance.now();
    for (let i = 0; i < n; i++) writeFileSync(join(root, `new-${i}`), body1k);
    report('create and write a 1 KiB file (no fsync)', n, t0);
    const fd = openSync(join(root, 'append.log'), 'a');
    t0 = performance.now();
    for (let i = 0; i < n; i++) writeSync(fd, body1k);
    report('append 1 KiB to one open file (no fsync)', n, t0);
    t0 = performance.now();
    for (let i = 0; i < Math.min(n, 200); i++) {
      writeSync(fd, body1k);
      fdatasyncSync(fd);
    }
    report('append 1 KiB + fdatasync', Math.min(n, 200), t0);
    closeSync(fd);
    const nodeWriter = await openWriter(join(root, 'node'));
    const journal = nodeWriter.journal;
    const store = newStore(join(root, 'node'), nodeWriter, silentLogger());
    t0 = performance.now();
    for (let i = 0; i < n; i++) await store.update('b1', `one-${i}`, {}, { deleted: false, body: body1k });
    report('Store.update 1 KiB, one at a time', n, t0);
    t0 = performance.now();
    for (let i = 0; i < n; i += 16) {
      await Promise.all(Array.from({ length: 16 }, (_, j) => store.update('b1', `many-${i + j}`, {}, { deleted: false, body: body1k })));
    }
    report('Store.update 1 KiB, 16 at a time (per update)', n, t0);
    console.log(`  journal: ${journal.stats.changes} changes made durable by ${journal.stats.syncs} fdatasyncs`);
    await journal.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function report(name: string, n: number, t0: number): void {
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${name.padEnd(46)} ${`${us.toFixed(1)} µs`.padStart(10)}   ${(1e6 / us).toFixed(0).padStart(10)} ops/s`);
}
