// The REST app of one machine: it coordinates quorum reads and writes for any
// key, whichever node the client called. One log line per request, with its id.
import http from 'node:http';
import { v4 as uuid } from 'uuid';
import type { Cluster } from '../coordinator/cluster.js';
import { sendError } from './respond.js';
import { match } from './router.js';

export function createRestServer(cluster: Cluster): http.Server {
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : uuid();
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-coordinator', cluster.self);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      cluster.log.info('request', { requestId, method, url: url.slice(0, 300), status: res.statusCode, ms: Math.round(ms * 10) / 10 });
    });
    (async () => {
      const m = match(method, url);
      await m.route({ cluster, req, res, bucket: m.bucket, file: m.file, query: m.query });
    })().catch((err: unknown) => {
      const status = sendError(res, err);
      if (status >= 500 && status !== 503) cluster.log.error('request failed', { requestId, error: (err as Error).message, stack: (err as Error).stack });
      // A body we did not read must not be parsed as the next request.
      if (!req.complete) res.once('finish', () => req.socket.destroy());
    });
  });
  return server;
}
