// The server side of the socket protocol, over any Network (real TCP in
// production, the simulator's pipes in tests). Every connection opens with the
// handshake of auth.ts; until it completes nothing else is read, and a
// connection that fails it is logged once and closed. After it, every frame is
// sealed with a MAC bound to the connection, checked, validated and bound to
// the authenticated node before a handler sees it; limits on waiting
// handshakes, idle time and requests in flight.
import { ErrorCode, RingstoreError, asRingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameDecoder, encodeFrame, isFault, parseFrame } from '../protocol/codec.js';
import { PROTOCOL_VERSION, declaredBodyBytes, isRequest, validateHandshake, validateMessage } from '../protocol/messages.js';
import type { Pipe } from '../runtime/network.js';
import type { Runtime, Timer } from '../runtime/runtime.js';
import { FrameSealer, TAG_BYTES, clientProof, newNonce, proofMatches, serverProof } from './auth.js';
import { passedThrough } from '../runtime/gc-nudge.js';
import { RateFloor, sampleEvery } from './rate-floor.js';
import type { Listener, RequestHandler, TransportOptions } from './transport.js';

/** The largest frame accepted before a connection has authenticated. */
const HANDSHAKE_FRAME_BYTES = 4096;

/** Encode, seal and write one message on an authenticated connection. */
export function sendSealed(pipe: Pipe, sealer: FrameSealer, message: object, bodies: readonly Buffer[] = []): void {
  const chunks = encodeFrame(message, bodies, TAG_BYTES);
  pipe.write([...chunks, sealer.seal(chunks)]);
}

export function errorMessage(rt: Runtime, self: string, re: string, err: RingstoreError): object {
  return {
    v: PROTOCOL_VERSION,
    id: rt.random.uuid(),
    sender: self,
    re,
    type: 'error',
    code: err.code,
    message: err.message,
    ...(err.details ? { details: err.details } : {}),
  };
}

