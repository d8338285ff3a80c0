// The only module that touches sockets. Every connection opens with the
// handshake of auth.ts; until it completes nothing else is read, and a
// connection that fails it is logged once and closed. After it, every frame is
// sealed with a MAC bound to the connection. Server: one FrameDecoder per
// connection, each frame checked, validated and bound to the authenticated
// node before a handler sees it; limits on waiting handshakes, idle time and
// requests in flight. Client: one pooled connection per peer, requests
// multiplexed by id, each with a timeout.
import net from 'node:net';
import { v4 as uuid } from 'uuid';
import { ErrorCode, RingstoreError, asRingstoreError, isCode } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameDecoder, encodeFrame, isFault, parseFrame } from '../protocol/codec.js';
import {
  PROTOCOL_VERSION,
  declaredBodyBytes,
  isRequest,
  validateHandshake,
  validateMessage,
  type Message,
  type Outgoing,
  type RequestType,
} from '../protocol/messages.js';
import { FrameSealer, TAG_BYTES, clientProof, newNonce, proofMatches, serverProof } from './auth.js';
import { refusal, type Listener, type PeerAddress, type ReplyEnvelope, type RequestHandler, type RequestOptions, type Transport } from './transport.js';

export interface SocketLimits {
  handshakeTimeoutMs: number;
  maxUnauthenticated: number;
  idleTimeoutMs: number;
  maxInFlightPerConnection: number;
}

export interface TcpOptions {
  /** This process's node id: what it authenticates as, and the `sender` of its messages. */
  self: string;
  secret: Buffer;
  /** The node ids allowed to connect (the cluster's members). */
  members: readonly string[];
  maxFrameBytes: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  limits: SocketLimits;
  log: Logger;
}

/** The largest frame accepted before a connection has authenticated. */
const HANDSHAKE_FRAME_BYTES = 4096;

function writeAll(socket: net.Socket, buffers: readonly Buffer[]): void {
  if (socket.destroyed || !socket.writable) return;
  socket.cork();
  for (const b of buffers) socket.write(b);
  process.nextTick(() => socket.uncork());
}

/** Encode, seal and write one message on an authenticated connection. */
function sendSealed(socket: net.Socket, sealer: FrameSealer, message: object, bodies: readonly Buffer[] = []): void {
  const chunks = encodeFrame(message, bodies, TAG_BYTES);
  writeAll(socket, [...chunks, sealer.seal(chunks)]);
}

