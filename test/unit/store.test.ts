// The storage layer on a real temporary folder: durable versions, name encoding,
// the start-up sweep of what a crash leaves, and dots never reused after restart.
import t from 'tap';
import { newStore, openWriter, type TestWriter } from '../helpers/storage.js';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../src/storage/store.js';
import { silentLogger } from '../../src/log.js';
import { covers, dotId } from '../../src/clock/dvv.js';

/** A node's identity and journal on dir, as the socket server opens them (the journal is replayed). */
function writer(dir: string, node = 'n1'): Promise<TestWriter> {
  return openWriter(dir, node);
}

async function open(dir: string, node = 'n1'): Promise<Store> {
  return newStore(dir, await writer(dir, node), silentLogger(), { siblingWarn: 25, siblingMax: 100 });
}

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ringstore-store-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('update stores a version with its dot, and read returns it', async (t) => {
  const s = await open(tmp(t));
  const { state, dot } = await s.update('bkt', 'a.txt', {}, { deleted: false, body: Buffer.from('hello'), uid: 'u1' });
  t.equal(state.siblings.length, 1);
  t.equal(state.context[dot[0]], dot[1]);
  const again = await s.read('bkt', 'a.txt');
  t.same(again, state);
  t.equal(String(await s.readBody('bkt', 'a.txt', state.siblings[0]!)), 'hello');
  t.equal(await s.read('bkt', 'nope'), null);
});

t.test("a transaction's version has one dot whoever writes it: written again, or after it was superseded, it changes nothing", async (t) => {
  const s = await open(tmp(t));
  const base = await s.update('bkt', 'acct', {}, { deleted: false, body: Buffer.from('100'), uid: 'u1' });
  const txn = { id: '3f1c2a9e-0000-4000-8000-00000000abcd', files: [{ bucket: 'bkt', file: 'acct' }] };
  const v = { deleted: false, body: Buffer.from('90'), uid: 'u1', txn };
  const first = await s.update('bkt', 'acct', base.state.context, v);
  t.same(first.dot, ['txn.3f1c2a9e00004000800000000000abcd', 1], 'the dot is the transaction\'s own');
  t.equal(first.state.siblings.length, 1, 'it superseded what its context saw');
  const again = await s.update('bkt', 'acct', base.state.context, v);
  t.same(again.state, first.state, 'written twice: the same state');
  const later = await s.update('bkt', 'acct', first.state.context, { deleted: false, body: Buffer.from('95'), uid: 'u1' });
  const late = await s.update('bkt', 'acct', base.state.context, v);
  t.same(late.state, later.state, 'a late copy after a later write does not come back as a sibling');
  t.equal(String(await s.readBody('bkt', 'acct', late.state.siblings[0]!)), '95');
});

t.test('names that would traverse are stored inside the bucket folder', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  for (const name of ['../../../escape', '..', '/etc/passwd', '%2e%2e%2f']) {
    await s.update('bkt', name, {}, { deleted: false, body: Buffer.from(name), uid: 'u' });
  }
  t.same(readdirSync(dir).sort(), ['buckets', 'identity.json', 'journal']);
  t.same(readdirSync(join(dir, 'buckets')), ['bkt']);
  const keys = (await s.list('bkt')).map((e) => e.key).sort();
  t.same(keys, ['%2e%2e%2f', '..', '../../../escape', '/etc/passwd']);
});

t.test('a write with the read\'s context supersedes; one without keeps both', async (t) => {
  const s = await open(tmp(t));
  const a = await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('1') });
  const b = await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('2') });
  t.equal(b.state.siblings.length, 2, 'a blind write at the store level keeps what it did not see');
  const c = await s.update('b1', 'k', b.state.context, { deleted: false, body: Buffer.from('3') });
  t.equal(c.state.siblings.length, 1);
  t.equal(dotId(c.state.siblings[0]!.dot), dotId(c.dot));
  void a;
});

t.test('sync asks for bodies it lacks and changes nothing until it has them', async (t) => {
  const one = await open(tmp(t), 'n1');
  const two = await open(tmp(t), 'n2');
  const { state, dot } = await one.update('b1', 'k', {}, { deleted: false, body: Buffer.from('abc') });
  const first = await two.sync('b1', 'k', state, new Map());
  t.same(first.missing, [dotId(dot)]);
  t.equal(await two.read('b1', 'k'), null);
  const second = await two.sync('b1', 'k', state, new Map([[dotId(dot), Buffer.from('abc')]]));
  t.same(second.missing, []);
  t.ok(second.changed);
  t.equal(String(await two.readBody('b1', 'k', second.state.siblings[0]!)), 'abc');
  const third = await two.sync('b1', 'k', state, new Map());
  t.notOk(third.changed, 'syncing the same state again changes nothing');
});

