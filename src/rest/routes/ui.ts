// The dashboard: /ui serves the page and its two assets from the project's own
// ui/ folder (no build step, nothing fetched at run time), and
// /ui/api/overview gives it, in one answer, what it draws besides the files:
// the ring, every node's status as this machine sees it, the hints this
// machine holds, its workers, and each route's rate and latency percentiles
// over the last minute. The page polls it every 2 s; files come from the
// usual REST routes.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';
import { changeState, clusterState } from './cluster.js';

/** The project's ui/ folder: three levels up from src/rest/routes/ (or dist/rest/routes/). */
const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

export const uiAssetRoute: Route = async ({ cluster, req, res, file }) => {
  const asset = ASSETS[file];
  if (!asset) throw new RingstoreError(ErrorCode.NOT_FOUND, `no such dashboard file: ${file.slice(0, 100)}`);
  let body = cache.get(asset.file);
  if (!body) {
    body = await cluster.rt.disk.readFile(join(UI_DIR, asset.file));
    cache.set(asset.file, body);
  }
  res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
};

export const uiOverviewRoute: Route = async ({ cluster, metrics, res }) => {
  const [state] = await Promise.all([clusterState(cluster), metrics.refresh()]);
  sendJson(res, 200, {
    success: true,
    node: cluster.self,
    n: cluster.n,
    r: cluster.r,
    w: cluster.w,
    ...changeState(cluster, state),
    statusFrom: state.statusFrom,
    ring: { partitions: cluster.ring.partitions, owners: cluster.ring.owners },
    nodes: state.nodes,
    hints: metrics.hints,
    workers: state.workers,
    requests: metrics.lastMinute(),
  });
};
