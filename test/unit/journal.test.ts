// The node's write-ahead log on a real temporary folder: a change is in the
// store's files once acknowledged, a replay restores files a crash lost, a torn
// tail is ignored, concurrent changes share fsyncs, and checkpoints delete logs.
import t from 'tap';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { Identity } from '../../src/storage/identity.js';
import { Journal } from '../../src/storage/journal.js';
import { nsDir } from '../../src/storage/layout.js';
import { Store } from '../../src/storage/store.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ringstore-journal-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function open(dir: string, opts = {}): Promise<{ store: Store; journal: Journal }> {
  const journal = await Journal.open(dir, silentLogger(), opts);
  const store = new Store(dir, { identity: await Identity.open(dir, 'n1'), journal }, silentLogger());
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
  const fresh = new Store(dir, null, silentLogger());
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
