// The Disk of a real machine: node:fs, with the durability each call promises
// (see ./disk.ts). syncfs is coreutils' `sync -f`, which calls syncfs(2).
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rmdir, stat, statfs, unlink, writeFile, type FileHandle as NodeFileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Disk, FileHandle, FileStat } from './disk.js';

const run = promisify(execFile);

class NodeHandle implements FileHandle {
  constructor(private readonly fh: NodeFileHandle) {}

  async write(buffers: readonly Buffer[]): Promise<void> {
    let rest = [...buffers];
    while (rest.length > 0) {
      let { bytesWritten } = await this.fh.writev(rest.slice(0, 1024));
      const next: Buffer[] = [];
      for (const b of rest) {
        if (bytesWritten >= b.length) bytesWritten -= b.length;
        else {
          next.push(bytesWritten > 0 ? b.subarray(bytesWritten) : b);
          bytesWritten = 0;
        }
      }
      rest = next;
    }
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

function fsyncPathSync(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const nodeDisk: Disk = {
  async open(path, mode) {
    return new NodeHandle(await open(path, mode === 'append' ? 'a' : 'w', 0o644));
  },
  readFile: (path) => readFile(path),
  readFileSync: (path) => readFileSync(path),
  readRangesSync(path, ranges) {
    const fd = openSync(path, 'r');
    try {
      return ranges.map(([offset, length]) => {
        const b = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const n = readSync(fd, b, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return b.subarray(0, got);
      });
    } finally {
      closeSync(fd);
    }
  },
  writeFileSync: (path, data) => writeFileSync(path, data, { mode: 0o644 }),
  async writeFileDurable(path, data) {
    const fh = await open(path, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  writeFile: (path, data) => writeFile(path, data, { mode: 0o644 }),
  appendFileSync: (path, data) => appendFileSync(path, data, { mode: 0o644 }),
  fsyncFileSync: (path) => fsyncPathSync(path, 'r+'),
  rename: (from, to) => rename(from, to),
  renameSync: (from, to) => renameSync(from, to),
  unlink: (path) => unlink(path),
  unlinkSync: (path) => unlinkSync(path),
  async readdir(path) {
    return (await readdir(path)).sort();
  },
  readdirSync: (path) => readdirSync(path).sort(),
  mkdir: (path) => mkdir(path, { recursive: true }),
  mkdirSync: (path) => mkdirSync(path, { recursive: true }),
  rmdir: (path) => rmdir(path),
  async stat(path): Promise<FileStat> {
    const s = await stat(path);
    return { size: s.size, isDirectory: s.isDirectory() };
  },
  statSync(path): FileStat | null {
    const s = statSync(path, { throwIfNoEntry: false });
    return s ? { size: s.size, isDirectory: s.isDirectory() } : null;
  },
  async fsyncDir(path) {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  fsyncDirSync: (path) => fsyncPathSync(path, 'r'),
  async syncfs(path) {
    await run('sync', ['-f', path]);
  },
  async statfs(path) {
    const s = await statfs(path);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  },
};
