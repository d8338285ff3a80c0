// Where a process's log lines go: its standard output, written synchronously
// line by line. A line that cannot be written (a full disk under the log file,
// a folder gone, a closed pipe) is dropped and counted, and the next line is
// tried again: a logger never takes its process down, and logging resumes by
// itself when the disk has room.
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export class LogSink extends Writable {
  /** Lines that could not be written. */
  dropped = 0;

  constructor(private readonly fd = 1) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    try {
      for (let at = 0; at < buf.length; ) at += writeSync(this.fd, buf, at, buf.length - at);
    } catch {
      this.dropped++;
    }
    done();
  }
}
