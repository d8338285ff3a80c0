// The simulator's disk: an in-memory file system implementing ../runtime/disk.ts,
// driven only by a seeded random source and the simulator's event queue. crash()
// keeps, drops or tears exactly what was not made durable, as ext4 may on power loss.
import { posix } from 'node:path';
import { diskError, type Disk, type FileHandle, type FileStat } from '../runtime/disk.js';

export interface SimDiskOptions {
  /** Seeded uniform [0,1) source: the ONLY randomness allowed. */
  random: () => number;
  /** Schedules fn to run after `ms` of simulated time (the simulator's event queue). */
  schedule: (ms: number, fn: () => void) => void;
  /** Latency of one async operation in ms (default 0.1). */
  latency?: () => number;
  /** Latency of datasync, sync, fsyncDir, syncfs and writeFileDurable in ms (default 1). */
  syncLatency?: () => number;
  /** An errno code to make this operation fail without effect, or null. Asked when the op is issued. */
  inject?: (op: string, path: string) => string | null;
  /** Bytes statfs reports as the whole (default 1 GiB); free is that less the bytes of every file. */
  capacity?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * A file inode. Appends fill spare capacity past `size`; every other change
 * allocates a new buffer. So a view of the first `size` bytes (the durable
 * snapshot, a crash's choice) never changes afterwards and needs no copy.
 */
class FileNode {
  readonly kind = 'file';
  private buf: Buffer = EMPTY;
  private size = 0;
  /** Content as of the last fsync/datasync/syncfs. */
  durable: Buffer = EMPTY;
  /** Rewritten from the start (or overwritten, truncated) since the last sync: ext4 may leave it empty or torn. */
  rewritten = false;

  get data(): Buffer {
    return this.buf.subarray(0, this.size);
  }

  append(bytes: Buffer): void {
    this.writeAt(this.size, bytes);
  }

  writeAt(pos: number, bytes: Buffer): void {
    if (pos < this.size) {
      // An overwrite: copy first, so that no earlier view of the content changes.
      const next = Buffer.alloc(Math.max(this.size, pos + bytes.length));
      this.data.copy(next);
      bytes.copy(next, pos);
      this.set(next);
      this.rewritten = true;
      return;
    }
    const end = pos + bytes.length;
    if (end > this.buf.length) {
      // Zero-filled, so a gap left by writing past the end reads as zeros.
      const next = Buffer.alloc(Math.max(end, this.buf.length * 2, 64));
      this.data.copy(next);
      this.buf = next;
    }
    bytes.copy(this.buf, pos);
    this.size = end;
  }

  /** New content from the start (writeFile, open 'write'). */
  replace(bytes: Buffer): void {
    this.set(bytes);
    this.rewritten = true;
  }

  truncate(length: number): void {
    const next = Buffer.alloc(length);
    this.data.copy(next, 0, 0, Math.min(length, this.size));
    this.replace(next);
  }

  sync(): void {
    this.durable = this.data;
    this.rewritten = false;
  }

  /** After a crash: this content is both current and durable. */
  settle(content: Buffer): void {
    this.set(content);
    this.sync();
  }

  private set(bytes: Buffer): void {
    this.buf = bytes;
    this.size = bytes.length;
  }
}

class DirNode {
  readonly kind = 'dir';
  entries = new Map<string, Node>();
  /** Entries as of the last fsyncDir/syncfs of this folder. */
  durableEntries = new Map<string, Node>();
}

type Node = FileNode | DirNode;

/** Byte order, as readdir sorts: JS string order differs from UTF-8 order above U+FFFF. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const sortedNames = (m: Map<string, Node>): string[] => [...m.keys()].sort(byteOrder);

function sameEntries(a: Map<string, Node>, b: Map<string, Node>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, node] of a) if (b.get(name) !== node) return false;
  return true;
}

function toBuffer(data: Buffer | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
}

/** The path's components; relative paths are refused (they would be a bug in storage code). */
function components(path: string, op: string): string[] {
  if (!path.startsWith('/')) throw diskError('EINVAL', op, path);
  return posix.normalize(path).split('/').filter((p) => p !== '');
}

/** The file tree and its synchronous operations; errors are thrown as diskError. */
class Tree {
  readonly root = new DirNode();

  private walk(parts: readonly string[], op: string, path: string): DirNode {
    let dir = this.root;
    for (const part of parts) {
      const next = dir.entries.get(part);
      if (next === undefined) throw diskError('ENOENT', op, path);
      if (next.kind === 'file') throw diskError('ENOTDIR', op, path);
      dir = next;
    }
    return dir;
  }

  /** The folder holding the last component of `path`, and its name. `rootCode`: the error if `path` is "/". */
  private parentOf(path: string, op: string, rootCode: string): { dir: DirNode; name: string } {
    const parts = components(path, op);
    const name = parts.pop();
    if (name === undefined) throw diskError(rootCode, op, path);
    return { dir: this.walk(parts, op, path), name };
  }

  get(path: string, op: string): Node {
    const parts = components(path, op);
    const name = parts.pop();
    if (name === undefined) return this.root;
    const node = this.walk(parts, op, path).entries.get(name);
    if (node === undefined) throw diskError('ENOENT', op, path);
    return node;
  }

  file(path: string, op: string): FileNode {
    const node = this.get(path, op);
    if (node.kind === 'dir') throw diskError('EISDIR', op, path);
    return node;
  }

  dir(path: string, op: string): DirNode {
    const node = this.get(path, op);
    if (node.kind === 'file') throw diskError('ENOTDIR', op, path);
    return node;
  }

  /** The file at `path`, created empty (durably empty too) if missing. */
  createOrOpen(path: string, op: string): FileNode {
    const { dir, name } = this.parentOf(path, op, 'EISDIR');
    const node = dir.entries.get(name);
    if (node?.kind === 'dir') throw diskError('EISDIR', op, path);
    if (node !== undefined) return node;
    const file = new FileNode();
    dir.entries.set(name, file);
    return file;
  }

  writeFile(path: string, data: Buffer, op: string): FileNode {
    const file = this.createOrOpen(path, op);
    file.replace(data);
    return file;
  }

  rename(from: string, to: string, op: string): void {
    const src = this.parentOf(from, op, 'EBUSY');
    const node = src.dir.entries.get(src.name);
    if (node === undefined) throw diskError('ENOENT', op, from);
    const dst = this.parentOf(to, op, 'EBUSY');
    const old = dst.dir.entries.get(dst.name);
    if (old === node) return;
    if (old?.kind === 'dir' && node.kind === 'file') throw diskError('EISDIR', op, to);
    if (old?.kind === 'file' && node.kind === 'dir') throw diskError('ENOTDIR', op, to);
    if (old?.kind === 'dir' && old.entries.size > 0) throw diskError('ENOTEMPTY', op, to);
    // A folder moved into itself would leave the tree: the current tree has no
    // hard links, so comparing the paths is enough.
    if (node.kind === 'dir' && `${posix.normalize(to)}/`.startsWith(`${posix.normalize(from)}/`)) {
      throw diskError('EINVAL', op, to);
    }
    src.dir.entries.delete(src.name);
    dst.dir.entries.set(dst.name, node);
  }

  unlink(path: string, op: string): void {
    const { dir, name } = this.parentOf(path, op, 'EISDIR');
    const node = dir.entries.get(name);
    if (node === undefined) throw diskError('ENOENT', op, path);
    if (node.kind === 'dir') throw diskError('EISDIR', op, path);
    dir.entries.delete(name);
  }

  /** mkdir -p: the first folder created, or undefined. */
  mkdir(path: string, op: string): string | undefined {
    const parts = components(path, op);
    let dir = this.root;
    let at = '';
    let first: string | undefined;
    for (const [i, part] of parts.entries()) {
      at += `/${part}`;
      const node = dir.entries.get(part);
      if (node?.kind === 'file') throw diskError(i === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', op, path);
      if (node !== undefined) {
        dir = node;
        continue;
      }
      const created = new DirNode();
      dir.entries.set(part, created);
      first ??= at;
      dir = created;
    }
    return first;
  }

  rmdir(path: string, op: string): void {
    const { dir, name } = this.parentOf(path, op, 'EBUSY');
    const node = dir.entries.get(name);
    if (node === undefined) throw diskError('ENOENT', op, path);
    if (node.kind === 'file') throw diskError('ENOTDIR', op, path);
    if (node.entries.size > 0) throw diskError('ENOTEMPTY', op, path);
    dir.entries.delete(name);
  }

  stat(path: string, op: string): FileStat {
    const node = this.get(path, op);
    return node.kind === 'dir' ? { size: 0, isDirectory: true } : { size: node.data.length, isDirectory: false };
  }

  syncDir(path: string, op: string): void {
    const dir = this.dir(path, op);
    dir.durableEntries = new Map(dir.entries);
  }

  syncfs(path: string, op: string): void {
    this.get(path, op);
    this.syncAll(this.root);
  }

  /** Every folder's entries and every file's content become durable. */
  private syncAll(dir: DirNode): void {
    dir.durableEntries = new Map(dir.entries);
    for (const name of sortedNames(dir.entries)) {
      const node = dir.entries.get(name) as Node;
      if (node.kind === 'dir') this.syncAll(node);
      else node.sync();
    }
  }

  /** Every file with a copy of its content, in the current or the durable view, sorted by path. */
  collect(view: 'current' | 'durable'): Map<string, Buffer> {
    const out: [string, Buffer][] = [];
    const seen = new Set<Node>([this.root]); // a durable view may name a folder twice, or in a cycle
    const visit = (dir: DirNode, at: string): void => {
      const entries = view === 'current' ? dir.entries : dir.durableEntries;
      for (const name of sortedNames(entries)) {
        const node = entries.get(name) as Node;
        const path = `${at}/${name}`;
        if (node.kind === 'file') out.push([path, Buffer.from(view === 'current' ? node.data : node.durable)]);
        else if (!seen.has(node)) {
          seen.add(node);
          visit(node, path);
        }
      }
    };
    visit(this.root, '');
    return new Map(out.sort(([a], [b]) => byteOrder(a, b)));
  }
}

/** What a power loss leaves of the tree, decided with `random` (see crash()). */
class CrashResolver {
  private readonly seen: Set<Node>;

  constructor(
    private readonly random: () => number,
    root: DirNode,
  ) {
    this.seen = new Set([root]);
  }

  private pick(n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n));
  }

  dir(dir: DirNode): void {
    // Metadata not fsynced may or may not have been written back.
    const undecided = !sameEntries(dir.entries, dir.durableEntries);
    const chosen = undecided && this.random() < 0.5 ? dir.durableEntries : dir.entries;
    const kept = new Map<string, Node>();
    for (const name of sortedNames(chosen)) {
      let node = chosen.get(name) as Node;
      if (this.seen.has(node)) {
        // Reached twice, by a rename between two folders of which one reverted.
        // A folder has one parent (and may form a cycle): drop the second name.
        // A file becomes an independent copy, as fsck would leave two files.
        if (node.kind === 'dir') continue;
        const copy = new FileNode();
        copy.settle(node.data);
        node = copy;
      } else {
        this.seen.add(node);
        if (node.kind === 'dir') this.dir(node);
        else this.file(node);
      }
      kept.set(name, node);
    }
    dir.entries = kept;
    dir.durableEntries = new Map(kept);
  }

  file(file: FileNode): void {
    const current = file.data;
    const durable = file.durable;
    if (current.equals(durable)) return file.settle(current);
    const choices: (() => Buffer)[] = [() => durable, () => current];
    const appended = current.length > durable.length && current.subarray(0, durable.length).equals(durable);
    if (appended) {
      // A torn append: the synced part and some of the tail.
      choices.push(() => current.subarray(0, durable.length + this.pick(current.length - durable.length + 1)));
    }
    if (file.rewritten) {
      // ext4's delayed allocation: a rewrite not synced may come back empty or cut.
      choices.push(() => EMPTY, () => current.subarray(0, this.pick(current.length + 1)));
    }
    const choice = choices[this.pick(choices.length)] as () => Buffer;
    file.settle(choice());
  }
}

/** The operations that wait for the device to flush: they take syncLatency(). */
const SYNCS = new Set(['datasync', 'sync', 'fsyncDir', 'syncfs', 'writeFileDurable']);

interface Pending {
  epoch: number;
  ready: boolean;
  complete: () => void;
}

/** The disk's state shared by SimDisk and its mounts. */
class State {
  tree = new Tree();
  /** Bumped by crash() and wipe(): a mount of an older epoch is a dead process. */
  epoch = 0;
  /** Async operations issued and not yet completed, in issue order. */
  private queue: Pending[] = [];

