// The node's write-ahead log on a real temporary folder: a change is in the
// store's files once acknowledged, a replay restores files a crash lost, a torn
// tail is ignored, concurrent changes share fsyncs, and checkpoints delete logs.
import t from 'tap';
import { newStore, openWriter } from '../helpers/storage.js';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { manifestPath, nsDir } from '../../src/storage/layout.js';
import type { Store } from '../../src/storage/store.js';
import type { Journal } from '../../src/storage/journal.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ringstore-journal-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function open(dir: string, opts = {}): Promise<{ store: Store; journal: Journal }> {
  const writer = await openWriter(dir, 'n1', opts);
  const journal = writer.journal;
  const store = newStore(dir, writer, silentLogger());
  return { store, journal };
}

const body = (i: number): Buffer => Buffer.from(`body of file ${i} `.repeat(20));

t.test('a replay restores every acknowledged change whose files a crash lost', async (t) => {
  const dir = tmp(t);
  const { store } = await open(dir);
  const written = [];
  for (let i = 0; i < 40; i++) written.push(await store.update('b1', `f${i}`, {}, { deleted: false, body: body(i) }));
  // The files were written without fsync: a power loss may take them all. The journal was not closed.
  const folder = nsDir(dir, 'b1');
  for (const name of readdirSync(folder)) unlinkSync(join(folder, name));
  const fresh = newStore(dir, null, silentLogger());
  t.equal(await fresh.read('b1', 'f0'), null, 'the files are gone');
  const { store: again, journal } = await open(dir);
  for (let i = 0; i < 40; i++) {
    const state = await again.read('b1', `f${i}`);
    t.same(state, written[i]!.state, `f${i}: state restored`);
    t.same(await again.readBody('b1', `f${i}`, state!.siblings[0]!), body(i), `f${i}: body restored`);
  }
  t.same(readdirSync(join(dir, 'journal')).length, 1, 'replayed logs are deleted once the files are durable');
  await journal.close();
});

t.test('a replay applies changes in order: a later removal and an overwrite win', async (t) => {
  const dir = tmp(t);
  const { store } = await open(dir);
  const a1 = await store.update('b1', 'a', {}, { deleted: false, body: Buffer.from('one') });
  const a2 = await store.update('b1', 'a', a1.state.context, { deleted: false, body: Buffer.from('two') });
  const b = await store.update('b1', 'b', {}, { deleted: false, body: Buffer.from('bee') });
  t.ok(await store.removeIf('b1', 'b', b.state));
  const { store: again, journal } = await open(dir);
  t.same(await again.read('b1', 'a'), a2.state);
  t.equal(String(await again.readBody('b1', 'a', a2.state.siblings[0]!)), 'two');
  t.equal(await again.read('b1', 'b'), null, 'the removal is replayed after the write');
  await journal.close();
});

t.test('a torn record at the end of a log is ignored, and what came before is kept', async (t) => {
  const dir = tmp(t);
  const { store } = await open(dir);
  const x = await store.update('b1', 'x', {}, { deleted: false, body: Buffer.from('kept') });
  const log = readdirSync(join(dir, 'journal')).find((n) => n.endsWith('.log'))!;
  appendFileSync(join(dir, 'journal', log), Buffer.from([200, 0, 0, 0, 10, 0, 0, 0, 1, 2, 3]));
  unlinkSync(join(nsDir(dir, 'b1'), readdirSync(nsDir(dir, 'b1')).find((n) => n.endsWith('.json'))!));
  const { store: again, journal } = await open(dir);
  t.same(await again.read('b1', 'x'), x.state);
  await journal.close();
});

t.test('concurrent changes share fsyncs (group commit)', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir);
  await Promise.all(Array.from({ length: 200 }, (_, i) => store.update('b1', `k${i}`, {}, { deleted: false, body: body(i) })));
  t.equal(journal.stats.changes, 200);
  t.ok(journal.stats.syncs < 100, `200 changes took ${journal.stats.syncs} fsyncs`);
  await journal.close();
});

t.test('a full log is checkpointed: deleted once a syncfs covers its files, and a restart still sees everything', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir, { checkpointBytes: 4096 });
  const written = [];
  for (let i = 0; i < 60; i++) written.push(await store.update('b1', `f${i}`, {}, { deleted: false, body: body(i) }));
  await journal.close();
  t.ok(journal.stats.checkpoints >= 3, `${journal.stats.checkpoints} checkpoints`);
  t.ok(readdirSync(join(dir, 'journal')).length <= 2, 'checkpointed logs are gone');
  const { store: again, journal: j2 } = await open(dir);
  for (let i = 0; i < 60; i++) t.same(await again.read('b1', `f${i}`), written[i]!.state);
  await j2.close();
});

