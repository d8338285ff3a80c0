// A progress bar for transfers over 1 MiB, on a terminal only (never when piped).
import cliProgress from 'cli-progress';
import { open, type FileHandle } from 'node:fs/promises';

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

/** A file read from disk a piece at a time as the stream is pulled, each piece reported. */
export function fileStream(path: string, p: Progress): ReadableStream<Uint8Array> {
  const PIECE = 256 * 1024;
  let fh: FileHandle | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      fh ??= await open(path, 'r');
      const piece = Buffer.allocUnsafe(PIECE);
      const { bytesRead } = await fh.read(piece, 0, PIECE, null);
      if (bytesRead === 0) {
        await fh.close();
        controller.close();
        return;
      }
      p.tick(bytesRead);
      controller.enqueue(piece.subarray(0, bytesRead));
    },
    async cancel() {
      await fh?.close();
    },
  });
}