/** Start the socket server of a node. */
export function listen(opts: TcpOptions & { host: string; port: number }, handler: RequestHandler): Promise<Listener> {
  const { log, self, limits } = opts;
  const members = new Set(opts.members);
  const sockets = new Set<net.Socket>();
  /** Connections still in their handshake, oldest first. */
  const unauthenticated = new Set<net.Socket>();
  const refusals = new RefusalLog(log);

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    let peer: string | null = null;
    let sealer: FrameSealer | null = null;
    let inFlight = 0;
    let paused = false;
    let complained = false;
    const refuse = (why: string): void => {
      if (!complained) refusals.note(remote, why);
      complained = true;
      socket.destroy();
    };

    // Never let strangers crowd out peers: past the cap, the oldest waiting handshake goes.
    if (unauthenticated.size >= limits.maxUnauthenticated) {
      const oldest = unauthenticated.values().next().value as net.Socket;
      unauthenticated.delete(oldest);
      oldest.destroy();
    }
    unauthenticated.add(socket);
    const handshakeTimer = setTimeout(() => refuse('no handshake in time'), limits.handshakeTimeoutMs);
    socket.on('error', (err) => log.debug('socket error', { remote, error: err.message }));
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      sockets.delete(socket);
      unauthenticated.delete(socket);
    });

    const serverNonce = newNonce();
    writeAll(socket, encodeFrame({ v: PROTOCOL_VERSION, type: 'challenge', node: self, nonce: serverNonce }));
    // A stranger gets no more than a handshake's worth of buffer.
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES);

    socket.on('data', (chunk) => {
      let payloads: Buffer[];
      try {
        payloads = decoder.pushRaw(chunk);
      } catch (err) {
        // The stream cannot be resynchronised: say why (to a member), then close.
        const e = asRingstoreError(err);
        if (!sealer) return refuse(e.message);
        log.warn('closing connection after bad frame', { remote, peer, code: e.code, error: e.message });
        sendSealed(socket, sealer, errorMessage(self, '-', e));
        socket.end();
        socket.pause();
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      for (const payload of payloads) {
        if (socket.destroyed) return;
        if (!sealer) {
          handshake(payload);
          continue;
        }
        const frame = sealer.open(payload);
        if (!frame) return refuse(`a frame from ${peer} failed its MAC (replayed, reordered or forged)`);
        const decoded = parseFrame(frame);
        if (isFault(decoded)) sendSealed(socket, sealer, errorMessage(self, '-', decoded.error));
        else void serve(decoded.json, decoded.body);
      }
    });

    function handshake(payload: Buffer): void {
      const decoded = parseFrame(payload);
      if (isFault(decoded)) return refuse('the first frame was not a handshake');
      try {
        const auth = validateHandshake(decoded.json, 'auth');
        if (auth.type !== 'auth') return;
        if (!members.has(auth.node)) return refuse(`${auth.node} is not a member of this cluster`);
        if (!proofMatches(clientProof(opts.secret, self, serverNonce, auth.node, auth.nonce), auth.mac)) {
          return refuse(`${auth.node} did not prove it knows the cluster secret`);
        }
        peer = auth.node;
        sealer = new FrameSealer(opts.secret, serverNonce, auth.nonce, 'toClient');
        decoder.setLimit(opts.maxFrameBytes);
        clearTimeout(handshakeTimer);
        unauthenticated.delete(socket);
        writeAll(socket, encodeFrame({ v: PROTOCOL_VERSION, type: 'welcome', mac: serverProof(opts.secret, self, serverNonce, auth.node, auth.nonce) }));
        socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
      } catch (err) {
        refuse((err as Error).message);
      }
    }

    async function serve(json: unknown, body: Buffer): Promise<void> {
      const rawId = (json as { id?: unknown }).id;
      const re = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64 ? rawId : '-';
      inFlight++;
      if (inFlight >= limits.maxInFlightPerConnection && !paused) {
        paused = true;
        socket.pause();
      }
      try {
        const message = validateMessage(json);
        if (!isRequest(message)) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `a ${message.type} is a reply, not a request`);
        if (message.sender !== peer) {
          throw new RingstoreError(ErrorCode.BAD_MESSAGE, `sender ${message.sender} is not the node this connection authenticated as (${peer})`);
        }
        const declared = declaredBodyBytes(message);
        if (declared !== body.length) {
          throw new RingstoreError(ErrorCode.BAD_FRAME, `message declares ${declared} body bytes but the frame carries ${body.length}`);
        }
        const result = await handler(message, body);
        if (sealer) sendSealed(socket, sealer, { ...result.reply, v: PROTOCOL_VERSION, id: uuid(), sender: self, re }, result.bodies ?? []);
      } catch (err) {
        const e = asRingstoreError(err);
        if (e.code === ErrorCode.INTERNAL) log.error('handler failed', { re, error: e.message, stack: (e.cause as Error | undefined)?.stack });
        if (sealer) sendSealed(socket, sealer, errorMessage(self, re, e));
      } finally {
        // A request counts until its reply has left: a peer that does not read its replies is stopped, not buffered for.
        if (socket.writableNeedDrain && !socket.destroyed) {
          await new Promise<void>((res) => {
            const done = (): void => {
              socket.off('drain', done);
              socket.off('close', done);
              res();
            };
            socket.on('drain', done);
            socket.on('close', done);
          });
        }
        inFlight--;
        if (paused && inFlight < limits.maxInFlightPerConnection) {
          paused = false;
          socket.resume();
        }
      }
    }
  });
  server.maxConnections = 100_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error('server error', { error: err.message }));
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : opts.port,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}

function errorMessage(self: string, re: string, err: RingstoreError): object {
  return {
    v: PROTOCOL_VERSION,
    id: uuid(),
    sender: self,
    re,
    type: 'error',
    code: err.code,
    message: err.message,
    ...(err.details ? { details: err.details } : {}),
  };
}

interface Pending {
  resolve: (e: { reply: Message; body: Buffer }) => void;
  reject: (err: RingstoreError) => void;
  timer: NodeJS.Timeout;
}

/** One pooled, authenticated connection to one peer, multiplexing requests by id. */
class PeerConnection {
  private readonly socket: net.Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly decoder: FrameDecoder;
  private sealer: FrameSealer | null = null;
  /** Frames to send once the handshake completes. */
  private queue: Array<{ message: object; bodies: readonly Buffer[] }> = [];
  private readonly clientNonce = newNonce();
  private serverNonce: string | null = null;
  closed = false;

