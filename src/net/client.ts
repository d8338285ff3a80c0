// The client side of the socket protocol, over any Network: one pooled,
// authenticated connection per peer, requests multiplexed by id, each with a
// timeout. A peer whose port refuses the connection (or fails the handshake)
// is reported as a refusal: proof that it is not serving, unlike a timeout.
import { ErrorCode, RingstoreError, asRingstoreError, isCode } from '../errors.js';
import { FrameDecoder, encodeFrame, isFault, parseFrame } from '../protocol/codec.js';
import { passedThrough } from '../runtime/gc-nudge.js';
import { PROTOCOL_VERSION, validateHandshake, validateMessage, type Message, type Outgoing, type RequestType } from '../protocol/messages.js';
import type { Pipe } from '../runtime/network.js';
import type { Runtime, Timer } from '../runtime/runtime.js';
import { FrameSealer, clientProof, newNonce, proofMatches, serverProof } from './auth.js';
import { sendSealed } from './server.js';
import { refusal, type PeerAddress, type ReplyEnvelope, type RequestOptions, type Transport, type TransportOptions } from './transport.js';

interface Pending {
  resolve: (e: { reply: Message; body: Buffer }) => void;
  reject: (err: RingstoreError) => void;
  timer: Timer;
}

class PeerConnection {
  private readonly pipe: Pipe;
  private readonly pending = new Map<string, Pending>();
  private readonly decoder: FrameDecoder;
  private sealer: FrameSealer | null = null;
  /** Frames to send once the handshake completes. */
  private queue: Array<{ message: object; bodies: readonly Buffer[] }> = [];
  private readonly clientNonce: string;
  private serverNonce: string | null = null;
  private readonly openTimer: Timer;
  private idleTimer: Timer | null = null;
  private lastUsed: number;
  /** When a whole frame last arrived on this connection (monotonic ms). */
  private lastHeard: number;
  closed = false;

  constructor(
    private readonly rt: Runtime,
    private readonly peer: PeerAddress,
    private readonly opts: TransportOptions,
    private readonly onClose: () => void,
  ) {
    this.clientNonce = newNonce(rt.random);
    this.lastUsed = rt.clock.monotonic();
    this.lastHeard = this.lastUsed;
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    this.pipe = rt.net.connect(peer.host, peer.port);
    this.openTimer = rt.timers.setTimeout(() => {
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${peer.id} did not accept a connection within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    this.pipe.onData((chunk) => this.onData(chunk));
    this.pipe.onClose((err) => {
      this.openTimer.cancel();
      const refused = err?.code === 'ECONNREFUSED';
      const why = err ? `${peer.id} (${peer.host}:${peer.port}): ${err.message}` : `connection to ${peer.id} closed`;
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, why, { ...(err ? { cause: err } : {}), details: refusal(refused) }));
    });
    this.watchIdle();
  }

