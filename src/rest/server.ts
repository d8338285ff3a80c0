// The REST app of one machine: it coordinates quorum reads and writes for any
// key, whichever node the client called. One log line per request, with its
// id. Limits from the config: request head size, time to send the head, the
// rate a body must come in at (slow clients are cut off, fast ones never,
// however large the body), and requests served at once.
import http from 'node:http';
import https from 'node:https';
import type { TlsFiles } from '../runtime/tls.js';
import type { Cluster } from '../coordinator/cluster.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { sendError } from './respond.js';
import { caller, unauthenticated } from './caller.js';
import { RateFloor, sampleEvery } from '../net/rate-floor.js';
import { match, type Match } from './router.js';

/** Which quorum a failed request was after, for ringstore_quorum_failures_total. */
function operation(route: string, method: string): string {
  if (route === '/buckets' || (route === '/buckets/:bucket' && method === 'GET')) return 'list';
  if (route.startsWith('/buckets/:bucket')) return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  return 'other';
}

export function createRestServer(cluster: Cluster, metrics: Metrics, tls: TlsFiles | null = null): http.Server {
  const limits = cluster.config.limits;
  let active = 0;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const started = cluster.rt.clock.monotonic();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : cluster.rt.random.uuid();
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-coordinator', cluster.self);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    let routeName = 'other';
    res.on('finish', () => {
      const ms = cluster.rt.clock.monotonic() - started;
      metrics.request(routeName, method, res.statusCode, ms);
      cluster.log.info('request', { requestId, method, url: url.slice(0, 300), status: res.statusCode, ms: Math.round(ms * 10) / 10 });
    });
    active++;
    res.once('close', () => active--);
    if (limits.minBodyBytesPerSecond > 0 && hasBody(req)) watchBodyRate(cluster, req, res);
    (async () => {
      if (active > limits.maxConcurrentRequests) {
        throw new RingstoreError(ErrorCode.OVERLOADED, `this node is serving ${limits.maxConcurrentRequests} requests already: retry in a moment, or use another node`);
      }
      let m: Match;
      try {
        m = match(method, url);
      } catch (err) {
        // Where every call needs a token, a caller without one hears that first, whatever else is wrong.
        if (cluster.config.auth.required && req.headers.authorization === undefined) throw unauthenticated();
        throw err;
      }
      routeName = m.name;
      const { user, token } = await caller(cluster, req, m);
      await m.route({ cluster, metrics, req, res, bucket: m.bucket, file: m.file, query: m.query, user, token });
    })().catch((err: unknown) => {
      if (err instanceof RingstoreError && err.code === ErrorCode.QUORUM_NOT_REACHED) metrics.quorumFailure(operation(routeName, method));
      const answer = (): void => {
        const status = sendError(res, err);
        if (status >= 500 && status !== 503) cluster.log.error('request failed', { requestId, error: (err as Error).message, stack: (err as Error).stack });
      };
      if (req.complete || res.headersSent) answer();
      else drainThenAnswer(cluster, req, res, answer);
    });
  };

  const options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Check the two timeouts above often, so a slow client is cut off close to its deadline.
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  // With TLS in the config, HTTPS only: a plain HTTP request on the port fails the TLS handshake.
  if (tls) return https.createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: limits.headersTimeoutMs }, handle);
  return http.createServer(options, handle);
}

/**
 * An error before the body was read (413, 404, 400, 503): the unread rest must
 * not be parsed as the next request, and a client still sending must hear our
 * answer, not a reset. Node closes a "connection: close" socket as soon as the
 * answer is written, and the kernel then resets a client still sending (CI saw
 * EPIPE on an upload to a missing bucket). So: read and discard the rest first
 * (for a bounded time), then answer, then close.
 */
function drainThenAnswer(cluster: Cluster, req: http.IncomingMessage, res: http.ServerResponse, answer: () => void): void {
  res.setHeader('connection', 'close');
  const socket = req.socket;
  let answered = false;
  const once = (): void => {
    if (answered) return;
    answered = true;
    timer.cancel();
    res.once('finish', () => socket.end());
    answer();
  };
  // A client that keeps sending past the bound hears the answer all the same, then the connection closes.
  const timer = cluster.rt.timers.setTimeout(
    () => {
      once();
      cluster.rt.timers.setTimeout(() => socket.destroy(), 1000, { background: true });
    },
    10_000,
    { background: true },
  );
  req.once('end', once);
  req.once('error', once);
  req.once('close', once);
  req.resume();
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Cut a client whose body comes in under limits.minBodyBytesPerSecond over
 * the window: 408, and the connection closed; what it had sent is discarded
 * (a body is stored only once it has all come in). Counted from the socket's
 * bytes, so the route reading the body is not disturbed, and only while the
 * body is being read.
 */
function watchBodyRate(cluster: Cluster, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { minBodyBytesPerSecond: floorRate, minBodyRateWindowMs: windowMs } = cluster.config.limits;
  const socket = req.socket;
  const clock = cluster.rt.clock;
  const floor = new RateFloor(floorRate, windowMs);
  floor.start(clock.monotonic(), socket.bytesRead);
  const timer = cluster.rt.timers.setInterval(
    () => {
      if (req.complete || res.writableEnded || socket.destroyed) return timer.cancel();
      // Judged only while the body is being read: not while a route has yet to start on it, nor while it
      // holds the client back (a pipe's backpressure pauses the request; a reader that does not keep up
      // leaves its buffer full).
      const reading = req.readableFlowing === true || req.listenerCount('readable') > 0;
      if (!reading || req.readableLength >= req.readableHighWaterMark) return floor.start(clock.monotonic(), socket.bytesRead);
      const rate = floor.tooSlow(clock.monotonic(), socket.bytesRead);
      if (rate === null) return;
      timer.cancel();
      cluster.log.warn('request body too slow: cut off', { method: req.method, url: (req.url ?? '').slice(0, 300), bytesPerSecond: Math.round(rate) });
      if (res.headersSent) return void socket.destroy();
      res.setHeader('connection', 'close');
      res.once('finish', () => socket.destroy());
      cluster.rt.timers.setTimeout(() => socket.destroy(), 1000, { background: true });
      sendError(
        res,
        new RingstoreError(
          ErrorCode.REQUEST_TIMEOUT,
          `the request body came in at ${Math.round(rate)} B/s over the last ${windowMs / 1000} s, under the minimum of ${floorRate} B/s: what was sent is discarded`,
        ),
      );
    },
    sampleEvery(windowMs),
    { background: true },
  );
  res.once('close', () => timer.cancel());
}
