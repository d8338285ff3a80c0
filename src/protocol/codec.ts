// The frame codec. A frame is
//   u32 BE  length of the rest of the frame (L)
//   u32 BE  length of the JSON message (J), J <= L - 4
//   J bytes the message, UTF-8 JSON
//   L-4-J   raw bytes: the bodies the message describes, back to back
// The decoder knows nothing about sockets: it takes chunks and yields whole
// frames, and refuses a length over the limit before buffering any of it.
import { ErrorCode, RingstoreError } from '../errors.js';

export const LENGTH_BYTES = 4;
const MIN_REST = 4; // the JSON length field

export interface Frame {
  json: unknown;
  body: Buffer;
}

/** A frame whose boundaries were fine but whose content was not: the stream goes on. */
export interface FrameFault {
  error: RingstoreError;
}

export type Decoded = Frame | FrameFault;

export function isFault(d: Decoded): d is FrameFault {
  return 'error' in d;
}

/**
 * Encode one message and its bodies as the buffers to write, without copying
 * the bodies. `trailer` bytes (a MAC) are counted in the length, for the
 * caller to append.
 */
export function encodeFrame(message: object, bodies: readonly Buffer[] = [], trailer = 0): Buffer[] {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  let bodyBytes = 0;
  for (const b of bodies) bodyBytes += b.length;
  const head = Buffer.allocUnsafe(8 + json.length);
  head.writeUInt32BE(MIN_REST + json.length + bodyBytes + trailer, 0);
  head.writeUInt32BE(json.length, 4);
  json.copy(head, 8);
  return bodies.length === 0 ? [head] : [head, ...bodies.filter((b) => b.length > 0)];
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being collected (after its 4-byte prefix), once known. */
  private need = -1;

  constructor(private maxFrameBytes: number) {}

  /** Change the largest frame accepted (a connection allows only small frames until it has authenticated). */
  setLimit(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Feed a chunk; get back every frame it completes. Throws RingstoreError
   * (FRAME_TOO_LARGE, BAD_FRAME) when the stream cannot be trusted any more:
   * the caller must then close the connection.
   */
  push(chunk: Buffer): Decoded[] {
    return this.pushRaw(chunk).map(parseFrame);
  }

  /** Like push, but yields each frame's raw payload (everything after its length prefix), for a caller that checks a MAC first. */
  pushRaw(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < LENGTH_BYTES) return out;
        const len = this.take(LENGTH_BYTES).readUInt32BE(0);
        if (len > this.maxFrameBytes) {
          throw new RingstoreError(ErrorCode.FRAME_TOO_LARGE, `frame of ${len} bytes is over the limit of ${this.maxFrameBytes}`);
        }
        if (len < MIN_REST) throw new RingstoreError(ErrorCode.BAD_FRAME, `frame length ${len} is too short`);
        this.need = len;
      }
      if (this.buffered < this.need) return out;
      const frame = this.take(this.need);
      this.need = -1;
      out.push(frame);
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0] as Buffer;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** Split a frame's payload into its JSON message and its body bytes. */
export function parseFrame(frame: Buffer): Decoded {
  const jsonLen = frame.readUInt32BE(0);
  if (jsonLen > frame.length - MIN_REST) {
    return { error: new RingstoreError(ErrorCode.BAD_FRAME, `JSON length ${jsonLen} exceeds the frame (${frame.length - MIN_REST} bytes)`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(frame.toString('utf8', MIN_REST, MIN_REST + jsonLen));
  } catch (err) {
    return { error: new RingstoreError(ErrorCode.BAD_FRAME, `frame does not hold valid JSON: ${(err as Error).message}`) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { error: new RingstoreError(ErrorCode.BAD_FRAME, 'a message must be a JSON object') };
  }
  return { json, body: frame.subarray(MIN_REST + jsonLen) };
}

/** Split a frame's body into the bodies its message lists, in order. */
export function splitBodies<B extends { size: number }>(refs: readonly B[], body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (const r of refs) {
    out.push(body.subarray(off, off + r.size));
    off += r.size;
  }
  return out;
}

/** Room kept in every frame for its JSON message: the bodies of one frame get the rest. */
export const JSON_ROOM = 1024 * 1024;

export function bodyBudget(maxFrameBytes: number): number {
  return Math.max(1, maxFrameBytes - JSON_ROOM);
}