  constructor(readonly opts: SimDiskOptions) {}

  /**
   * Issue an async operation. Each waits its own latency, and completes only
   * once every earlier one has: completion = max(previous completion, issue + latency).
   */
  issue<T>(epoch: number, op: string, path: string, effect: () => T, killed: () => boolean = () => false): Promise<T> {
    if (epoch !== this.epoch || killed()) return new Promise<T>(() => {});
    const injected = this.opts.inject?.(op, path) ?? null;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        epoch,
        ready: false,
        complete: () => {
          if (killed()) {
            // kill -9 mid-call: the kernel finishes the call, but nobody is left to hear of it.
            if (injected === null) {
              try {
                effect();
              } catch {
                // nobody to tell
              }
            }
            return;
          }
          if (injected !== null) return reject(diskError(injected, op, path));
          try {
            resolve(effect());
          } catch (err) {
            reject(err);
          }
        },
      };
      this.queue.push(pending);
      const ms = SYNCS.has(op) ? (this.opts.syncLatency ?? (() => 1))() : (this.opts.latency ?? (() => 0.1))();
      this.opts.schedule(ms, () => {
        if (pending.epoch !== this.epoch) return; // crashed meanwhile: no effect, never settles
        pending.ready = true;
        while (this.queue[0]?.ready) (this.queue.shift() as Pending).complete();
      });
    });
  }

  /** A synchronous operation: immediate, refused to a dead process. */
  now<T>(epoch: number, op: string, path: string, effect: () => T): T {
    if (epoch !== this.epoch) throw diskError('EDEAD', op, path);
    const injected = this.opts.inject?.(op, path) ?? null;
    if (injected !== null) throw diskError(injected, op, path);
    return effect();
  }

  kill(): void {
    this.epoch++;
    this.queue = [];
  }
}

