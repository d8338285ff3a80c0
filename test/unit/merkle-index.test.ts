// The Merkle leaves a node keeps as its store changes (replica/merkle-index.ts)
// must equal the leaves built from scratch over the store's keys, whatever
// commits land while the start-up walk is under way, and after it.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { BUCKETS_NS } from '../../src/protocol/messages.js';
import { MerkleForest } from '../../src/replica/merkle.js';
import { MerkleIndex } from '../../src/replica/merkle-index.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { KeyState } from '../../src/protocol/messages.js';
import type { Timers } from '../../src/runtime/runtime.js';
import { compareUtf8 } from '../../src/storage/name-index.js';
import type { Store } from '../../src/storage/store.js';
import { newStore, openWriter } from '../helpers/storage.js';

const Q = 8;
const SPACES = ['alpha', 'beta', 'gamma'];

/** A small deterministic generator, so that a failure replays. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function fromScratch(store: Store): Promise<MerkleForest> {
  const forest = new MerkleForest(Q);
  for (const ns of await store.namespaces()) {
    if (ns === BUCKETS_NS) continue;
    for (const { key, state } of await store.list(ns)) forest.toggle(ns, key, state);
  }
  return forest;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A random change of a random key: a write, a write that supersedes, a delete, a drop. */
async function change(store: Store, rnd: () => number, keys: number): Promise<void> {
  const ns = SPACES[Math.floor(rnd() * SPACES.length)] as string;
  const key = `k${Math.floor(rnd() * keys)}`;
  const r = rnd();
  if (r < 0.15) {
    await store.drop(ns, key);
    return;
  }
  const current = await store.read(ns, key);
  const context = r < 0.6 && current ? current.context : {};
  await store.update(ns, key, context, { deleted: r > 0.9, body: Buffer.from(`v${r}`) });
}

t.test('leaves kept through commits during and after the walk equal leaves built from scratch', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringstore-merkle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const writer = await openWriter(dir);
  const index = new MerkleIndex(Q, nodeRuntime.timers, nodeRuntime.clock, silentLogger());
  const store = newStore(dir, writer, silentLogger(), { observer: index });
  const rnd = lcg(7);
  const KEYS = 400;
  for (let i = 0; i < KEYS; i++) await store.update(SPACES[i % SPACES.length] as string, `k${i}`, {}, { deleted: false, body: Buffer.from(`first ${i}`) });
  await store.update(BUCKETS_NS, 'alpha', {}, { deleted: false, body: Buffer.from('{}') });

  index.start(store);
  t.notOk(index.ready, 'not ready until the walk has been over every key');
  // Commits race the walk: many in flight at once, so that some are mid-commit when the walk meets their key.
  let changes = 0;
  while (!index.ready) {
    await Promise.all(Array.from({ length: 16 }, () => change(store, rnd, KEYS + 50)));
    changes += 16;
    if (changes > 20_000) break;
  }
  await until(() => index.ready, 'the walk');
  t.ok(changes > 0, `${changes} changes raced the walk`);
  const built = await fromScratch(store);
  for (let p = 0; p < Q; p++) t.same(index.leavesOf(p), built.leavesOf(p), `partition ${p} after the walk`);

  // And after it: every commit updates the leaves in place. A new namespace too.
  await Promise.all(Array.from({ length: 200 }, () => change(store, rnd, KEYS + 50)));
  await store.update('delta', 'new', {}, { deleted: false, body: Buffer.from('x') });
  const again = await fromScratch(store);
  for (let p = 0; p < Q; p++) t.same(index.leavesOf(p), again.leavesOf(p), `partition ${p} after more changes`);
  index.stop();
});

t.test('an empty store is ready at once, and a first key shows in its partition', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringstore-merkle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const index = new MerkleIndex(Q, nodeRuntime.timers, nodeRuntime.clock, silentLogger());
  const store = newStore(dir, await openWriter(dir), silentLogger(), { observer: index });
  index.start(store);
  await until(() => index.ready, 'the walk');
  const zero = new MerkleForest(Q);
  await store.update('b', 'only', {}, { deleted: false, body: Buffer.from('1') });
  const built = await fromScratch(store);
  const differing = Array.from({ length: Q }, (_, p) => p).filter((p) => index.leavesOf(p).join() !== zero.leavesOf(p).join());
  t.equal(differing.length, 1, 'one partition holds the key');
  for (let p = 0; p < Q; p++) t.same(index.leavesOf(p), built.leavesOf(p));
  index.stop();
});

