// The disk a node's storage sees: the few file-system calls it needs, each with
// the durability it promises stated, so that a simulated disk can drop exactly
// what was not made durable when it "loses power". Paths are absolute strings.
// Errors carry the errno `code` of node:fs ('ENOENT', 'EEXIST', 'ENOTEMPTY',
// 'ENOSPC', 'EIO', ...), so callers test err.code the same way for both disks.
//
// Durability, as on ext4 after a power loss:
// - a file's content is durable once fsync/fdatasync of it (or syncfs) returns;
// - a directory entry (a create, rename or unlink in a folder) is durable once
//   fsyncDir of that folder (or syncfs) returns; fsync of a file does not make
//   its name durable;
// - anything not yet durable may be lost, kept, or (for a file's tail) kept in part.

export interface FileStat {
  size: number;
  isDirectory: boolean;
}

/** An open file. Writes go at the end for 'append', from the start for 'write'. */
export interface FileHandle {
  /** Write every buffer, in order (the whole of each, however many calls it takes). */
  write(buffers: readonly Buffer[]): Promise<void>;
  /** Make the content durable (fdatasync). */
  datasync(): Promise<void>;
  /** Make the content and the file's metadata durable (fsync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  /** 'append': create if missing, write at the end. 'write': create or truncate. */
  open(path: string, mode: 'append' | 'write'): Promise<FileHandle>;
  readFile(path: string): Promise<Buffer>;
  readFileSync(path: string): Buffer;
  /** Bytes of a file at [offset, length] ranges, one open for the lot (a range past the end comes back short). */
  readRangesSync(path: string, ranges: ReadonlyArray<readonly [number, number]>): Buffer[];
  /** Create or replace the content of a file, not durably (no fsync). */
  writeFileSync(path: string, data: Buffer | string): void;
  /** Create or replace the content of a file and fsync it (its name is not durable until fsyncDir). */
  writeFileDurable(path: string, data: Buffer | string): Promise<void>;
  /** Create or replace, no fsync. */
  writeFile(path: string, data: Buffer | string): Promise<void>;
  /** Append to a file (created if missing), not durably. */
  appendFileSync(path: string, data: Buffer | string): void;
  /** Make a file's content durable (fsync), by name. */
  fsyncFileSync(path: string): void;
  rename(from: string, to: string): Promise<void>;
  renameSync(from: string, to: string): void;
  unlink(path: string): Promise<void>;
  unlinkSync(path: string): void;
  /** Names in a folder, sorted. */
  readdir(path: string): Promise<string[]>;
  readdirSync(path: string): string[];
  /** mkdir -p; returns the first folder it created, or undefined if `path` existed. */
  mkdir(path: string): Promise<string | undefined>;
  mkdirSync(path: string): string | undefined;
  /** Remove an empty folder (ENOTEMPTY otherwise). */
  rmdir(path: string): Promise<void>;
  stat(path: string): Promise<FileStat>;
  /** null if absent. */
  statSync(path: string): FileStat | null;
  /** Make the entries of a folder (creates, renames, unlinks in it) durable. */
  fsyncDir(path: string): Promise<void>;
  fsyncDirSync(path: string): void;
  /** Make everything written so far on this file system durable (syncfs, coreutils' sync -f). */
  syncfs(path: string): Promise<void>;
  /** Space on the file system holding `path`: what an unprivileged writer may still use, and the whole. */
  statfs(path: string): Promise<{ free: number; total: number }>;
}

/** An error shaped like node:fs's. */
export function diskError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

export function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}