class SimFileHandle implements FileHandle {
  private closed = false;
  private position = 0;

  constructor(
    private readonly mount: Mount,
    private readonly path: string,
    private readonly file: FileNode,
    private readonly mode: 'append' | 'write',
  ) {}

  /** Closed-ness is judged at issue: an op issued before close() still completes. */
  private op(name: string, effect: () => void): Promise<void> {
    const closed = this.closed;
    return this.mount.issue(name, this.path, () => {
      if (closed) throw diskError('EBADF', name, this.path);
      effect();
    });
  }

  write(buffers: readonly Buffer[]): Promise<void> {
    const bytes = Buffer.concat(buffers); // always a copy
    return this.op('write', () => {
      if (this.mode === 'append') return this.file.append(bytes);
      this.file.writeAt(this.position, bytes);
      this.position += bytes.length;
    });
  }

  datasync(): Promise<void> {
    return this.op('datasync', () => this.file.sync());
  }

  sync(): Promise<void> {
    return this.op('sync', () => this.file.sync());
  }

  truncate(length: number): Promise<void> {
    return this.op('truncate', () => this.file.truncate(length));
  }

  /** Idempotent, as node's FileHandle.close(). */
  close(): Promise<void> {
    this.closed = true;
    return this.mount.issue('close', this.path, () => undefined);
  }
}

