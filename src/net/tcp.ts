// The only module that touches sockets. Server: one FrameDecoder per connection,
// each frame validated before a handler sees it, errors answered as `error`
// frames, fatal framing errors answered and the connection closed. Client: one
// pooled connection per peer, requests multiplexed by id, each with a timeout.
import net from 'node:net';
import { v4 as uuid } from 'uuid';
import { ErrorCode, RingstoreError, asRingstoreError, isCode } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameDecoder, encodeFrame, isFault } from '../protocol/codec.js';
import {
  PROTOCOL_VERSION,
  declaredBodyBytes,
  isRequest,
  validateMessage,
  type Message,
  type Outgoing,
  type RequestType,
} from '../protocol/messages.js';
import type { Listener, PeerAddress, ReplyEnvelope, RequestHandler, RequestOptions, Transport } from './transport.js';

export interface TcpOptions {
  /** This process's node id, sent as `sender`. */
  self: string;
  maxFrameBytes: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  log: Logger;
}

function errorReply(self: string, re: string, err: RingstoreError): Buffer[] {
  return encodeFrame({
    v: PROTOCOL_VERSION,
    id: uuid(),
    sender: self,
    re,
    type: 'error',
    code: err.code,
    message: err.message,
    ...(err.details ? { details: err.details } : {}),
  });
}

function writeAll(socket: net.Socket, buffers: readonly Buffer[]): void {
  if (socket.destroyed || !socket.writable) return;
  socket.cork();
  for (const b of buffers) socket.write(b);
  process.nextTick(() => socket.uncork());
}

/** Start the socket server of a node. */
export function listen(opts: TcpOptions & { host: string; port: number }, handler: RequestHandler): Promise<Listener> {
  const { log, self } = opts;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(opts.maxFrameBytes);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', (err) => log.debug('socket error', { peer, error: err.message }));
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        // The stream cannot be resynchronised: say why, then close.
        const e = asRingstoreError(err);
        log.warn('closing connection after bad frame', { peer, code: e.code, error: e.message });
        writeAll(socket, errorReply(self, '-', e));
        socket.end();
        socket.pause();
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      for (const f of frames) {
        if (isFault(f)) {
          writeAll(socket, errorReply(self, '-', f.error));
          continue;
        }
        void serve(f.json, f.body);
      }
    });

    async function serve(json: unknown, body: Buffer): Promise<void> {
      const rawId = (json as { id?: unknown }).id;
      const re = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64 ? rawId : '-';
      try {
        const message = validateMessage(json);
        if (!isRequest(message)) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `a ${message.type} is a reply, not a request`);
        const declared = declaredBodyBytes(message);
        if (declared !== body.length) {
          throw new RingstoreError(ErrorCode.BAD_FRAME, `message declares ${declared} body bytes but the frame carries ${body.length}`);
        }
        const result = await handler(message, body);
        writeAll(socket, encodeFrame({ ...result.reply, v: PROTOCOL_VERSION, id: uuid(), sender: self, re }, result.bodies ?? []));
      } catch (err) {
        const e = asRingstoreError(err);
        if (e.code === ErrorCode.INTERNAL) log.error('handler failed', { re, error: e.message, stack: (e.cause as Error | undefined)?.stack });
        writeAll(socket, errorReply(self, re, e));
      }
    }
  });
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

interface Pending {
  resolve: (e: { reply: Message; body: Buffer }) => void;
  reject: (err: RingstoreError) => void;
  timer: NodeJS.Timeout;
}

/** One pooled connection to one peer, multiplexing requests by id. */
class PeerConnection {
  private readonly socket: net.Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly decoder: FrameDecoder;
  closed = false;

  constructor(
    private readonly peer: PeerAddress,
    private readonly opts: TcpOptions,
    private readonly onClose: () => void,
  ) {
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    this.socket = net.connect({ host: peer.host, port: peer.port });
    this.socket.setNoDelay(true);
    const connectTimer = setTimeout(() => {
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${peer.id} did not accept a connection within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    this.socket.once('connect', () => clearTimeout(connectTimer));
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => {
      clearTimeout(connectTimer);
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${peer.id} (${peer.host}:${peer.port}): ${err.message}`, { cause: err }));
    });
    this.socket.on('close', () => {
      clearTimeout(connectTimer);
      this.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `connection to ${peer.id} closed`));
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
      writeAll(this.socket, encodeFrame({ ...message, v: PROTOCOL_VERSION, id, sender: this.opts.self }, bodies));
    });
  }

  private onData(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(asRingstoreError(err));
      return;
    }
    for (const f of frames) {
      if (isFault(f)) {
        this.opts.log.warn('bad frame from peer', { peer: this.peer.id, error: f.error.message });
        continue;
      }
      let message: Message;
      try {
        message = validateMessage(f.json);
      } catch (err) {
        this.opts.log.warn('invalid reply from peer', { peer: this.peer.id, error: (err as Error).message });
        continue;
      }
      if (!('re' in message)) continue;
      const p = this.pending.get(message.re);
      if (!p) continue; // answered after its timeout
      this.pending.delete(message.re);
      clearTimeout(p.timer);
      if (message.type === 'error') {
        const code = isCode(message.code) ? message.code : ErrorCode.INTERNAL;
        p.reject(new RingstoreError(code, message.message, message.details ? { details: message.details } : {}));
      } else {
        p.resolve({ reply: message, body: f.body });
      }
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
  }
}

export class TcpTransport implements Transport {
  private readonly pool = new Map<string, PeerConnection>();

  constructor(private readonly opts: TcpOptions) {}

  async request<T extends RequestType>(peer: PeerAddress, message: Outgoing<T> & { type: T }, bodies: readonly Buffer[] = [], ro: RequestOptions = {}): Promise<ReplyEnvelope<T>> {
    const key = `${peer.host}:${peer.port}`;
    let conn = this.pool.get(key);
    if (!conn || conn.closed) {
      const fresh = new PeerConnection(peer, this.opts, () => {
        if (this.pool.get(key) === fresh) this.pool.delete(key);
      });
      this.pool.set(key, fresh);
      conn = fresh;
    }
    const { reply, body } = await conn.send(message as Record<string, unknown>, bodies, ro.timeoutMs ?? this.opts.requestTimeoutMs);
    const expected = `${message.type}_reply`;
    if (reply.type !== expected && !(message.type === 'ping' && reply.type === 'pong')) {
      throw new RingstoreError(ErrorCode.BAD_MESSAGE, `${peer.id} answered ${message.type} with ${reply.type}`);
    }
    return { reply, body } as ReplyEnvelope<T>;
  }

  async close(): Promise<void> {
    for (const c of this.pool.values()) c.fail(new RingstoreError(ErrorCode.PEER_UNAVAILABLE, 'transport closed'));
    this.pool.clear();
  }
}
