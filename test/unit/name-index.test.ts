// The name index of a store: pages in byte order of the UTF-8 names, prefixes
// and delimiters as S3 folds them, and names.log surviving a reopen (and a
// torn last line). Paging is checked against a plain model with fast-check:
// every name under the prefix once, in order, whatever the page size.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRuntime } from '../../src/runtime/node.js';
import { NAMES_LOG, NameIndex, compareUtf8, type PageItem } from '../../src/storage/name-index.js';
import { Volume } from '../../src/storage/volume.js';

function open(dir: string): NameIndex {
  return new NameIndex(new Volume(nodeRuntime.disk, nodeRuntime.random), (ns) => join(dir, ns));
}

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ringstore-names-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const utf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** What a listing should give, computed the plain way. */
function model(names: readonly string[], prefix: string, delimiter: string | undefined): string[] {
  const out = new Set<string>();
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const cut = delimiter ? n.indexOf(delimiter, prefix.length) : -1;
    out.add(cut >= 0 ? n.slice(0, cut + (delimiter as string).length) : n);
  }
  return [...out].sort(utf8);
}

function walk(index: NameIndex, ns: string, prefix: string, delimiter: string | undefined, limit: number): string[] {
  const seen: string[] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const { items, truncated } = index.page(ns, { after, prefix, delimiter, limit });
    const names = items.map((i: PageItem) => ('key' in i ? i.key : i.prefix));
    seen.push(...names);
    if (!truncated) return seen;
    after = names.at(-1);
  }
  throw new Error('the walk did not end');
}

t.test('byte order of UTF-8, not of UTF-16', async (t) => {
  const names = ['b', 'a', '\uE000', '😀', 'Z', 'é'];
  t.same([...names].sort(compareUtf8), [...names].sort(utf8));
  t.not([...names].sort().join(), [...names].sort(utf8).join(), '(JS string order would differ)');
});

t.test('pages, prefixes and delimiters against a plain model', async (t) => {
  const dir = tmp(t);
  let run = 0;
  // Whole characters (a regular expression class would split 😀 into lone surrogates, which names never are).
  const name = fc.array(fc.constantFrom('a', 'b', '/', 'é', '😀', '\uE000'), { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.uniqueArray(name, { maxLength: 40 }), fc.constantFrom('', 'a', 'b/', 'é'), fc.constantFrom(undefined, '/', 'b'), fc.integer({ min: 1, max: 7 }), (names, prefix, delimiter, limit) => {
      const ns = `ns${run++}`;
      const index = open(dir);
      for (const n of names) index.added(ns, n);
      const got = walk(index, ns, prefix, delimiter, limit);
      return JSON.stringify(got) === JSON.stringify(model(names, prefix, delimiter));
    }),
    { numRuns: 300 },
  );
});

t.test('an after past every name is an empty last page', async (t) => {
  const index = open(tmp(t));
  for (const n of ['a', 'b', 'c']) index.added('x', n);
  t.same(index.page('x', { after: 'c', limit: 10 }), { items: [], truncated: false });
  t.same(index.page('x', { after: 'zzz', limit: 10 }), { items: [], truncated: false });
  t.same(index.page('x', { limit: 2 }), { items: [{ key: 'a' }, { key: 'b' }], truncated: true });
});

t.test('names.log: a reopen finds every name, removals included; a torn last line is skipped', async (t) => {
  const dir = tmp(t);
  const a = open(dir);
  for (let i = 0; i < 50; i++) a.added('b1', `file-${i}`);
  for (let i = 0; i < 50; i += 2) a.removed('b1', `file-${i}`);
  appendFileSync(join(dir, 'b1', NAMES_LOG), '+"torn'); // a crash mid-append
  const b = open(dir);
  t.equal(b.size('b1'), 25);
  t.ok(b.has('b1', 'file-1') && !b.has('b1', 'file-0'));
  t.notOk(b.has('b1', 'torn'));
  // Regression (found by the simulator): the journal's replay appends the torn name again, and it must not
  // run on from the fragment ('+"torn+"torn"' is no line at all).
  b.added('b1', 'torn', undefined, true);
  t.ok(open(dir).has('b1', 'torn'), 'the name appended after a torn tail is found');
});