/** The Disk one process incarnation sees: each call is a Tree operation, issued (async) or done now (sync). */
class Mount implements Disk {
  /** Its process was killed (kill -9, not a power loss): nothing it calls any more takes effect. */
  killed = false;

  constructor(
    private readonly s: State,
    private readonly epoch: number,
  ) {}

  /** Read at the effect, not at the call: wipe() replaces the tree (and kills this mount). */
  private get tree(): Tree {
    return this.s.tree;
  }

  issue<T>(op: string, path: string, effect: (op: string) => T): Promise<T> {
    return this.s.issue(this.epoch, op, path, () => effect(op), () => this.killed);
  }

  private now<T>(op: string, path: string, effect: (op: string) => T): T {
    if (this.killed) throw diskError('EDEAD', op, path);
    return this.s.now(this.epoch, op, path, () => effect(op));
  }

  open(path: string, mode: 'append' | 'write'): Promise<FileHandle> {
    return this.issue('open', path, (op) => {
      const file = this.tree.createOrOpen(path, op);
      if (mode === 'write') file.replace(EMPTY);
      return new SimFileHandle(this, path, file, mode);
    });
  }

  statSync(path: string): FileStat | null {
    return this.now('statSync', path, (op) => {
      try {
        return this.tree.stat(path, op);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw err;
      }
    });
  }