  constructor(
    private readonly peer: PeerAddress,
    private readonly opts: TcpOptions,
    private readonly onClose: () => void,
  ) {
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    this.socket = net.connect({ host: peer.host, port: peer.port });
    this.socket.setNoDelay(true);
    const openTimer = setTimeout(() => {
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${peer.id} did not accept a connection within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    this.socket.on('data', (chunk) => this.onData(chunk, openTimer));
    this.socket.on('error', (err) => {
      clearTimeout(openTimer);
      const refused = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${peer.id} (${peer.host}:${peer.port}): ${err.message}`, { cause: err, details: refusal(refused) }));
    });
    this.socket.on('close', () => {
      clearTimeout(openTimer);
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `connection to ${peer.id} closed`));
    });
    // Close before the server's idle timeout would, so a request never races a closing connection.
    this.socket.setTimeout(Math.max(500, Math.floor(opts.limits.idleTimeoutMs / 2)), () => {
      if (this.pending.size === 0) this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, 'idle'));
    });
  }

  send(message: Record<string, unknown>, bodies: readonly Buffer[], timeoutMs: number): Promise<{ reply: Message; body: Buffer }> {
    const id = uuid();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RingstoreError(ErrorCode.PEER_TIMEOUT, `${this.peer.id} did not answer ${String(message.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const full = { ...message, v: PROTOCOL_VERSION, id, sender: this.opts.self };
      if (this.sealer) sendSealed(this.socket, this.sealer, full, bodies);
      else this.queue.push({ message: full, bodies });
    });
  }

  private onData(chunk: Buffer, openTimer: NodeJS.Timeout): void {
    let payloads: Buffer[];
    try {
      payloads = this.decoder.pushRaw(chunk);
    } catch (err) {
      this.fail(asRingstoreError(err));
      return;
    }
    for (const payload of payloads) {
      if (this.closed) return;
      if (!this.sealer) {
        try {
          this.handshake(payload);
          if (this.sealer) clearTimeout(openTimer);
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
      writeAll(this.socket, encodeFrame({ v: PROTOCOL_VERSION, type: 'auth', node: this.opts.self, nonce: this.clientNonce, mac }));
      return;
    }
    const w = validateHandshake(decoded.json, 'welcome');
    if (w.type !== 'welcome') return;
    if (!proofMatches(serverProof(this.opts.secret, this.peer.id, this.serverNonce, this.opts.self, this.clientNonce), w.mac)) {
      throw new Error(`${this.peer.id} did not prove it knows the cluster secret`);
    }
    this.sealer = new FrameSealer(this.opts.secret, this.serverNonce, this.clientNonce, 'toServer');
    for (const q of this.queue) sendSealed(this.socket, this.sealer, q.message, q.bodies);
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
    clearTimeout(p.timer);
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
      this.onClose();
      this.socket.destroy();
    }
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
    this.queue = [];
  }
}

export class TcpTransport implements Transport {
  private readonly pool = new Map<string, PeerConnection>();

  constructor(private readonly opts: TcpOptions) {}

  async request<T extends RequestType>(peer: PeerAddress, message: Outgoing<T> & { type: T }, bodies: readonly Buffer[] = [], ro: RequestOptions = {}): Promise<ReplyEnvelope<T>> {
    const key = `${peer.id}@${peer.host}:${peer.port}`;
    let conn = this.pool.get(key);
    if (!conn || conn.closed) {
      const fresh = new PeerConnection(peer, this.opts, () => {
        if (this.pool.get(key) === fresh) this.pool.delete(key);
      });
      this.pool.set(key, fresh);
      conn = fresh;
    }
    const { reply, body } = await conn.send(message as Record<string, unknown>, bodies, ro.timeoutMs ?? this.opts.requestTimeoutMs);
    const expected = message.type === 'ping' ? 'pong' : `${message.type}_reply`;
    if (reply.type !== expected) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `${peer.id} answered ${message.type} with ${reply.type}`);
    return { reply, body } as ReplyEnvelope<T>;
  }

  async close(): Promise<void> {
    for (const c of this.pool.values()) c.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, 'transport closed'));
    this.pool.clear();
  }
}

/** The transport options of a process of node `self`, from the config. */
export function tcpOptions(config: import('../config.js').ClusterConfig, self: string, secret: Buffer, log: Logger): TcpOptions {
  return {
    self,
    secret,
    members: config.nodes.map((n) => n.id),
    maxFrameBytes: config.maxFrameBytes,
    requestTimeoutMs: config.timeouts.requestMs,
    connectTimeoutMs: config.timeouts.connectMs,
    limits: config.limits,
    log,
  };
}

/**
 * One log line per refused connection, but at most one a second: a flood of
 * strangers must not flood the log. The lines held back are counted in the next.
 */
class RefusalLog {
  private last = 0;
  private held = 0;

  constructor(private readonly log: Logger) {}

  note(remote: string, why: string): void {
    const now = Date.now();
    if (now - this.last < 1000) {
      this.held++;
      return;
    }
    this.log.warn('connection refused', { remote, why, ...(this.held ? { alsoRefusedSinceLastLine: this.held } : {}) });
    this.last = now;
    this.held = 0;
  }
}