t.test('large bodies are written in place, not through the journal, and survive a replay', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir);
  const big = Buffer.alloc(300 * 1024, 7);
  const w = await store.update('b1', 'big', {}, { deleted: false, body: big });
  const log = readdirSync(join(dir, 'journal')).find((n) => n.endsWith('.log'))!;
  const { size } = statSync(join(dir, 'journal', log));
  t.ok(size < 10 * 1024, `the journal holds the state only (${size} bytes)`);
  await journal.close();
  const { store: again, journal: j2 } = await open(dir);
  t.same(await again.readBody('b1', 'big', w.state.siblings[0]!), big);
  await j2.close();
});

t.test('a clean close checkpoints the log: a restart has nothing to replay', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir);
  const w = await store.update('b1', 'k', {}, { deleted: false, body: body(1) });
  await journal.close();
  t.same(readdirSync(join(dir, 'journal')), [], 'no log left');
  const { store: again, journal: j2 } = await open(dir);
  t.same(await again.read('b1', 'k'), w.state);
  await j2.close();
});

t.test('an idle log is checkpointed on a timer', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir, { checkpointMs: 50 });
  await store.update('b1', 'k', {}, { deleted: false, body: body(1) });
  const deadline = Date.now() + 10_000;
  while (journal.stats.checkpoints === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(journal.stats.checkpoints >= 1, 'checkpointed without reaching checkpointBytes');
  await store.update('b1', 'k2', {}, { deleted: false, body: body(2) });
  t.ok(await store.read('b1', 'k2'), 'and appends go on in the new log');
  await journal.close();
});

t.test('appends chained one after another never wait for a later one to be flushed', { timeout: 20_000 }, async (t) => {
  const dir = tmp(t);
  const { journal } = await open(dir);
  for (let i = 0; i < 300; i++) {
    await journal.append({ root: dir, ns: 'b1', key: `k${i}`, state: null, inline: new Map(), blobs: new Map(), atomic: false });
  }
  t.equal(journal.stats.changes, 300);
  await journal.close();
});

t.test('a replay repairs a manifest torn by a crash mid-write, and leaves intact files alone', async (t) => {
  const dir = tmp(t);
  const { store } = await open(dir);
  const a = await store.update('b1', 'a', {}, { deleted: false, body: body(1) });
  const b = await store.update('b1', 'b', {}, { deleted: false, body: body(2) });
  const folder = nsDir(dir, 'b1');
  const [first, second] = readdirSync(folder).filter((n) => n.endsWith('.json')).map((n) => join(folder, n));
  truncateSync(first!, 10);
  const before = statSync(second!).mtimeMs;
  const { store: again, journal } = await open(dir);
  t.same(await again.read('b1', 'a'), a.state);
  t.same(await again.read('b1', 'b'), b.state);
  t.equal(statSync(second!).mtimeMs, before, 'the intact manifest was not rewritten');
  await journal.close();
});

// Found by review, each reproduced before the fix. Two of them fill the "disk" with a file size
// limit (prlimit): a write past it fails with EFBIG, and SIGXFSZ must not end this process.
process.on('SIGXFSZ', () => undefined);

t.test('regression: a failed checkpoint never lets an older log outlive a later one (no rollback at the next start)', async (t) => {
  const dir = tmp(t);
  // A `sync` that fails once, as syncfs(2) does after a writeback error, then does the real thing.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'sync'), `#!/bin/sh\nif [ ! -e ${bin}/failed ]; then touch ${bin}/failed; exit 1; fi\nexec /usr/bin/env -u PATH /bin/sync "$@"\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.teardown(() => void (process.env.PATH = path));
  const { store, journal } = await open(dir, { checkpointBytes: 1 }); // every batch starts a new log
  const v1 = await store.update('b1', 'k', {}, { deleted: false, body: Buffer.from('version one') });
  const v2 = await store.update('b1', 'k', v1.state.context, { deleted: false, body: Buffer.from('version two') });
  await journal.close();
  t.ok(existsSync(join(bin, 'failed')), 'a checkpoint failed');
  const { store: again, journal: j2 } = await open(dir);
  const state = await again.read('b1', 'k');
  t.same(state, v2.state, 'the acknowledged version, not the one before it');
  t.equal(String(await again.readBody('b1', 'k', state!.siblings[0]!)), 'version two');
  await j2.close();
});

