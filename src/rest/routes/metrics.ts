// GET /metrics: this machine's figures in the Prometheus text format.
import type { Route } from '../router.js';

export const metricsRoute: Route = async ({ metrics, res }) => {
  const text = await metrics.registry.metrics();
  res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
};
