// A raw socket client for tests: speaks frames by hand, with or without the
// handshake, so tests can send exactly the bytes an attacker or a broken peer would.
import { nodeRuntime } from '../../src/runtime/node.js';
import net from 'node:net';
import { FrameDecoder, encodeFrame, isFault, parseFrame, type Frame } from '../../src/protocol/codec.js';
import { FrameSealer, TAG_BYTES, clientProof, newNonce } from '../../src/net/auth.js';
import { TEST_SECRET } from './cluster.js';
import { waitFor } from './cluster.js';

export type AnyJson = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class RawConn {
  readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder(1 << 26);
  readonly frames: Array<Frame & { json: AnyJson }> = [];
  private challenge: AnyJson | null = null;
  sealer: FrameSealer | null = null;
  /** Every sealed frame this connection sent, as the bytes on the wire. */
  readonly sent: Buffer[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('data', (d) => {
      try {
        for (const payload of this.decoder.pushRaw(d)) {
          const opened = this.sealer ? this.sealer.open(payload) : payload;
          if (!opened) continue;
          const f = parseFrame(opened);
          if (isFault(f)) continue;
          const json = f.json as AnyJson;
          if (json.type === 'challenge') this.challenge = json;
          this.frames.push({ json, body: f.body });
        }
      } catch {
        this.socket.destroy();
      }
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }

  /** Complete the handshake as `node` with `secret`. */
  async authenticate(node = 'node1', secret = TEST_SECRET): Promise<void> {
    const ch = await waitFor('challenge', () => this.challenge, 5000, 10);
    const nonce = newNonce(nodeRuntime.random);
    const mac = clientProof(Buffer.from(secret), ch.node, ch.nonce, node, nonce);
    this.socket.write(Buffer.concat(encodeFrame({ v: 1, type: 'auth', node, nonce, mac })));
    await waitFor('welcome', () => this.frames.some((f) => f.json.type === 'welcome') || this.closed, 5000, 10);
    if (this.closed) throw new Error('closed during the handshake');
    this.sealer = new FrameSealer(Buffer.from(secret), ch.nonce, nonce, 'toServer');
  }

  /** Send a message: sealed once authenticated, bare before. Returns the bytes sent. */
  send(msg: object, body?: Buffer): Buffer {
    const chunks = encodeFrame(msg, body ? [body] : [], this.sealer ? TAG_BYTES : 0);
    const wire = Buffer.concat(this.sealer ? [...chunks, this.sealer.seal(chunks)] : chunks);
    this.sent.push(wire);
    this.socket.write(wire);
    return wire;
  }

  /** Frame and (once authenticated) seal arbitrary payload bytes: [u32 length][payload][tag]. */
  frameOf(payload: Buffer): Buffer {
    const tag = this.sealer ? TAG_BYTES : 0;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length + tag, 0);
    const first = Buffer.concat([head, payload]);
    return this.sealer ? Buffer.concat([first, this.sealer.seal([first])]) : first;
  }

  /** The bytes of a sealed message, without sending them. */
  seal(msg: object, body?: Buffer): Buffer {
    const chunks = encodeFrame(msg, body ? [body] : [], this.sealer ? TAG_BYTES : 0);
    return Buffer.concat(this.sealer ? [...chunks, this.sealer.seal(chunks)] : chunks);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async reply(re: string, timeoutMs = 5000): Promise<Frame & { json: AnyJson }> {
    return waitFor(`reply to ${re}`, () => this.frames.find((f) => f.json.re === re), timeoutMs, 10);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitFor('connection closed', () => this.closed, timeoutMs, 10);
  }

  end(): void {
    this.socket.destroy();
  }
}

export const msg = (id: string, type: string, fields: Record<string, unknown> = {}, sender = 'node1'): AnyJson => ({ v: 1, id, sender, type, ...fields });
