// A progress bar for transfers over 1 MiB, on a terminal only (never when piped).
import cliProgress from 'cli-progress';

export const PROGRESS_THRESHOLD = 1024 * 1024;

export interface Progress {
  tick(bytes: number): void;
  done(): void;
}

export function progress(label: string, total: number | null, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY || total === null || total <= PROGRESS_THRESHOLD) return { tick: () => undefined, done: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let sent = 0;
  return {
    tick: (n) => {
      sent += n;
      bar.update(sent);
    },
    done: () => bar.stop(),
  };
}

/** A stream of `data` that reports each chunk as it is read. */
export function countingStream(data: Buffer, p: Progress): ReadableStream<Uint8Array> {
  const CHUNK = 256 * 1024;
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (off >= data.length) {
        controller.close();
        return;
      }
      const chunk = data.subarray(off, off + CHUNK);
      off += chunk.length;
      p.tick(chunk.length);
      controller.enqueue(chunk);
    },
  });
}
