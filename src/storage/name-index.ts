// Which keys a store holds in each namespace, in byte order of their names, and
// where each key's listing summary is, so that a page of a listing is a range
// scan whose cost grows with the page, not with the bucket (manifests are
// stored under hashes of the names, which a directory listing cannot sort or
// even name, and reading a thousand manifests out of a folder of a million is
// a thousand path lookups on a cold cache).
//
// In memory, a B+ tree per namespace (sorted-btree) from each name to where its
// summary lies in the log (a number: offset and length), never the summary
// itself: a million keys cost the tree, not their states. On disk,
// <namespace folder>/names.log: one line per change, "+" and the JSON name, a
// tab and the key's state without its bodies (its summary) when a key is
// written, "-" and the name when it is removed; appended as changes are written
// into the store's files (without fsync: the journal redoes them after a crash,
// and a checkpoint's syncfs makes them durable before the journal is dropped).
// The last line of a name wins. Loading a namespace reads that one file (its
// names only, not the summaries), never its manifests; a log grown to twice its
// live names is rewritten. A torn line (a crash mid-append) is skipped or, if
// only its summary is torn, read as "no summary": the store then reads the
// manifest, and the journal's replay appends the line again anyway. Lines of
// an older version have no summary, read the same way.
import { join } from 'node:path';
import btree from 'sorted-btree';
import { isErrno } from '../runtime/disk.js';
import type { Volume } from './volume.js';

export const NAMES_LOG = 'names.log';

// sorted-btree is CommonJS with its class on `default`.
export const BTree = btree.default;
export type BTree<K, V> = InstanceType<typeof btree.default<K, V>>;

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

/**
 * Where a key's summary lies in names.log: offset × SPAN + length (exact below
 * 2^53, so for logs up to 4 GiB and summaries under 2 MiB); NONE: no summary
 * known (a line of an older version, a torn one, a log past that size).
 */
type Where = number;
const NONE: Where = 0;
const SPAN = 2 ** 21;
const MAX_OFFSET = 2 ** 32;
const NL = 0x0a;
/** names.log is loaded this many bytes at a time. */
const LOAD_PIECE = 8 * 1024 * 1024;
/** Summaries at most this far apart in the log are read in one span, of at most SPAN_MAX bytes. */
const SPAN_GAP = 16 * 1024;
const SPAN_MAX = 4 * 1024 * 1024;
const TAB = 0x09;

function where(offset: number, length: number): Where {
  return offset > 0 && offset < MAX_OFFSET && length > 0 && length < SPAN ? offset * SPAN + length : NONE;
}