const big = (c: string): Buffer => Buffer.alloc(8192, c); // over MANIFEST_INLINE_MAX: a blob file

t.test('superseded blobs are removed', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  const a = await s.update('b1', 'k', {}, { deleted: false, body: big('1') });
  const b = await s.update('b1', 'k', a.state.context, { deleted: false, body: big('2') });
  const blobs = readdirSync(join(dir, 'buckets', 'b1')).filter((f) => f.endsWith('.blob'));
  t.equal(blobs.length, 1);
  t.same(await s.readBody('b1', 'k', b.state.siblings[0]!), big('2'));
});

t.test('small bodies live in the manifest: one file per key, and an overwrite keeps one', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  const a = await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('first') });
  const b = await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('second') });
  t.same(readdirSync(join(dir, 'buckets', 'b1')).filter((f) => f !== 'names.log').length, 1, 'no blob files (one manifest, and the names log)');
  t.equal(b.state.siblings.length, 2, 'a blind write keeps both');
  const fresh = newStore(dir, null, silentLogger());
  for (const sib of b.state.siblings) t.ok((await fresh.readBody('b1', 'k', sib)).length > 0, 'each body is read back from disk');
  t.equal(String(await fresh.readBody('b1', 'k', a.state.siblings[0]!)), 'first', 'the older sibling kept its body');
});

t.test('the sweep removes temporary files and orphan blobs a crash left behind', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  await s.update('b1', 'k', {}, { deleted: false, body: big('1') });
  const folder = join(dir, 'buckets', 'b1');
  writeFileSync(join(folder, 'deadbeef.json.tmp-abc'), 'torn');
  writeFileSync(join(folder, `${'0'.repeat(64)}~n1.x~9.blob`), 'orphan');
  t.equal(await s.sweep(), 2);
  t.same(readdirSync(folder).filter((f) => f !== 'names.log').length, 2, 'the manifest and its blob remain');
});

t.test('a restarted node never reuses a dot; a fresh disk gets a fresh incarnation', async (t) => {
  const dir = tmp(t);
  const s1 = await open(dir);
  const first = await s1.update('b1', 'k', {}, { deleted: false, body: Buffer.from('1') });
  // Restart: the same disk, a new process.
  const s2 = await open(dir);
  const second = await s2.update('b1', 'other', {}, { deleted: false, body: Buffer.from('2') });
  t.equal(first.dot[0], second.dot[0], 'same incarnation on the same disk');
  t.ok(second.dot[1] > first.dot[1], `counter moved on (${first.dot[1]} -> ${second.dot[1]})`);
  // Even for a key whose manifest is gone (bucket purged), the counter does not restart.
  rmSync(join(dir, 'buckets'), { recursive: true });
  const s3 = await open(dir);
  const third = await s3.update('b1', 'k', {}, { deleted: false, body: Buffer.from('3') });
  t.ok(third.dot[1] > second.dot[1]);
  // A fresh disk: new incarnation, so no dot can collide with the old ones.
  const s4 = await open(tmp(t));
  const fourth = await s4.update('b1', 'k', {}, { deleted: false, body: Buffer.from('4') });
  t.not(fourth.dot[0], first.dot[0]);
});

t.test('purging a bucket incarnation keeps other incarnations\' versions', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  await s.update('b1', 'old', {}, { deleted: false, body: Buffer.from('o'), uid: 'u-old' });
  await s.update('b1', 'new', {}, { deleted: false, body: Buffer.from('n'), uid: 'u-new' });
  await s.purgeBucket('b1', (uid) => uid === 'u-old');
  const live = (await s.list('b1')).filter((e) => e.state.siblings.length > 0).map((e) => e.key);
  t.same(live, ['new']);
  await s.purgeBucket('b1', () => true);
  t.notOk(existsSync(join(dir, 'buckets', 'b1')), 'a deleted bucket\'s folder is gone');
});

t.test('regression: a hint store that dropped a delivered version does not claim it in its next one', async (t) => {
  const dir = tmp(t);
  const hints = newStore(join(dir, 'hints', 'a'), await writer(dir), silentLogger(), { oneOffActors: true });
  const x = await hints.update('b1', 'k', {}, { deleted: false, body: Buffer.from('x') });
  t.ok(await hints.removeIf('b1', 'k', x.state), 'handed off and dropped');
  const y = await hints.update('b1', 'k', {}, { deleted: false, body: Buffer.from('y') });
  t.notOk(covers(y.state.context, x.dot), 'the new version does not cover the one its writer never saw');
  t.not(y.dot[0], x.dot[0], 'each hinted version has an actor of its own');
});