  /** Close before the server's idle timeout would, so a request never races a closing connection. */
  private watchIdle(): void {
    const limit = Math.max(500, Math.floor(this.opts.limits.idleTimeoutMs / 2));
    const idleFor = this.rt.clock.monotonic() - this.lastUsed;
    if (idleFor >= limit && this.pending.size === 0) return this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, 'idle'));
    this.idleTimer = this.rt.timers.setTimeout(() => this.watchIdle(), Math.max(limit - idleFor, 100), { background: true });
  }

  send(message: Record<string, unknown>, bodies: readonly Buffer[], timeoutMs: number): Promise<{ reply: Message; body: Buffer }> {
    const id = this.rt.random.uuid();
    const sentAt = (this.lastUsed = this.rt.clock.monotonic());
    return new Promise((resolve, reject) => {
      const timer = this.rt.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new RingstoreError(ErrorCode.PEER_TIMEOUT, `${this.peer.id} did not answer ${String(message.type)} within ${timeoutMs} ms`));
        // Not a byte since this request left: the connection may be half-open (the peer closed it while a
        // partition dropped the news, as the simulator found). Let the next request open a new one.
        if (this.lastHeard <= sentAt) this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `the connection to ${this.peer.id} went silent for ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const full = { ...message, v: PROTOCOL_VERSION, id, sender: this.opts.self };
      if (this.sealer) sendSealed(this.pipe, this.sealer, full, bodies);
      else this.queue.push({ message: full, bodies });
    });
  }

  private onData(chunk: Buffer): void {
    this.lastUsed = this.rt.clock.monotonic();
    passedThrough(chunk.length);
    let payloads: Buffer[];
    try {
      payloads = this.decoder.pushRaw(chunk);
    } catch (err) {
      this.fail(asRingstoreError(err));
      return;
    }
    // Heard from only once a whole frame is in: bytes that never complete one (a stream out of step, whose
    // length prefix promises a frame that never comes) must not keep a dead connection looking alive. The
    // simulator found one: split halves of a frame swapped, and every later request timed out on it.
    if (payloads.length > 0) this.lastHeard = this.lastUsed;
    for (const payload of payloads) {
      if (this.closed) return;
      if (!this.sealer) {
        try {
          this.handshake(payload);
          if (this.sealer) this.openTimer.cancel();
        } catch (err) {
          this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `handshake with ${this.peer.id} failed: ${(err as Error).message}`, { details: refusal(true) }));
        }
        continue;
      }
      const frame = this.sealer.open(payload);
      if (!frame) {
        this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `a frame from ${this.peer.id} failed its MAC`, { details: refusal(true) }));
        return;
      }
      this.deliver(frame);
    }
  }

  private handshake(payload: Buffer): void {
    const decoded = parseFrame(payload);
    if (isFault(decoded)) throw decoded.error;
    if (this.serverNonce === null) {
      const ch = validateHandshake(decoded.json, 'challenge');
      if (ch.type !== 'challenge') return;
      if (ch.node !== this.peer.id) throw new Error(`expected ${this.peer.id}, found ${ch.node} at ${this.peer.host}:${this.peer.port}`);
      this.serverNonce = ch.nonce;
      const mac = clientProof(this.opts.secret, this.peer.id, ch.nonce, this.opts.self, this.clientNonce);
      this.pipe.write(encodeFrame({ v: PROTOCOL_VERSION, type: 'auth', node: this.opts.self, nonce: this.clientNonce, mac }));
      return;
    }
    const w = validateHandshake(decoded.json, 'welcome');
    if (w.type !== 'welcome') return;
    if (!proofMatches(serverProof(this.opts.secret, this.peer.id, this.serverNonce, this.opts.self, this.clientNonce), w.mac)) {
      throw new Error(`${this.peer.id} did not prove it knows the cluster secret`);
    }
    this.sealer = new FrameSealer(this.opts.secret, this.serverNonce, this.clientNonce, 'toServer');
    for (const q of this.queue) sendSealed(this.pipe, this.sealer, q.message, q.bodies);
    this.queue = [];
  }

  private deliver(frame: Buffer): void {
    const decoded = parseFrame(frame);
    if (isFault(decoded)) {
      this.opts.log.warn('bad frame from peer', { peer: this.peer.id, error: decoded.error.message });
      return;
    }
    let message: Message;
    try {
      message = validateMessage(decoded.json);
    } catch (err) {
      this.opts.log.warn('invalid reply from peer', { peer: this.peer.id, error: (err as Error).message });
      return;
    }
    if (!('re' in message)) return;
    const p = this.pending.get(message.re);
    if (!p) return; // answered after its timeout
    this.pending.delete(message.re);
    p.timer.cancel();
    if (message.type === 'error') {
      const code = isCode(message.code) ? message.code : ErrorCode.INTERNAL;
      p.reject(new RingstoreError(code, message.message, message.details ? { details: message.details } : {}));
    } else {
      p.resolve({ reply: message, body: decoded.body });
    }
  }

  fail(err: RingstoreError): void {
    if (!this.closed) {
      this.closed = true;
      this.openTimer.cancel();
      this.idleTimer?.cancel();
      this.onClose();
      this.pipe.destroy();
    }
    for (const [id, p] of this.pending) {
      p.timer.cancel();
      p.reject(err);
      this.pending.delete(id);
    }
    this.queue = [];
  }
}

/** Requests to peers over pooled, authenticated connections of the runtime's network. */
export class PipeTransport implements Transport {
  private readonly pool = new Map<string, PeerConnection>();

  constructor(
    private readonly rt: Runtime,
    private readonly opts: TransportOptions,
  ) {}

  async request<T extends RequestType>(peer: PeerAddress, message: Outgoing<T> & { type: T }, bodies: readonly Buffer[] = [], ro: RequestOptions = {}): Promise<ReplyEnvelope<T>> {
    const key = `${peer.id}@${peer.host}:${peer.port}`;
    const send = (): { fresh: boolean; sent: Promise<{ reply: Message; body: Buffer }> } => {
      let conn = this.pool.get(key);
      const fresh = !conn || conn.closed;
      if (!conn || conn.closed) {
        const made: PeerConnection = new PeerConnection(this.rt, peer, this.opts, () => {
          if (this.pool.get(key) === made) this.pool.delete(key);
        });
        this.pool.set(key, made);
        conn = made;
      }
      return { fresh, sent: conn.send(message as Record<string, unknown>, bodies, ro.timeoutMs ?? this.opts.requestTimeoutMs) };
    };
    const first = send();
    let answer: { reply: Message; body: Buffer };
    try {
      answer = await first.sent;
    } catch (err) {
      // A pooled connection can be dead without our knowing (the peer restarted): the request fails
      // with the connection, unanswered. Once more on a new one, unless it minted a version (update).
      if (first.fresh || message.type === 'update' || !isConnectionLoss(err)) throw err;
      answer = await send().sent;
    }
    const { reply, body } = answer;
    const expected = message.type === 'ping' ? 'pong' : `${message.type}_reply`;
    if (reply.type !== expected) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `${peer.id} answered ${message.type} with ${reply.type}`);
    return { reply, body } as ReplyEnvelope<T>;
  }

  async close(): Promise<void> {
    for (const c of this.pool.values()) c.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, 'transport closed'));
    this.pool.clear();
  }
}

/** The connection went away under a request (reset, closed): not a timeout, not an answer. */
function isConnectionLoss(err: unknown): boolean {
  return err instanceof RingstoreError && err.code === ErrorCode.PEER_UNAVAILABLE;
}