/** Start the socket server of a node. */
export async function listen(rt: Runtime, opts: TransportOptions & { host: string; port: number }, handler: RequestHandler): Promise<Listener> {
  const { log, self, limits } = opts;
  /** Connections still in their handshake, oldest first. */
  const unauthenticated = new Set<Pipe>();
  const refusals = new RefusalLog(log, rt);

  const accept = (pipe: Pipe): void => {
    const remote = pipe.remote;
    let peer: string | null = null;
    let sealer: FrameSealer | null = null;
    let inFlight = 0;
    /** Body bytes of the requests in flight: large frames are held to a budget as well as to a count. */
    let inFlightBytes = 0;
    const full = (): boolean => inFlight >= limits.maxInFlightPerConnection || inFlightBytes >= (limits.maxInFlightBytesPerConnection ?? Infinity);
    let paused = false;
    let complained = false;
    let lastActive = rt.clock.monotonic();
    let idleTimer: Timer | null = null;
    /** Say why (to a member), stop reading, and close once the answer has had a moment to leave. */
    const closeWith = (sealer: FrameSealer, e: RingstoreError): void => {
      sendSealed(pipe, sealer, errorMessage(rt, self, '-', e));
      pipe.end();
      pipe.pause();
      rt.timers.setTimeout(() => pipe.destroy(), 1000, { background: true });
    };
    // A frame begun must come in at a minimum rate (while this side reads: not while it holds the peer back).
    const floor = limits.minBodyBytesPerSecond ? new RateFloor(limits.minBodyBytesPerSecond, limits.minBodyRateWindowMs ?? 10_000) : null;
    let received = 0;
    let floorTimer: Timer | null = null;
    const watchFrame = (): void => {
      if (!floor) return;
      if (decoder.pendingBytes === 0 || paused || !sealer) {
        floor.stop();
        floorTimer?.cancel();
        floorTimer = null;
        return;
      }
      if (floor.watching) return;
      floor.start(rt.clock.monotonic(), received - decoder.pendingBytes);
      floorTimer = rt.timers.setInterval(
        () => {
          const rate = floor.tooSlow(rt.clock.monotonic(), received);
          if (rate === null || pipe.destroyed || !sealer) return;
          floorTimer?.cancel();
          const e = new RingstoreError(ErrorCode.REQUEST_TIMEOUT, `a frame came in at ${Math.round(rate)} B/s over the last ${floor.windowMs / 1000} s, under the minimum of ${floor.bytesPerSecond} B/s: closing`);
          log.warn('closing connection after a frame too slow', { remote, peer, bytesPerSecond: Math.round(rate) });
          closeWith(sealer, e);
        },
        sampleEvery(floor.windowMs),
        { background: true },
      );
    };
    const refuse = (why: string): void => {
      if (!complained) refusals.note(remote, why);
      complained = true;
      pipe.destroy();
    };

    // Never let strangers crowd out peers: past the cap, the oldest waiting handshake goes.
    if (unauthenticated.size >= limits.maxUnauthenticated) {
      const oldest = unauthenticated.values().next().value as Pipe;
      unauthenticated.delete(oldest);
      oldest.destroy();
    }
    unauthenticated.add(pipe);
    const handshakeTimer = rt.timers.setTimeout(() => refuse('no handshake in time'), limits.handshakeTimeoutMs);
    // Requests whose reply waits for the socket to drain: one drain and one close listener for all of them
    // (one each per request piled up close callbacks for the connection's life, and tripped Node's
    // MaxListenersExceededWarning with more than ten waiting).
    const draining = new Set<() => void>();
    const wakeDraining = (): void => {
      for (const done of [...draining]) done();
    };
    pipe.onDrain(wakeDraining);
    pipe.onClose(() => {
      handshakeTimer.cancel();
      idleTimer?.cancel();
      floorTimer?.cancel();
      unauthenticated.delete(pipe);
      wakeDraining();
    });
    // An authenticated connection idle this long is closed (peers reconnect on demand).
    const watchIdle = (): void => {
      const idleFor = rt.clock.monotonic() - lastActive;
      if (idleFor >= limits.idleTimeoutMs) return pipe.destroy();
      idleTimer = rt.timers.setTimeout(watchIdle, limits.idleTimeoutMs - idleFor, { background: true });
    };

    const serverNonce = newNonce(rt.random);
    pipe.write(encodeFrame({ v: PROTOCOL_VERSION, type: 'challenge', node: self, nonce: serverNonce }));
    // A stranger gets no more than a handshake's worth of buffer.
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES);

    pipe.onData((chunk) => {
      lastActive = rt.clock.monotonic();
      received += chunk.length;
      passedThrough(chunk.length);
      let payloads: Buffer[];
      try {
        payloads = decoder.pushRaw(chunk);
      } catch (err) {
        // The stream cannot be resynchronised: say why (to a member), then close.
        const e = asRingstoreError(err);
        if (!sealer) return refuse(e.message);
        log.warn('closing connection after bad frame', { remote, peer, code: e.code, error: e.message });
        return closeWith(sealer, e);
      }
      for (const payload of payloads) {
        if (pipe.destroyed) return;
        if (!sealer) {
          handshake(payload);
          continue;
        }
        const frame = sealer.open(payload);
        if (!frame) return refuse(`a frame from ${peer} failed its MAC (replayed, reordered or forged)`);
        const decoded = parseFrame(frame);
        if (isFault(decoded)) sendSealed(pipe, sealer, errorMessage(rt, self, '-', decoded.error));
        else void serve(decoded.json, decoded.body);
      }
      watchFrame();
    });

    function handshake(payload: Buffer): void {
      const decoded = parseFrame(payload);
      if (isFault(decoded)) return refuse('the first frame was not a handshake');
      try {
        const auth = validateHandshake(decoded.json, 'auth');
        if (auth.type !== 'auth') return;
        // Members only (the membership held now): a machine started to join is let in once it has been added.
        if (opts.admit && !opts.admit(auth.node)) return refuse(`${auth.node} is not a member of this cluster`);
        if (!proofMatches(clientProof(opts.secret, self, serverNonce, auth.node, auth.nonce), auth.mac)) {
          return refuse(`${auth.node} did not prove it knows the cluster secret`);
        }
        peer = auth.node;
        sealer = new FrameSealer(opts.secret, serverNonce, auth.nonce, 'toClient');
        decoder.setLimit(opts.maxFrameBytes);
        handshakeTimer.cancel();
        unauthenticated.delete(pipe);
        pipe.write(encodeFrame({ v: PROTOCOL_VERSION, type: 'welcome', mac: serverProof(opts.secret, self, serverNonce, auth.node, auth.nonce) }));
        watchIdle();
      } catch (err) {
        refuse((err as Error).message);
      }
    }

    async function serve(json: unknown, body: Buffer): Promise<void> {
      const rawId = (json as { id?: unknown }).id;
      const re = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64 ? rawId : '-';
      inFlight++;
      inFlightBytes += body.length;
      if (full() && !paused) {
        paused = true;
        pipe.pause();
        watchFrame();
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
        if (sealer && !pipe.destroyed) sendSealed(pipe, sealer, { ...result.reply, v: PROTOCOL_VERSION, id: rt.random.uuid(), sender: self, re }, result.bodies ?? []);
      } catch (err) {
        const e = asRingstoreError(err);
        if (e.code === ErrorCode.INTERNAL) log.error('handler failed', { re, error: e.message, stack: (e.cause as Error | undefined)?.stack });
        if (sealer && !pipe.destroyed) sendSealed(pipe, sealer, errorMessage(rt, self, re, e));
      } finally {
        // A request counts until its reply has left: a peer that does not read its replies is stopped, not buffered for.
        if (pipe.needsDrain && !pipe.destroyed) {
          await new Promise<void>((res) => {
            const done = (): void => {
              draining.delete(done);
              res();
            };
            draining.add(done);
          });
        }
        inFlight--;
        inFlightBytes -= body.length;
        if (paused && !full()) {
          paused = false;
          pipe.resume();
          watchFrame();
        }
      }
    }
  };

  const listener = await rt.net.listen(opts.host, opts.port, accept);
  return { port: listener.port, close: () => listener.close() };
}

/**
 * One log line per refused connection, but at most one a second: a flood of
 * strangers must not flood the log. The lines held back are counted in the next.
 */
class RefusalLog {
  private last = -Infinity;
  private held = 0;

  constructor(
    private readonly log: Logger,
    private readonly rt: Runtime,
  ) {}

  note(remote: string, why: string): void {
    const now = this.rt.clock.monotonic();
    if (now - this.last < 1000) {
      this.held++;
      return;
    }
    this.log.warn('connection refused', { remote, why, ...(this.held ? { alsoRefusedSinceLastLine: this.held } : {}) });
    this.last = now;
    this.held = 0;
  }
}