  // Data is copied at the call (toBuffer), content read is copied at the effect.
  readonly readFile = (path: string) => this.issue('readFile', path, (op) => Buffer.from(this.tree.file(path, op).data));
  readonly readFileSync = (path: string) => this.now('readFileSync', path, (op) => Buffer.from(this.tree.file(path, op).data));
  readonly readRangesSync = (path: string, ranges: ReadonlyArray<readonly [number, number]>) =>
    this.now('readRangesSync', path, (op) => {
      const data = this.tree.file(path, op).data;
      return ranges.map(([offset, length]) => Buffer.from(data.subarray(offset, offset + length)));
    });
  readonly writeFile = (path: string, data: Buffer | string): Promise<void> => {
    const bytes = toBuffer(data);
    return this.issue('writeFile', path, (op) => void this.tree.writeFile(path, bytes, op));
  };
  readonly writeFileSync = (path: string, data: Buffer | string): void => {
    const bytes = toBuffer(data);
    this.now('writeFileSync', path, (op) => this.tree.writeFile(path, bytes, op));
  };
  readonly writeFileDurable = (path: string, data: Buffer | string): Promise<void> => {
    const bytes = toBuffer(data);
    return this.issue('writeFileDurable', path, (op) => this.tree.writeFile(path, bytes, op).sync());
  };
  readonly rename = (from: string, to: string) => this.issue('rename', from, (op) => this.tree.rename(from, to, op));
  readonly renameSync = (from: string, to: string) => this.now('renameSync', from, (op) => this.tree.rename(from, to, op));
  readonly unlink = (path: string) => this.issue('unlink', path, (op) => this.tree.unlink(path, op));
  readonly unlinkSync = (path: string) => this.now('unlinkSync', path, (op) => this.tree.unlink(path, op));
  readonly readdir = (path: string) => this.issue('readdir', path, (op) => sortedNames(this.tree.dir(path, op).entries));
  readonly readdirSync = (path: string) => this.now('readdirSync', path, (op) => sortedNames(this.tree.dir(path, op).entries));
  readonly mkdir = (path: string) => this.issue('mkdir', path, (op) => this.tree.mkdir(path, op));
  readonly mkdirSync = (path: string) => this.now('mkdirSync', path, (op) => this.tree.mkdir(path, op));
  readonly rmdir = (path: string) => this.issue('rmdir', path, (op) => this.tree.rmdir(path, op));
  readonly stat = (path: string) => this.issue('stat', path, (op) => this.tree.stat(path, op));
  readonly fsyncDir = (path: string) => this.issue('fsyncDir', path, (op) => this.tree.syncDir(path, op));
  readonly fsyncDirSync = (path: string) => this.now('fsyncDirSync', path, (op) => this.tree.syncDir(path, op));
  readonly appendFileSync = (path: string, data: Buffer | string): void => {
    const bytes = Buffer.from(data); // a copy: the caller may reuse its buffer
    this.now('appendFileSync', path, (op) => this.tree.createOrOpen(path, op).append(bytes));
  };
  readonly fsyncFileSync = (path: string) => this.now('fsyncFileSync', path, (op) => this.tree.file(path, op).sync());
  readonly syncfs = (path: string) => this.issue('syncfs', path, (op) => this.tree.syncfs(path, op));
  readonly statfs = (path: string) =>
    this.issue('statfs', path, () => {
      const used = [...this.tree.collect('current').values()].reduce((n, b) => n + b.length, 0);
      const total = this.s.opts.capacity ?? 1 << 30;
      return { free: Math.max(0, total - used), total };
    });
}

export class SimDisk {
  private readonly s: State;

  constructor(opts: SimDiskOptions) {
    this.s = new State(opts);
  }

  /** A Disk for one process incarnation; crash() and wipe() kill it. */
  mount(): Disk {
    return new Mount(this.s, this.s.epoch);
  }

  /** The process holding this mount was killed: calls under way take effect, none settles, no new one is made. */
  kill(mount: Disk): void {
    if (mount instanceof Mount) mount.killed = true;
  }

  /**
   * Power loss. From the root down, each folder keeps its current entries or
   * reverts to its durable ones (1/2 each), and each file reached that differs
   * from its durable content becomes the durable content, the current one, a
   * torn append, or (if rewritten) empty or a cut rewrite. The result is durable.
   */
  crash(): void {
    this.s.kill();
    const root = this.s.tree.root;
    new CrashResolver(this.s.opts.random, root).dir(root);
  }

  /** The disk is replaced: an empty file system. */
  wipe(): void {
    this.s.kill();
    this.s.tree = new Tree();
  }

  files(): Map<string, Buffer> {
    return this.s.tree.collect('current');
  }

  durableFiles(): Map<string, Buffer> {
    return this.s.tree.collect('durable');
  }
}
