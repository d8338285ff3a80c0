// A file's bytes as an upload brings them. Up to chunkBytes they are kept and
// stored whole, as any small file. Past that the file is cut into chunks of
// chunkBytes as the bytes arrive, each named by its SHA-256 and sent to its
// replicas while the next one is read, with at most UPLOAD_WINDOW chunks in
// flight: reading waits for a slot, so a fast client is slowed to the pace of
// the replicas and the coordinator holds a few chunks, never the file.
import { createHash } from 'node:crypto';
import { storeChunk } from '../coordinator/chunks.js';
import type { Cluster } from '../coordinator/cluster.js';
import { CHUNKS_NS } from '../protocol/messages.js';
import { passedThrough } from '../runtime/gc-nudge.js';
import { tooLarge } from './body.js';

/** Chunks being stored at once by one upload (until W replicas hold each). */
export const UPLOAD_WINDOW = 4;
/**
 * Chunk buffers one upload holds at most: the window, plus those whose puts past W are still under way
 * (and the one being filled waits for one of them). So the slowest replica paces a long upload, as it must
 * for the coordinator's memory to stay flat; a replica that does not answer is cut off by the request
 * timeout, and its buffer is then given up (a socket may still hold it) rather than filled again.
 */
const UPLOAD_BUFFERS = UPLOAD_WINDOW + 2;

export type Received =
  | { kind: 'whole'; body: Buffer; size: number }
  | {
      kind: 'chunked';
      /** The chunks' SHA-256 digests, 32 bytes each, in order: the body stored with the version. */
      list: Buffer;
      size: number;
      /** MD5 of the whole file, hex. */
      etag: string;
      bytes: number;
      count: number;
    };

export async function receiveFile(c: Cluster, source: AsyncIterable<Buffer>, limit: number): Promise<Received> {
  const chunkBytes = c.config.chunkBytes;
  const md5 = createHash('md5');
  const digests: Buffer[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  // Until more than a chunk has come, the pieces as they came (a small file is stored whole, and allocates
  // no chunk); after, each piece is copied once into the chunk being filled.
  let pieces: Buffer[] | null = [];
  let piecesBytes = 0;
  let chunk: Buffer | null = null;
  let filled = 0;
  // Chunk buffers are filled again once every put of theirs was answered: an upload allocates a few
  // instead of one per chunk, whose garbage (chunkBytes each, outside the JS heap, freed only by a
  // collection) would pile up and swell the process by tens of MiB. `held` counts those sent and not yet
  // back; a buffer whose put failed is not reused (a socket may still hold it) but is counted back.
  const free: Buffer[] = [];
  let held = 0;
  let returned: (() => void) | null = null;
  const settle = (buf: Buffer | null) => (clean: boolean) => {
    held--;
    if (clean && buf) free.push(buf);
    returned?.();
  };
  const takeBuffer = async (): Promise<Buffer> => {
    while (free.length === 0 && held >= UPLOAD_BUFFERS) {
      await new Promise<void>((r) => (returned = r));
      returned = null;
    }
    return free.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
  };
  let size = 0;

  const send = async (full: Buffer): Promise<void> => {
    while (inflight.size >= UPLOAD_WINDOW) await Promise.race(inflight);
    if (failure !== null) throw failure;
    const digest = createHash('sha256').update(full).digest();
    digests.push(digest);
    held++;
    const p: Promise<void> = storeChunk(c, digest.toString('hex'), full, settle(full.length === chunkBytes ? full : null)).then(
      () => {
        inflight.delete(p);
      },
      (err: unknown) => {
        inflight.delete(p);
        failure ??= err;
      },
    );
    inflight.add(p);
  };
  const fill = async (piece: Buffer): Promise<void> => {
    let off = 0;
    while (off < piece.length) {
      chunk ??= await takeBuffer();
      const k = piece.copy(chunk, filled, off);
      off += k;
      filled += k;
      if (filled === chunkBytes) {
        const full = chunk;
        chunk = null;
        filled = 0;
        await send(full);
      }
    }
  };

  // A long upload keeps the chunks it has stored young on their owners, so that no collection takes them
  // before its version names them (cron/chunk-gc.ts).
  const touchEvery = Math.max(1000, Math.floor(c.config.chunkGc.graceMs / 4));
  const toucher = c.rt.timers.setInterval(() => void touchChunks(c, digests.map((d) => d.toString('hex'))), touchEvery, { background: true });
  try {
    return await receive();
  } finally {
    toucher.cancel();
  }

  async function receive(): Promise<Received> {
    for await (const piece of source as AsyncIterable<Buffer>) {
      size += piece.length;
      if (size > limit) throw tooLarge(limit);
      passedThrough(piece.length);
      md5.update(piece);
      if (pieces) {
        pieces.push(piece);
        piecesBytes += piece.length;
        // Only once more than a chunk has come is the file a large one: a file of exactly chunkBytes is whole.
        if (piecesBytes <= chunkBytes) continue;
        const held = pieces;
        pieces = null;
        for (const p of held) await fill(p);
      } else {
        await fill(piece);
      }
      if (failure !== null) throw failure;
    }
    if (pieces) {
      const body = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, piecesBytes);
      return { kind: 'whole', body, size };
    }
    const last = chunk as Buffer | null;
    if (last && filled > 0) await send(last.subarray(0, filled));
    while (inflight.size > 0) await Promise.race(inflight);
    if (failure !== null) throw failure;
    return { kind: 'chunked', list: Buffer.concat(digests), size, etag: md5.digest('hex'), bytes: chunkBytes, count: digests.length };
  }
}

/** Mark chunks as just used on each of their owners (chunk_has with touch); an owner that fails is passed over. */
async function touchChunks(c: Cluster, hashes: readonly string[]): Promise<void> {
  const byNode = new Map<string, string[]>();
  for (const h of hashes) for (const n of new Set(c.writeLists(CHUNKS_NS, h).flat())) byNode.set(n, [...(byNode.get(n) ?? []), h]);
  await Promise.all(
    [...byNode].map(async ([node, list]) => {
      for (let i = 0; i < list.length; i += 10_000) await c.transport.request(c.peer(node), { type: 'chunk_has', hashes: list.slice(i, i + 10_000), touch: true }).catch(() => undefined);
    }),
  );
}
