// Cluster authentication on the socket port. The handshake is a challenge and
// response with HMAC-SHA256 under the cluster secret, in both directions, so the
// secret never crosses the wire. It yields a key for this connection only; every
// later frame carries a 16-byte GMAC (AES-256-GCM over nothing, the frame as
// associated data) whose nonce is the direction and a sequence number. A frame
// copied to another connection fails (other key), replayed or reordered on the
// same one fails (other sequence number).
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { Random } from '../runtime/runtime.js';

export const TAG_BYTES = 16;
const LABEL = 'ringstore-auth-v1';

export function newNonce(random: Random): string {
  return random.bytes(16).toString('hex');
}

function hmac(secret: Buffer, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

/** What the client sends to prove it knows the secret: bound to both nonces and both node ids. */
export function clientProof(secret: Buffer, server: string, serverNonce: string, client: string, clientNonce: string): string {
  return hmac(secret, `${LABEL}|client|${server}|${serverNonce}|${client}|${clientNonce}`).toString('hex');
}

export function serverProof(secret: Buffer, server: string, serverNonce: string, client: string, clientNonce: string): string {
  return hmac(secret, `${LABEL}|server|${server}|${serverNonce}|${client}|${clientNonce}`).toString('hex');
}

export function proofMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export type Direction = 'toServer' | 'toClient';

/** Seals frames one way and opens them the other, for one connection. */
export class FrameSealer {
  private readonly key: Buffer;
  private sendSeq = 0n;
  private recvSeq = 0n;

  constructor(
    secret: Buffer,
    serverNonce: string,
    clientNonce: string,
    private readonly sending: Direction,
  ) {
    this.key = hmac(secret, `${LABEL}|session|${serverNonce}|${clientNonce}`);
  }

  private tag(direction: Direction, seq: bigint, parts: readonly Buffer[]): Buffer {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(direction === 'toServer' ? 1 : 2, 0);
    iv.writeBigUInt64BE(seq, 4);
    const gcm = createCipheriv('aes-256-gcm', this.key, iv);
    for (const p of parts) if (p.length > 0) gcm.setAAD(p);
    gcm.final();
    return gcm.getAuthTag();
  }

  /** The tag to append to an encoded frame: over everything after its 4-byte length prefix. */
  seal(chunks: readonly Buffer[]): Buffer {
    const parts = [(chunks[0] as Buffer).subarray(4), ...chunks.slice(1)];
    return this.tag(this.sending, this.sendSeq++, parts);
  }

  /** Check a received frame payload (tag last); return it without the tag, or null if it is not authentic. */
  open(payload: Buffer): Buffer | null {
    if (payload.length < TAG_BYTES) return null;
    const body = payload.subarray(0, payload.length - TAG_BYTES);
    const given = payload.subarray(payload.length - TAG_BYTES);
    const receiving: Direction = this.sending === 'toServer' ? 'toClient' : 'toServer';
    const expected = this.tag(receiving, this.recvSeq, [body]);
    if (!timingSafeEqual(expected, given)) return null;
    this.recvSeq++;
    return body;
  }
}
