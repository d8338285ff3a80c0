// The simulated disk: node:fs-like behaviour and errors, async operations in
// issue order on a simulated clock, and crashes that drop, keep or tear exactly
// what was not durable, never anything else, and the same way for the same seed.
import t from 'tap';
import { SimDisk, type SimDiskOptions } from '../../src/sim/disk.js';
import type { Disk } from '../../src/runtime/disk.js';
import { seeded as mulberry32 } from '../helpers/random.js';

/** A tiny event queue on simulated time: [time, seq, fn], run in order. */
class Scheduler {
  now = 0;
  private seq = 0;
  private queue: [number, number, () => void][] = [];

  schedule = (ms: number, fn: () => void): void => {
    this.queue.push([this.now + ms, this.seq++, fn]);
  };

  /** Run events until none is left, letting promise continuations run after each. */
  async run(): Promise<void> {
    await settle();
    while (this.queue.length > 0) {
      this.queue.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const [time, , fn] = this.queue.shift() as [number, number, () => void];
      this.now = time;
      fn();
      await settle();
    }
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Env {
  disk: SimDisk;
  sched: Scheduler;
  random: () => number;
}

function env(seed: number, opts: Partial<SimDiskOptions> = {}): Env {
  const sched = new Scheduler();
  const random = mulberry32(seed);
  return { disk: new SimDisk({ random, schedule: sched.schedule, ...opts }), sched, random };
}

/** Run the scheduler until `p` settles (it must). */
async function drive<T>(e: Env, p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => {});
  await e.sched.run();
  if (!done) throw new Error('the operation never settled');
  return watched;
}

/** True if `p` is still pending after the scheduler ran dry. */
async function neverSettles(e: Env, p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await e.sched.run();
  return !settled;
}

const text = (files: Map<string, Buffer>): Record<string, string> =>
  Object.fromEntries([...files].map(([path, b]) => [path, b.toString()]));

const SEEDS = Array.from({ length: 300 }, (_, i) => i + 1);

t.test('files: write, read, readdir, rename, unlink, mkdir, rmdir, stat', async (t) => {
  const e = env(1);
  const d = e.disk.mount();
  t.equal(d.mkdirSync('/data/n1'), '/data', 'mkdir -p returns the first folder it created');
  t.equal(d.mkdirSync('/data/n1'), undefined, 'and undefined when it existed');
  t.equal(await drive(e, d.mkdir('/data/n1/j')), '/data/n1/j');
  d.writeFileSync('/data/n1/b', 'bee');
  await drive(e, d.writeFile('/data/n1/a', Buffer.from('ay')));
  t.same(await drive(e, d.readdir('/data/n1')), ['a', 'b', 'j'], 'sorted');
  t.equal(d.readFileSync('/data/n1/a').toString(), 'ay');
  t.same(await drive(e, d.stat('/data/n1/b')), { size: 3, isDirectory: false });
  t.same(d.statSync('/data/n1/j'), { size: 0, isDirectory: true });
  t.equal(d.statSync('/data/n1/zz'), null);
  t.equal(d.statSync('/data/n1/a/zz'), null, 'null under a file too');
  await drive(e, d.rename('/data/n1/a', '/data/n1/b'));
  t.equal(d.readFileSync('/data/n1/b').toString(), 'ay', 'rename replaces the target');
  d.renameSync('/data/n1/b', '/data/n1/j/c');
  t.same(await drive(e, d.readdir('/data/n1')), ['j']);
  await drive(e, d.unlink('/data/n1/j/c'));
  d.writeFileSync('/data/n1/j/x', 'x');
  d.unlinkSync('/data/n1/j/x');
  await drive(e, d.rmdir('/data/n1/j'));
  t.same(await drive(e, d.readdir('/data/n1')), []);
  t.same(await drive(e, d.readdir('/')), ['data'], 'the root exists');
});

t.test('readdir sorts by bytes, not UTF-16 units', async (t) => {
  const e = env(1);
  const d = e.disk.mount();
  for (const name of ['b', '\u{1F600}', '\uFF5E', 'a', 'B']) d.writeFileSync(`/${name}`, name);
  t.same(await drive(e, d.readdir('/')), ['B', 'a', 'b', '\uFF5E', '\u{1F600}']);
});

t.test('error codes', async (t) => {
  const e = env(1);
  const d = e.disk.mount();
  d.mkdirSync('/dir/sub');
  d.writeFileSync('/dir/file', 'f');
  const rejects = async (p: Promise<unknown>, code: string, what = code): Promise<void> => {
    await t.rejects(drive(e, p), { code }, what);
  };
  await rejects(d.readFile('/nope'), 'ENOENT', 'readFile of a missing file');
  t.throws(() => d.readFileSync('/nope/x'), { code: 'ENOENT' }, 'missing parent');
  await rejects(d.readFile('/dir'), 'EISDIR', 'readFile of a folder');
  await rejects(d.open('/dir', 'append'), 'EISDIR', 'open of a folder');
  await rejects(d.open('/nope/x', 'write'), 'ENOENT', 'open in a missing folder');
  await rejects(d.readFile('/dir/file/x'), 'ENOTDIR', 'a path component is a file');
  t.throws(() => d.writeFileSync('/dir/file/x', 'y'), { code: 'ENOTDIR' });
  await rejects(d.rmdir('/dir'), 'ENOTEMPTY', 'rmdir of a non-empty folder');
  await rejects(d.rmdir('/dir/file'), 'ENOTDIR', 'rmdir of a file');
  await rejects(d.rmdir('/dir/none'), 'ENOENT', 'rmdir of nothing');
  t.throws(() => d.mkdirSync('/dir/file'), { code: 'EEXIST' }, 'mkdir -p onto a file');
  await rejects(d.mkdir('/dir/file/deeper'), 'ENOTDIR', 'mkdir -p through a file');
  t.equal(d.mkdirSync('/dir/sub'), undefined, 'mkdir -p of an existing folder');
  await rejects(d.rename('/dir/none', '/dir/other'), 'ENOENT', 'rename of a missing source');
  await rejects(d.rename('/dir/file', '/nope/file'), 'ENOENT', 'rename into a missing folder');
  t.throws(() => d.renameSync('/dir/file', '/dir/sub'), { code: 'EISDIR' }, 'rename of a file onto a folder');
  t.throws(() => d.renameSync('/dir', '/dir/sub/inside'), { code: 'EINVAL' }, 'a folder into itself');
  await rejects(d.unlink('/dir/sub'), 'EISDIR', 'unlink of a folder');
  t.throws(() => d.unlinkSync('/dir/none'), { code: 'ENOENT' });
  await rejects(d.stat('/dir/none'), 'ENOENT');
  await rejects(d.readdir('/dir/file'), 'ENOTDIR', 'readdir of a file');
  await rejects(d.fsyncDir('/dir/file'), 'ENOTDIR', 'fsyncDir of a file');
  t.throws(() => d.fsyncDirSync('/dir/none'), { code: 'ENOENT' });
  t.throws(() => d.readFileSync('relative'), { code: 'EINVAL' }, 'relative paths are refused');
  const h = await drive(e, d.open('/dir/h', 'append'));
  await drive(e, h.close());
  await rejects(h.write([Buffer.from('x')]), 'EBADF', 'write after close');
  await rejects(h.datasync(), 'EBADF', 'datasync after close');
  await rejects(h.truncate(0), 'EBADF', 'truncate after close');
  t.same(d.readFileSync('/dir/h'), Buffer.alloc(0));
  t.same(Object.keys(text(e.disk.files())), ['/dir/file', '/dir/h'], 'no error left a trace');
});

t.test('handles: append, write from the start, truncate', async (t) => {
  const e = env(1);
  const d = e.disk.mount();
  d.writeFileSync('/f', 'old content');
  const a = await drive(e, d.open('/f', 'append'));
  await drive(e, a.write([Buffer.from('+1'), Buffer.from('+2')]));
  t.equal(d.readFileSync('/f').toString(), 'old content+1+2');
  await drive(e, a.truncate(3));
  await drive(e, a.write([Buffer.from('!')]));
  t.equal(d.readFileSync('/f').toString(), 'old!', 'append goes at the end after a truncate');
  const w = await drive(e, d.open('/f', 'write'));
  t.equal(d.readFileSync('/f').length, 0, "'write' truncates at open");
  await drive(e, w.write([Buffer.from('ab')]));
  await drive(e, w.write([Buffer.from('cd')]));
  t.equal(d.readFileSync('/f').toString(), 'abcd', 'writes follow one another');
  await drive(e, w.truncate(6));
  t.same(d.readFileSync('/f'), Buffer.from('abcd\0\0'), 'truncate up fills zeros');
});

t.test('buffers are copied both ways', async (t) => {
  const e = env(1);
  const d = e.disk.mount();
  const data = Buffer.from('abc');
  const p = d.writeFile('/f', data);
  data[0] = 0x7a; // before the write completes: the disk took a copy at the call
  await drive(e, p);
  const h = await drive(e, d.open('/g', 'append'));
  const chunk = Buffer.from('xyz');
  const w = h.write([chunk]);
  chunk.fill(0);
  await drive(e, w);
  d.readFileSync('/f')[1] = 0x7a;
  (await drive(e, d.readFile('/g')))[0] = 0;
  e.disk.files().get('/f')?.fill(0);
  t.same(text(e.disk.files()), { '/f': 'abc', '/g': 'xyz' });
});

t.test('async operations complete in issue order, at completion', async (t) => {
  // Latencies vary a lot, so a later call often has a shorter one.
  const e = env(7, { latency: () => e.random() * 10, syncLatency: () => e.random() * 10 });
  const d = e.disk.mount();
  const done: number[] = [];
  const ops: Promise<unknown>[] = [];
  const track = (i: number, p: Promise<unknown>): void => {
    ops.push(p.then(() => done.push(i)));
  };
  track(0, d.mkdir('/a'));
  track(1, d.writeFile('/a/x', 'one'));
  track(2, d.fsyncDir('/a'));
  track(3, d.rename('/a/x', '/a/y'));
  const read = d.readFile('/a/y');
  track(4, read);
  for (let i = 5; i < 40; i++) track(i, d.writeFile(`/a/f${i}`, String(i)));
  t.equal(d.statSync('/a'), null, 'nothing happens before completion');
  await drive(e, Promise.all(ops));
  t.equal((await read).toString(), 'one', 'the read saw the rename issued before it');
  t.same(done, Array.from({ length: 40 }, (_, i) => i));
});

t.test('an fsynced file whose folder was not fsynced may vanish; with fsyncDir it survives', async (t) => {
  let vanished = 0;
  for (const seed of SEEDS) {
    for (const syncDir of [false, true]) {
      const e = env(seed);
      const d = e.disk.mount();
      d.mkdirSync('/d');
      d.fsyncDirSync('/');
      await drive(e, d.writeFileDurable('/d/f', 'data'));
      if (syncDir) await drive(e, d.fsyncDir('/d'));
      const durable = JSON.stringify(text(e.disk.durableFiles()));
      if (durable !== JSON.stringify(syncDir ? { '/d/f': 'data' } : {})) t.fail(`seed ${seed}: durable view ${durable}`);
      e.disk.crash();
      const files = text(e.disk.files());
      if (syncDir) {
        if (files['/d/f'] !== 'data') t.fail(`seed ${seed}: the synced file was lost`);
      } else if (files['/d/f'] === undefined) vanished++;
      else if (files['/d/f'] !== 'data') t.fail(`seed ${seed}: torn content of a synced file`);
    }
  }
  t.ok(vanished > 0 && vanished < SEEDS.length, `vanished in ${vanished} of ${SEEDS.length} crashes`);
});

t.test("a new folder's name is durable only once its parent is fsynced", async (t) => {
  let vanished = 0;
  for (const seed of SEEDS.slice(0, 100)) {
    const e = env(seed);
    const d = e.disk.mount();
    d.mkdirSync('/n');
    await drive(e, d.writeFileDurable('/n/f', 'data'));
    await drive(e, d.fsyncDir('/n'));
    if (e.disk.durableFiles().size !== 0) t.fail('the folder itself is not durable yet');
    d.fsyncDirSync('/');
    if (e.disk.durableFiles().get('/n/f')?.toString() !== 'data') t.fail('now it is');
    const e2 = env(seed);
    const d2 = e2.disk.mount();
    d2.mkdirSync('/n');
    await drive(e2, d2.writeFileDurable('/n/f', 'data'));
    await drive(e2, d2.fsyncDir('/n'));
    e2.disk.crash();
    if (e2.disk.files().size === 0) vanished++;
    else if (e2.disk.files().get('/n/f')?.toString() !== 'data') t.fail(`seed ${seed}: torn`);
  }
  t.ok(vanished > 0 && vanished < 100, `without the parent's fsync the folder vanished in ${vanished} of 100 crashes`);
});

t.test('an unsynced append is lost, kept or torn to a prefix, never anything else', async (t) => {
  const seen = { lost: 0, kept: 0, torn: 0 };
  for (const seed of SEEDS) {
    const e = env(seed);
    const d = e.disk.mount();
    const h = await drive(e, d.open('/log', 'append'));
    await drive(e, d.fsyncDir('/'));
    await drive(e, h.write([Buffer.from('synced|')]));
    await drive(e, h.datasync());
    await drive(e, h.write([Buffer.from('appended, not synced')]));
    e.disk.crash();
    const got = e.disk.files().get('/log')?.toString();
    const full = 'synced|appended, not synced';
    if (got === undefined || !got.startsWith('synced|') || !full.startsWith(got)) {
      t.fail(`seed ${seed}: ${JSON.stringify(got)}`);
      continue;
    }
    seen[got === 'synced|' ? 'lost' : got === full ? 'kept' : 'torn']++;
    if (e.disk.durableFiles().get('/log')?.toString() !== got) t.fail(`seed ${seed}: what survived is not durable`);
  }
  t.ok(seen.lost > 0 && seen.kept > 0 && seen.torn > 0, JSON.stringify(seen));
});

t.test('an unsynced rewrite may come back empty, cut, old or new', async (t) => {
  const seen = new Set<string>();
  for (const seed of SEEDS) {
    const e = env(seed);
    const d = e.disk.mount();
    await drive(e, d.writeFileDurable('/f', 'old'));
    d.fsyncDirSync('/');
    d.writeFileSync('/f', 'brand new');
    e.disk.crash();
    const got = e.disk.files().get('/f')?.toString() ?? 'missing';
    if (got !== 'old' && !'brand new'.startsWith(got)) t.fail(`seed ${seed}: ${got}`);
    seen.add(got === 'old' ? 'old' : got === '' ? 'empty' : got === 'brand new' ? 'new' : 'cut');
  }
  t.same([...seen].sort(), ['cut', 'empty', 'new', 'old']);
});

t.test('write temp, fsync, rename, fsyncDir: old or new, never torn; new once fsyncDir returned', async (t) => {
  let olds = 0;
  let news = 0;
  let commits = 0;
  for (const seed of SEEDS) {
    const e = env(seed, { latency: () => e.random(), syncLatency: () => 1 + e.random() * 4 });
    const d = e.disk.mount();
    d.mkdirSync('/m');
    d.fsyncDirSync('/');
    await drive(e, d.writeFileDurable('/m/manifest', 'old manifest'));
    await drive(e, d.fsyncDir('/m'));
    let committed = false;
    void (async () => {
      await d.writeFileDurable('/m/manifest.tmp', 'new manifest');
      await d.rename('/m/manifest.tmp', '/m/manifest');
      await d.fsyncDir('/m');
      committed = true;
    })();
    e.sched.schedule(e.random() * 14, () => e.disk.crash());
    await e.sched.run();
    const got = e.disk.files().get('/m/manifest')?.toString();
    if (committed) commits++;
    if (committed && got !== 'new manifest') t.fail(`seed ${seed}: committed but ${got}`);
    if (got === 'old manifest') olds++;
    else if (got === 'new manifest') news++;
    else t.fail(`seed ${seed}: ${got}`);
  }
  t.ok(olds > 0 && news > 0 && commits > 0, `old ${olds}, new ${news}, committed before the crash ${commits}`);
});

t.test('a reverted rename brings the old file back', async (t) => {
  let reverted = 0;
  for (const seed of SEEDS.slice(0, 50)) {
    const e = env(seed);
    const d = e.disk.mount();
    await drive(e, d.writeFileDurable('/a', 'A'));
    await drive(e, d.writeFileDurable('/b', 'B'));
    d.fsyncDirSync('/');
    d.renameSync('/b', '/a');
    e.disk.crash();
    const files = text(e.disk.files());
    if (files['/a'] === 'A') {
      reverted++;
      t.same(files, { '/a': 'A', '/b': 'B' });
    } else t.same(files, { '/a': 'B' });
  }
  t.ok(reverted > 0 && reverted < 50, `reverted ${reverted} of 50`);
});

t.test('after crash() an old mount is dead; a new one works', async (t) => {
  const e = env(3);
  const old = e.disk.mount();
  await drive(e, old.writeFileDurable('/f', 'x'));
  old.fsyncDirSync('/');
  const h = await drive(e, old.open('/f', 'append'));
  const inFlight = old.writeFile('/g', 'lost');
  e.disk.crash();
  t.ok(await neverSettles(e, inFlight), 'a call issued before the crash never settles');
  t.ok(await neverSettles(e, old.readFile('/f')), 'nor one issued after');
  t.ok(await neverSettles(e, h.write([Buffer.from('y')])), 'nor a write on an old handle');
  t.throws(() => old.readFileSync('/f'), { code: 'EDEAD' });
  t.throws(() => old.writeFileSync('/h', 'x'), { code: 'EDEAD' });
  const d = e.disk.mount();
  t.equal((await drive(e, d.readFile('/f'))).toString(), 'x');
  t.same(await drive(e, d.readdir('/')), ['f'], 'the write in flight had no effect');
});

t.test('wipe() empties everything', async (t) => {
  const e = env(3);
  const old = e.disk.mount();
  old.mkdirSync('/a/b');
  await drive(e, old.writeFileDurable('/a/b/f', 'x'));
  await drive(e, old.syncfs('/'));
  e.disk.wipe();
  t.same(e.disk.files().size, 0);
  t.same(e.disk.durableFiles().size, 0);
  t.throws(() => old.statSync('/a'), { code: 'EDEAD' });
  const d = e.disk.mount();
  t.same(await drive(e, d.readdir('/')), []);
});

t.test('syncfs makes everything durable', async (t) => {
  for (const seed of SEEDS.slice(0, 100)) {
    const e = env(seed);
    const d = e.disk.mount();
    d.mkdirSync('/x/y');
    d.writeFileSync('/x/y/a', 'aaa');
    const h = await drive(e, d.open('/x/b', 'append'));
    await drive(e, h.write([Buffer.from('bbb')]));
    d.writeFileSync('/c', 'c');
    d.renameSync('/c', '/x/c');
    await drive(e, d.syncfs('/x'));
    const before = text(e.disk.files());
    t.same(text(e.disk.durableFiles()), before);
    e.disk.crash();
    if (JSON.stringify(text(e.disk.files())) !== JSON.stringify(before)) t.fail(`seed ${seed}`);
  }
});

/** A random workload with a crash at a random instant: what is left. */
async function workload(seed: number): Promise<string> {
  const e = env(seed, { latency: () => e.random(), syncLatency: () => e.random() * 3 });
  const d: Disk = e.disk.mount();
  const names = ['/a', '/a/1', '/a/2', '/b/3', '/4'];
  d.mkdirSync('/a');
  d.mkdirSync('/b');
  const pick = (): string => names[Math.floor(e.random() * names.length)] as string;
  const ignore = (p: Promise<unknown>): void => void p.catch(() => {});
  for (let i = 0; i < 60; i++) {
    const r = e.random();
    if (r < 0.3) ignore(d.writeFile(pick(), `w${i}`));
    else if (r < 0.4) ignore(d.writeFileDurable(pick(), `d${i}`));
    else if (r < 0.5) ignore(d.rename(pick(), pick()));
    else if (r < 0.6) ignore(d.unlink(pick()));
    else if (r < 0.75) ignore(d.fsyncDir(e.random() < 0.5 ? '/a' : '/'));
    else ignore(d.open(pick(), 'append').then((h) => h.write([Buffer.from(`+${i}`)]).then(() => h.datasync())));
  }
  e.sched.schedule(e.random() * 30, () => e.disk.crash());
  await e.sched.run();
  return JSON.stringify([text(e.disk.files()), text(e.disk.durableFiles())]);
}

t.test('the same seed gives the same files after a crash', async (t) => {
  const outcomes = new Set<string>();
  for (const seed of SEEDS.slice(0, 40)) {
    const first = await workload(seed);
    if ((await workload(seed)) !== first) t.fail(`seed ${seed} ran differently`);
    outcomes.add(first);
  }
  t.ok(outcomes.size > 30, 'and different seeds differ');
});

t.test('inject fails an operation without effect', async (t) => {
  let full = false;
  const e = env(1, { inject: (op, path) => (full && (op === 'write' || op === 'writeFileSync') ? 'ENOSPC' : path === '/bad' ? 'EIO' : null) });
  const d = e.disk.mount();
  const h = await drive(e, d.open('/log', 'append'));
  await drive(e, h.write([Buffer.from('one')]));
  full = true;
  await t.rejects(drive(e, h.write([Buffer.from('two')])), { code: 'ENOSPC' });
  t.throws(() => d.writeFileSync('/other', 'x'), { code: 'ENOSPC' });
  await t.rejects(drive(e, d.readFile('/bad')), { code: 'EIO' });
  full = false;
  await drive(e, h.write([Buffer.from('three')]));
  t.same(text(e.disk.files()), { '/log': 'onethree' });
});