t.test('regression: a write that fails on a full disk keeps the previous version readable, now and after a restart', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir, { checkpointBytes: 1 });
  const v1 = await store.update('b1', 'k', {}, { deleted: false, body: Buffer.alloc(3000, 'a') });
  // The disk "fills up": files of this process may not grow past 8 KiB (EFBIG stands in for ENOSPC).
  execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=8192:unlimited']);
  let failed: unknown;
  try {
    await store.update('b1', 'k', {}, { deleted: false, body: Buffer.alloc(3000, 'b') });
  } catch (err) {
    failed = err;
  } finally {
    execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=unlimited:unlimited']);
  }
  t.ok(failed, 'the write was refused');
  t.same(await store.read('b1', 'k'), v1.state, 'the previous version, in this process');
  await journal.close();
  const { store: again, journal: j2 } = await open(dir);
  t.same(await again.read('b1', 'k'), v1.state, 'and after a restart');
  t.same(await again.readBody('b1', 'k', v1.state.siblings[0]!), Buffer.alloc(3000, 'a'));
  await j2.close();
});

t.test('regression: after a failed journal write nothing more is appended behind the torn record', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir);
  await store.update('b1', 'a', {}, { deleted: false, body: Buffer.from('aaa') });
  // The next log's name is taken by a folder: the log cannot be replaced after the failure.
  mkdirSync(join(dir, 'journal', '000000000002.log'));
  execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=8192:unlimited']);
  try {
    await t.rejects(store.update('b1', 'big', {}, { deleted: false, body: Buffer.alloc(20000, 'x') }), 'a write cut short is refused');
  } finally {
    execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=unlimited:unlimited']);
  }
  await t.rejects(store.update('b1', 'c', {}, { deleted: false, body: Buffer.from('ccc') }), 'and so is the next one, with no log to take it');
  rmdirSync(join(dir, 'journal', '000000000002.log'));
  const c = await store.update('b1', 'c', {}, { deleted: false, body: Buffer.from('ccc') });
  // A power loss: c's files, written without fsync, are gone; the journal was fsynced.
  unlinkSync(manifestPath(dir, 'b1', 'c'));
  const { store: again, journal: j2 } = await open(dir);
  t.same(await again.read('b1', 'c'), c.state, 'the write acknowledged after the failure is replayed');
  await j2.close();
  await journal.close();
});

t.test('regression: a small body received in a large frame is cached as a copy, not as a view of the frame', async (t) => {
  const dir = tmp(t);
  const { store, journal } = await open(dir);
  const one = await open(tmp(t));
  const w = await one.store.update('b1', 'k', {}, { deleted: false, body: Buffer.from('small') });
  const frame = Buffer.alloc(1 << 20);
  const body = frame.subarray(100, 105);
  body.write('small');
  await store.sync('b1', 'k', w.state, new Map([[`${w.dot[0]}.${w.dot[1]}`, body]]));
  const kept = await store.readBody('b1', 'k', w.state.siblings[0]!);
  t.equal(String(kept), 'small');
  t.ok(kept.buffer.byteLength < 1 << 20, 'the cached body does not keep the 1 MiB frame alive');
  await one.journal.close();
  await journal.close();
});

t.test('a replay on a full disk keeps the logs it could not apply, and the next start with room applies them', async (t) => {
  // A real full disk: a 1 MiB tmpfs (root, as in CI).
  const dir = tmp(t);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ringstore-journal-test', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  const { store } = await open(dir);
  const written = [];
  for (let i = 0; i < 10; i++) written.push(await store.update('b1', `f${i}`, {}, { deleted: false, body: body(i) }));
  // A power loss takes the files (written without fsync); the journal was fsynced. Then the disk fills up.
  const folder = nsDir(dir, 'b1');
  for (const name of readdirSync(folder)) unlinkSync(join(folder, name));
  const filler = join(dir, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(2 << 20));
  } catch {
    // ENOSPC: as full as it gets
  }
  const full = await open(dir);
  t.equal(await full.store.read('b1', 'f0'), null, 'nothing could be replayed');
  await full.journal.close();
  t.ok(readdirSync(join(dir, 'journal')).some((n) => n.endsWith('.log') && statSync(join(dir, 'journal', n)).size > 0), 'the logs are kept, closed and all');
  rmSync(filler);
  const { store: again, journal } = await open(dir);
  for (let i = 0; i < 10; i++) t.same(await again.read('b1', `f${i}`), written[i]?.state, `f${i} replayed once there was room`);
  await journal.close();
});