t.test('regression: bodies sent over several messages are kept until the last arrives', async (t) => {
  const one = await open(tmp(t), 'n1');
  const two = await open(tmp(t), 'n2');
  const a = await one.update('b1', 'k', {}, { deleted: false, body: Buffer.from('aaa') });
  const b = await one.update('b1', 'k', {}, { deleted: false, body: Buffer.from('bbbb') });
  const [sa, sb] = b.state.siblings;
  const first = await two.sync('b1', 'k', b.state, new Map([[dotId(sa!.dot), Buffer.from('aaa')]]));
  t.same(first.missing, [dotId(sb!.dot)], 'the first message carried one body');
  const second = await two.sync('b1', 'k', b.state, new Map([[dotId(sb!.dot), Buffer.from('bbbb')]]));
  t.same(second.missing, []);
  t.equal(second.state.siblings.length, 2);
  t.equal(String(await two.readBody('b1', 'k', second.state.siblings.find((s) => dotId(s.dot) === dotId(sa!.dot))!)), 'aaa');
  void a;
});

t.test('the sibling cap of a store refuses a write that would pass it', async (t) => {
  const dir = tmp(t);
  const s = newStore(dir, await writer(dir), silentLogger(), { siblingMax: 2 });
  await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('1') });
  await s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('2') });
  await t.rejects(s.update('b1', 'k', {}, { deleted: false, body: Buffer.from('3') }), { code: 'TOO_MANY_SIBLINGS' });
});

t.test('the writer\'s manifest cache always agrees with the disk, under concurrent writes and reads', async (t) => {
  const dir = tmp(t);
  const s = newStore(dir, await writer(dir), silentLogger(), {});
  const keys = ['a', 'b', 'c'];
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    const key = keys[i % 3] as string;
    if (i % 4 === 0) ops.push(s.read('b1', key));
    else if (i % 7 === 0) ops.push((async () => s.update('b1', key, (await s.read('b1', key))?.context ?? {}, { deleted: false, body: Buffer.from(`v${i}`) }))());
    else ops.push(s.update('b1', key, {}, { deleted: false, body: Buffer.from(`v${i}`) }));
  }
  await Promise.all(ops);
  const fresh = newStore(dir, null, silentLogger());
  for (const key of keys) t.same(await s.read('b1', key), await fresh.read('b1', key), `${key}: cache and disk agree`);
  await s.purgeBucket('b1', () => true);
  for (const key of keys) t.equal(await s.read('b1', key), null, `${key}: a removal is seen`);
});

t.test('regression: a large write into a folder removed after this process saw it recreates the folder', async (t) => {
  const dir = tmp(t);
  const s = await open(dir);
  await s.update('b1', 'x', {}, { deleted: false, body: Buffer.alloc(100_000, 1) });
  // As when a purge's rmdir of an emptied bucket lands after a racing write cached the folder as present.
  rmSync(join(dir, 'buckets', 'b1'), { recursive: true });
  const y = await s.update('b1', 'y', {}, { deleted: false, body: Buffer.alloc(100_000, 2) });
  t.same(await s.readBody('b1', 'y', y.state.siblings[0]!), Buffer.alloc(100_000, 2));
});

t.test('a page shows the states reads show, from names.log alone, live and after a reopen', async (t) => {
  const dir = tmp(t);
  const s = newStore(dir, await writer(dir), silentLogger(), {});
  for (let i = 0; i < 60; i++) await s.update('b1', `k${String(i).padStart(2, '0')}`, {}, { deleted: false, body: Buffer.alloc(i % 5 === 0 ? 9000 : 10, i) });
  for (let i = 0; i < 60; i += 4) await s.update('b1', `k${String(i).padStart(2, '0')}`, {}, { deleted: false, body: Buffer.from('sibling') });
  for (let i = 0; i < 60; i += 6) {
    const key = `k${String(i).padStart(2, '0')}`;
    await s.update('b1', key, (await s.read('b1', key))?.context ?? {}, { deleted: true, body: Buffer.alloc(0) });
  }
  const check = async (store: Store, label: string): Promise<void> => {
    const { items, truncated } = await store.page('b1', { limit: 100 });
    t.notOk(truncated);
    t.equal(items.length, 60, `${label}: every key`);
    for (const item of items) if ('key' in item) t.same(item.state, await s.read('b1', item.key), `${label}: ${item.key}`);
  };
  await check(s, 'live');
  await check(newStore(dir, null, silentLogger()), 'reopened');
  // A page does not open manifests: without them, a reopened store still pages from names.log.
  const folder = join(dir, 'buckets', 'b1');
  for (const f of readdirSync(folder)) if (f.endsWith('.json')) rmSync(join(folder, f));
  await check(newStore(dir, null, silentLogger()), 'without manifests');
});