// A model of the store, stepped by hand: commits start, show on "disk" before they end (as a journal
// replay's files do before the store's cache takes the new state), end, or fail, at every point of the walk.
class ModelStore {
  readonly visible = new Map<string, Map<string, KeyState>>();
  namespaces(): Promise<string[]> {
    return Promise.resolve([...this.visible.keys()]);
  }
  names(ns: string, after: string | undefined, limit: number): { keys: string[]; truncated: boolean } {
    const all = [...(this.visible.get(ns)?.keys() ?? [])].sort(compareUtf8).filter((k) => after === undefined || compareUtf8(k, after) > 0);
    return { keys: all.slice(0, limit), truncated: all.length > limit };
  }
  peek(ns: string, key: string): KeyState | null {
    return this.visible.get(ns)?.get(key) ?? null;
  }
  peekMany(ns: string, keys: readonly string[]): Array<KeyState | null> {
    return keys.map((key) => this.peek(ns, key));
  }
  show(ns: string, key: string, state: KeyState | null): void {
    let m = this.visible.get(ns);
    if (!m) this.visible.set(ns, (m = new Map()));
    if (state) m.set(key, state);
    else m.delete(key);
  }
}

function stateOf(n: number): KeyState {
  return { context: { a: n }, siblings: [{ dot: ['a', n], size: 1, etag: '', ts: 0 }] } as unknown as KeyState;
}

interface Inflight {
  ns: string;
  key: string;
  was: KeyState | null;
  next: KeyState | null;
}

/** Leaves kept by the index against leaves from scratch, after a walk raced by random commits. */
async function modelRun(seed: number): Promise<{ kept: string[][]; expected: string[][]; steps: number }> {
  const rnd = lcg(seed);
  const store = new ModelStore();
  const spaces = ['a', 'b', 'c', 'd'];
  const names = ['k', 'k0', 'k1', 'k10', 'k2', 'ä', 'z', '\u{1F600}', '\uFFFD', 'm', 'n', 'o'];
  let version = 0;
  for (const ns of spaces.slice(0, 3)) for (const key of names) if (rnd() < 0.7) store.show(ns, key, stateOf(++version));
  const sleeps: Array<() => void> = [];
  const timers = { sleep: () => new Promise<void>((r) => sleeps.push(r)) } as unknown as Timers;
  const index = new MerkleIndex(Q, timers, nodeRuntime.clock, silentLogger(), 3);
  const inflight: Inflight[] = [];
  const step = (): void => {
    const r = rnd();
    if (r < 0.4) {
      const ns = spaces[Math.floor(rnd() * spaces.length)] as string;
      const key = names[Math.floor(rnd() * names.length)] as string;
      if (inflight.some((c) => c.ns === ns && c.key === key)) return;
      const c = { ns, key, was: store.peek(ns, key), next: rnd() < 0.2 ? null : stateOf(++version) };
      inflight.push(c);
      index.changing(ns, key);
      if (rnd() < 0.5) store.show(ns, key, c.next); // on disk before the commit ends
    } else if (inflight.length > 0) {
      const c = inflight.splice(Math.floor(rnd() * inflight.length), 1)[0] as Inflight;
      // Ends, or fails leaving either state on disk: the store then tells the state its files hold.
      const now = r < 0.9 ? c.next : rnd() < 0.5 ? c.was : c.next;
      store.show(c.ns, c.key, now);
      // Rarely, a failed commit whose key cannot be read: the walk starts again.
      if (r > 0.99) index.unknown(c.ns, c.key);
      else index.changed(c.ns, c.key, c.was, now);
    }
  };
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  index.start(store);
  let steps = 0;
  for (let i = Math.floor(rnd() * 4); i > 0; i--, steps++) step(); // while the walk lists the namespaces
  await settle();
  while (!index.ready && steps < 10_000) {
    for (let i = Math.floor(rnd() * 4); i > 0; i--, steps++) step();
    sleeps.shift()?.();
    await settle();
  }
  for (let i = 0; i < 20; i++, steps++) step();
  while (inflight.length > 0) step();
  // Those may have restarted the walk: let it finish.
  for (let i = 0; i < 10_000 && !index.ready; i++) {
    sleeps.shift()?.();
    await settle();
  }
  if (!index.ready) throw new Error(`seed ${seed}: the walk did not finish`);
  const expected = new MerkleForest(Q);
  for (const [ns, keys] of store.visible) for (const [key, state] of keys) expected.toggle(ns, key, state);
  const partitions = Array.from({ length: Q }, (_, p) => p);
  return { kept: partitions.map((p) => index.leavesOf(p)), expected: partitions.map((p) => expected.leavesOf(p)), steps };
}

t.test('a model store: commits start, show on disk, end or fail (or fail unreadably, restarting the walk) at every point of the walk (500 seeds)', async (t) => {
  let steps = 0;
  for (let seed = 1; seed <= 500; seed++) {
    const r = await modelRun(seed);
    steps += r.steps;
    if (JSON.stringify(r.kept) !== JSON.stringify(r.expected)) {
      t.fail(`seed ${seed}: the kept leaves differ from leaves built from scratch`);
      return;
    }
  }
  t.pass(`500 seeds, ${steps} steps: kept leaves equal leaves from scratch`);
});