t.test('a log grown past twice its names is rewritten to one line per name', async (t) => {
  const dir = tmp(t);
  const a = open(dir);
  for (let i = 0; i < 800; i++) {
    a.added('b1', `k${i}`);
    a.removed('b1', `k${i}`);
  }
  a.added('b1', 'kept');
  const lines = readFileSync(join(dir, 'b1', NAMES_LOG), 'utf8').trim().split('\n');
  t.ok(lines.length < 1000, `${lines.length} lines after 1601 changes`);
  t.same(open(dir).keys('b1'), ['kept']);
});

t.test('summaries: the last one of a key is read back, after a reopen and after a rewrite', async (t) => {
  const dir = tmp(t);
  const a = open(dir);
  const sum = (i: number, v: number): string => JSON.stringify({ context: { n1: v }, siblings: [{ i, v, name: 'é😀' }] });
  for (let i = 0; i < 100; i++) a.added('b1', `k${i}`, sum(i, 1));
  for (let i = 0; i < 100; i += 3) a.added('b1', `k${i}`, sum(i, 2));
  for (let i = 1; i < 100; i += 10) a.removed('b1', `k${i}`);
  const keys = ['k0', 'k1', 'k2', 'k3', 'k99', 'nope'];
  const want = [sum(0, 2), undefined, sum(2, 1), sum(3, 2), sum(99, 2), undefined];
  t.same(a.summaries('b1', keys), want, 'as written');
  t.same(open(dir).summaries('b1', keys), want, 'after a reopen');
  // Overwrites grow the log past twice its names: it is rewritten, summaries and all.
  const c = open(dir);
  for (let round = 3; round < 40; round++) for (let i = 0; i < 100; i += 3) c.added('b1', `k${i}`, sum(i, round));
  const lines = readFileSync(join(dir, 'b1', NAMES_LOG), 'utf8').trim().split('\n').length;
  t.ok(lines < 2 * 90 + 1000, `${lines} lines after ${100 + 34 * 38} changes`);
  const after = [sum(0, 39), undefined, sum(2, 1), sum(3, 39), sum(99, 39), undefined];
  t.same(c.summaries('b1', keys), after, 'after a rewrite, in memory');
  t.same(open(dir).summaries('b1', keys), after, 'after a rewrite, reopened');
});

t.test("a summary torn by a crash reads as none; the replay's line wins", async (t) => {
  const dir = tmp(t);
  const a = open(dir);
  a.added('b1', 'x', '{"context":{},"siblings":[]}');
  appendFileSync(join(dir, 'b1', NAMES_LOG), '+"y"\t{"context":{"n1":'); // a crash mid-append
  const b = open(dir);
  t.ok(b.has('b1', 'y'), 'the name is whole');
  t.same(b.summaries('b1', ['x', 'y']), ['{"context":{},"siblings":[]}', undefined], 'a torn summary is none');
  b.added('b1', 'z', '{"context":{"n1":1},"siblings":[]}'); // a newline first: the fragment stays a line of its own
  const c = open(dir);
  // Now a whole line, its summary is read back as it is: the store fails to parse it and reads the manifest.
  t.same(c.summaries('b1', ['y', 'z']), ['{"context":{"n1":', '{"context":{"n1":1},"siblings":[]}']);
  c.added('b1', 'y', '{"context":{"n1":2},"siblings":[]}', true);
  t.same(open(dir).summaries('b1', ['y']), ['{"context":{"n1":2},"siblings":[]}'], "the replay's line wins");
});

t.test('lines of an older version (names only) have no summary', async (t) => {
  const dir = tmp(t);
  open(dir).added('b1', 'seed'); // makes the folder
  appendFileSync(join(dir, 'b1', NAMES_LOG), '+"old"\n');
  const a = open(dir);
  t.same(a.summaries('b1', ['old']), [undefined]);
  a.added('b1', 'old', '{"context":{},"siblings":[]}');
  t.same(open(dir).summaries('b1', ['old']), ['{"context":{},"siblings":[]}']);
});