interface Namespace {
  tree: BTree<string, Where>;
  /** Lines in names.log: when they pass twice the live names, it is rewritten. */
  lines: number;
  /** names.log ends with a whole line (not a fragment a crash left): the next append need not begin one. */
  clean: boolean;
  /** The length of names.log, where the next line starts; NaN when a failed append left it unknown. */
  bytes: number;
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
    const tree = new BTree<string, Where>(undefined, compareUtf8);
    const path = join(this.dirOf(ns), NAMES_LOG);
    const size = this.vol.disk.statSync(path)?.size;
    const missing = size === undefined;
    // A piece at a time, as bytes: a log of a million summaries is longer than V8 lets a string be, and
    // reading it whole would hold it all in memory at once.
    let lines = 0;
    const take = (line: ReturnType<typeof parseLine>): void => {
      if (!line) return; // torn by a crash mid-append: the journal appends it again
      lines++;
      if (line.add) tree.set(line.name, line.where);
      else tree.delete(line.name);
    };
    let bytes = 0;
    let lastByte = NL;
    let carry: Buffer = Buffer.alloc(0);
    for (let at = 0; at < (size ?? 0); ) {
      const [piece] = this.vol.disk.readRangesSync(path, [[at, LOAD_PIECE]]);
      if (!piece || piece.length === 0) break;
      at += piece.length;
      bytes = at;
      lastByte = piece[piece.length - 1] as number;
      const buf = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
      const base = at - buf.length;
      let pos = 0;
      for (;;) {
        const nl = buf.indexOf(NL, pos);
        if (nl < 0) break;
        take(parseLine(buf, pos, nl, true, base));
        pos = nl + 1;
      }
      carry = Buffer.from(buf.subarray(pos));
    }
    if (carry.length > 0) {
      // The last line has no newline: a crash tore it (its summary is not trusted).
      take(parseLine(carry, 0, carry.length, false, bytes - carry.length));
    }
    s = { tree, lines, clean: lastByte === NL, bytes };
    this.spaces.set(ns, s);
    if (missing) {
      for (const name of this.legacy(ns)) tree.set(name, NONE);
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
   * A key now has a manifest, whose state without bodies is `summary` (JSON)
   * (`replay`: a journal replay redoes it, whether or not the line is already
   * there). Called as the change's files are written.
   */
  added(ns: string, key: string, summary?: string, replay = false): void {
    const s = this.space(ns);
    if (summary === undefined && s.tree.has(key) && !replay) return;
    const head = `+${JSON.stringify(key)}`;
    if (summary === undefined || summary.includes('\n')) {
      this.append(ns, s, `${head}\n`);
      s.tree.set(key, NONE);
    } else {
      const at = this.append(ns, s, `${head}\t${summary}\n`);
      s.tree.set(key, where(at + Buffer.byteLength(head) + 1, Buffer.byteLength(summary)));
    }
    if (s.lines > 2 * s.tree.size + 1000) this.rewrite(ns, s);
  }

  /**
   * Keep the summary of a key read from its manifest (it had none here), if
   * the log has room: this is only a faster way to the same state, so a
   * failure to append it changes nothing.
   */
  summarize(ns: string, key: string, summary: string): void {
    if (!this.space(ns).tree.has(key)) return;
    try {
      this.added(ns, key, summary);
    } catch {
      // the manifest stays the way to this key's state
    }
  }

  /** A key's manifest is gone. */
  removed(ns: string, key: string): void {
    const s = this.space(ns);
    s.tree.delete(key);
    this.append(ns, s, `-${JSON.stringify(key)}\n`);
    if (s.lines > 2 * s.tree.size + 1000) this.rewrite(ns, s);
  }

  /** Append a line; returns the offset it starts at. */
  private append(ns: string, s: Namespace, line: string): number {
    const dir = this.dirOf(ns);
    const path = join(dir, NAMES_LOG);
    this.vol.ensureDir(dir);
    if (Number.isNaN(s.bytes)) s.bytes = this.vol.disk.statSync(path)?.size ?? 0;
    // After a torn tail, a newline first: the fragment stays a line of its own (skipped), not the start of this one.
    const text = s.clean ? line : `\n${line}`;
    try {
      this.vol.disk.appendFileSync(path, text);
    } catch (err) {
      s.bytes = Number.NaN; // some of it may have gone in
      s.clean = false;
      throw err;
    }
    const at = s.bytes + (s.clean ? 0 : 1);
    s.bytes += Buffer.byteLength(text);
    s.clean = true;
    s.lines++;
    return at;
  }

  /**
   * Replace names.log by one line per live name, with its summary (write a
   * temporary file, fsync it, rename, fsync the folder), then point the tree
   * at the new offsets.
   */
  private rewrite(ns: string, s: Namespace): void {
    const dir = this.dirOf(ns);
    const path = join(dir, NAMES_LOG);
    const tmp = this.vol.tmpPath(path);
    try {
      const old = s.tree.size > 0 ? this.readLog(path) : Buffer.alloc(0);
      const next: Where[] = [];
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      let bytes = 0;
      this.vol.disk.writeFileSync(tmp, '');
      s.tree.forEachPair((name: string, w: Where) => {
        const head = Buffer.from(`+${JSON.stringify(name)}`);
        const offset = Math.floor(w / SPAN);
        const summary = w === NONE || offset + (w % SPAN) > old.length ? null : old.subarray(offset, offset + (w % SPAN));
        const parts = summary ? [head, TAB_BYTE, summary, NL_BYTE] : [head, NL_BYTE];
        next.push(summary ? where(bytes + head.length + 1, summary.length) : NONE);
        for (const p of parts) {
          chunk.push(p);
          chunkBytes += p.length;
          bytes += p.length;
        }
        if (chunkBytes >= 1 << 22) {
          this.vol.disk.appendFileSync(tmp, Buffer.concat(chunk));
          chunk = [];
          chunkBytes = 0;
        }
      });
      if (chunk.length > 0) this.vol.disk.appendFileSync(tmp, Buffer.concat(chunk));
      this.vol.disk.fsyncFileSync(tmp);
      this.vol.disk.renameSync(tmp, path);
      this.vol.disk.fsyncDirSync(dir);
      s.tree.editAll((_name: string, _w: Where, i: number) => ({ value: next[i] as Where }));
      s.lines = next.length;
      s.bytes = bytes;
      s.clean = true;
    } catch {
      // A full disk, say: the long log stays, it is only longer than it needs to be.
      this.vol.unlinkQuietly(tmp);
    }
  }

  private readLog(path: string): Buffer {
    try {
      return this.vol.disk.readFileSync(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return Buffer.alloc(0);
      throw err;
    }
  }

  /**
   * The summaries of some keys of a namespace, as their writers gave them
   * (undefined: none known, or the key is not here). One read of names.log
   * for the lot, at the offsets the tree keeps.
   */
  summaries(ns: string, keys: readonly string[]): Array<string | undefined> {
    const s = this.space(ns);
    const wanted: Array<{ i: number; offset: number; length: number }> = [];
    keys.forEach((key, i) => {
      const w = s.tree.get(key);
      if (w !== undefined && w !== NONE) wanted.push({ i, offset: Math.floor(w / SPAN), length: w % SPAN });
    });
    const out: Array<string | undefined> = new Array(keys.length).fill(undefined);
    if (wanted.length === 0) return out;
    wanted.sort((a, b) => a.offset - b.offset);
    // Neighbours in the log are read as one span: after a rewrite the log is in name order, so a page's
    // summaries lie side by side and cost a read or two, not one each.
    const spans: Array<{ offset: number; end: number; members: typeof wanted }> = [];
    for (const w of wanted) {
      const last = spans.at(-1);
      if (last && w.offset - last.end <= SPAN_GAP && w.offset + w.length - last.offset <= SPAN_MAX) {
        last.end = Math.max(last.end, w.offset + w.length);
        last.members.push(w);
      } else spans.push({ offset: w.offset, end: w.offset + w.length, members: [w] });
    }
    let parts: Buffer[];
    try {
      parts = this.vol.disk.readRangesSync(join(this.dirOf(ns), NAMES_LOG), spans.map((sp) => [sp.offset, sp.end - sp.offset] as const));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw err;
    }
    spans.forEach((sp, j) => {
      const b = parts[j] as Buffer;
      for (const w of sp.members) {
        const from = w.offset - sp.offset;
        if (from + w.length <= b.length) out[w.i] = b.toString('utf8', from, from + w.length);
      }
    });
    return out;
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

const NL_BYTE = Buffer.from('\n');
const TAB_BYTE = Buffer.from('\t');

/** One line of names.log, bytes [start, end) of buf (`whole`: a newline ends it); null if it is no line (torn). */
function parseLine(buf: Buffer, start: number, end: number, whole: boolean, base = 0): { add: boolean; name: string; where: Where } | null {
  if (end - start < 3) return null;
  const op = buf[start];
  if (op !== 0x2b && op !== 0x2d) return null; // '+' or '-'
  // Within the line only: a log of names without summaries (an older version's) has no tab to find.
  const tab = buf.subarray(start, end).indexOf(TAB);
  const nameEnd = tab >= 0 ? start + tab : end;
  let name: unknown;
  try {
    name = JSON.parse(buf.toString('utf8', start + 1, nameEnd));
  } catch {
    return null;
  }
  if (typeof name !== 'string') return null;
  // A summary is trusted only on a whole line; one torn and then followed by a newline fails to parse where it is read.
  const summary = whole && nameEnd < end ? where(base + nameEnd + 1, end - nameEnd - 1) : NONE;
  return { add: op === 0x2b, name, where: summary };
}

/**
 * A string above every name that starts with p: a name is at most 1024 bytes
 * of UTF-8, and no code point sorts above U+10FFFF (4 bytes each).
 */
function groupBound(p: string): string {
  return p + '\u{10FFFF}'.repeat(257);
}
