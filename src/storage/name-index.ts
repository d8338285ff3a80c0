// Which keys a store holds in each namespace, in byte order of their names, so
// that a page of a listing is a range scan whose cost grows with the page, not
// with the bucket (manifests are stored under hashes of the names, which a
// directory listing cannot sort or even name). In memory, a B+ tree per
// namespace (sorted-btree); on disk, <namespace folder>/names.log: one line per
// key added ("+" and its JSON name) or removed ("-"), appended as changes are
// written into the store's files (without fsync: the journal redoes them after
// a crash, and a checkpoint's syncfs makes them durable before the journal is
// dropped). Loading a namespace reads that one file, never its manifests; a
// log grown to twice its live names is rewritten. A torn last line (a crash
// mid-append) is ignored, and the journal's replay appends it again.
import { join } from 'node:path';
import btree from 'sorted-btree';
import { isErrno } from '../runtime/disk.js';
import type { Volume } from './volume.js';

export const NAMES_LOG = 'names.log';

// sorted-btree is CommonJS with its class on `default`.
const BTree = btree.default;
type BTree<K, V> = InstanceType<typeof btree.default<K, V>>;

/**
 * Byte order of the names' UTF-8, from their UTF-16 strings: the same as code
 * unit order except that a surrogate (a code point above U+FFFF) sorts after
 * every other unit, as its UTF-8 does after U+E000 to U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** One item of a page: a key, or (with a delimiter) a common prefix standing for every key under it. */
export type PageItem = { key: string } | { prefix: string };

export interface PageQuery {
  /** Start after this name (or after every name under this common prefix, with a delimiter). */
  after?: string | undefined;
  prefix?: string | undefined;
  delimiter?: string | undefined;
  limit: number;
}

interface Namespace {
  tree: BTree<string, true>;
  /** Lines in names.log: when they pass twice the live names, it is rewritten. */
  lines: number;
  /** names.log ends with a whole line (not a fragment a crash left): the next append need not begin one. */
  clean: boolean;
}

export class NameIndex {
  private readonly spaces = new Map<string, Namespace>();

  constructor(
    private readonly vol: Volume,
    /** A namespace's folder. */
    private readonly dirOf: (ns: string) => string,
    /** The keys of a namespace that has manifests but no names.log yet (stored by an older version). */
    private readonly legacy: (ns: string) => string[] = () => [],
  ) {}

  /** The namespace's index, read from its names.log the first time. */
  private space(ns: string): Namespace {
    let s = this.spaces.get(ns);
    if (s) return s;
    const tree = new BTree<string, true>(undefined, compareUtf8);
    let lines = 0;
    let text = '';
    let missing = false;
    try {
      text = this.vol.disk.readFileSync(join(this.dirOf(ns), NAMES_LOG)).toString('utf8');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      missing = true;
    }
    for (const line of text.split('\n')) {
      if (line.length < 3) continue;
      let name: unknown;
      try {
        name = JSON.parse(line.slice(1));
      } catch {
        continue; // torn by a crash mid-append: the journal appends it again
      }
      if (typeof name !== 'string') continue;
      lines++;
      if (line[0] === '+') tree.set(name, true);
      else if (line[0] === '-') tree.delete(name);
    }
    s = { tree, lines, clean: text === '' || text.endsWith('\n') };
    this.spaces.set(ns, s);
    if (missing) {
      for (const name of this.legacy(ns)) tree.set(name, true);
      if (tree.size > 0) this.rewrite(ns, s);
    }
    return s;
  }

  /** Drop a namespace from memory (its folder is being removed). */
  forget(ns: string): void {
    this.spaces.delete(ns);
  }

  has(ns: string, key: string): boolean {
    return this.space(ns).tree.has(key);
  }

  size(ns: string): number {
    return this.space(ns).tree.size;
  }

  /**
   * A key now has a manifest (`replay`: a journal replay redoes it, whether or
   * not the line is already there). Called as the change's files are written.
   */
  added(ns: string, key: string, replay = false): void {
    const s = this.space(ns);
    if (s.tree.has(key) && !replay) return;
    s.tree.set(key, true);
    this.append(ns, s, `+${JSON.stringify(key)}\n`);
  }

  /** A key's manifest is gone. */
  removed(ns: string, key: string): void {
    const s = this.space(ns);
    s.tree.delete(key);
    this.append(ns, s, `-${JSON.stringify(key)}\n`);
  }

  private append(ns: string, s: Namespace, line: string): void {
    const dir = this.dirOf(ns);
    this.vol.ensureDir(dir);
    // After a torn tail, a newline first: the fragment stays a line of its own (skipped), not the start of this one.
    this.vol.disk.appendFileSync(join(dir, NAMES_LOG), s.clean ? line : `\n${line}`);
    s.clean = true;
    s.lines++;
    if (s.lines > 2 * s.tree.size + 1000) this.rewrite(ns, s);
  }

  /** Replace names.log by one line per live name (write a temporary file, fsync it, rename, fsync the folder). */
  private rewrite(ns: string, s: Namespace): void {
    const dir = this.dirOf(ns);
    const path = join(dir, NAMES_LOG);
    const tmp = this.vol.tmpPath(path);
    const lines: string[] = [];
    s.tree.forEachPair((name: string) => void lines.push(`+${JSON.stringify(name)}\n`));
    try {
      this.vol.disk.writeFileSync(tmp, lines.join(''));
      this.vol.disk.fsyncFileSync(tmp);
      this.vol.disk.renameSync(tmp, path);
      this.vol.disk.fsyncDirSync(dir);
      s.lines = lines.length;
      s.clean = true;
    } catch {
      // A full disk, say: the long log stays, it is only longer than it needs to be.
      this.vol.unlinkQuietly(tmp);
    }
  }

  /** Every key, in order (small namespaces: bucket records, hint stores). */
  keys(ns: string): string[] {
    return this.space(ns).tree.keysArray();
  }

  /** At most `limit` items in byte order after `after`, under `prefix`, keys beyond `delimiter` folded into common prefixes. */
  page(ns: string, q: PageQuery): { items: PageItem[]; truncated: boolean } {
    const tree = this.space(ns).tree;
    const prefix = q.prefix ?? '';
    const delimiter = q.delimiter || undefined;
    const items: PageItem[] = [];
    /** The first key after every key under common prefix p. */
    const pastGroup = (p: string): string | undefined => {
      const last = tree.nextLowerKey(groupBound(p));
      return last === undefined || compareUtf8(last, p) < 0 ? tree.nextHigherKey(p) : tree.nextHigherKey(last);
    };
    let key: string | undefined;
    if (q.after === undefined || compareUtf8(q.after, prefix) < 0) key = tree.has(prefix) ? prefix : tree.nextHigherKey(prefix);
    else if (delimiter && q.after.endsWith(delimiter) && q.after.startsWith(prefix) && q.after.length > prefix.length) key = pastGroup(q.after);
    else key = tree.nextHigherKey(q.after);
    while (key !== undefined && key.startsWith(prefix) && items.length < q.limit) {
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (delimiter && cut >= 0) {
        const common = key.slice(0, cut + delimiter.length);
        items.push({ prefix: common });
        key = pastGroup(common);
      } else {
        items.push({ key });
        key = tree.nextHigherKey(key);
      }
    }
    return { items, truncated: key !== undefined && key.startsWith(prefix) };
  }
}

/**
 * A string above every name that starts with p: a name is at most 1024 bytes
 * of UTF-8, and no code point sorts above U+10FFFF (4 bytes each).
 */
function groupBound(p: string): string {
  return p + '\u{10FFFF}'.repeat(257);
}
