import t from 'tap';
import { resolve } from 'node:path';
import { parseConfig } from '../../src/config.js';
import { clusterSecret, loadConfig } from '../../src/runtime/config-file.js';

const nodes = [
  { id: 'node1', host: '127.0.0.1', port: 7001, restPort: 6003 },
  { id: 'node2', host: '127.0.0.1', port: 7002, restPort: 6004 },
  { id: 'node3', host: '127.0.0.1', port: 7003, restPort: 6005 },
];

t.test('the shipped nodes.json: four nodes, N=3 R=2 W=2, node1 REST on 6003', async (t) => {
  const c = loadConfig(resolve(import.meta.dirname, '..', '..', 'nodes.json'));
  t.same(c.replication, { n: 3, r: 2, w: 2 });
  t.equal(c.nodes.length, 4);
  t.equal(c.nodes[0]?.restPort, 6003);
  t.equal(c.dataDir, resolve(import.meta.dirname, '..', '..', 'data'), 'a relative dataDir resolves against the config file');
});

t.test('optional keys get defaults', async (t) => {
  const c = parseConfig({ nodes }, '/etc/ringstore/nodes.json');
  t.same(c.replication, { n: 3, r: 2, w: 2 });
  t.equal(c.dataDir, '/etc/ringstore/data');
  t.equal(c.ringSize, 256);
  t.ok(c.maxFrameBytes > c.chunkBytes, "a frame holds a chunk");
});

t.test('bad configs are refused with a clear message', async (t) => {
  t.throws(() => parseConfig({ nodes, replication: { n: 4, r: 2, w: 2 } }, 'x'), { code: 'CONFIG', message: /replication.n/ });
  t.throws(() => parseConfig({ nodes, replication: { n: 3, r: 4, w: 2 } }, 'x'), { code: 'CONFIG' });
  t.throws(() => parseConfig({ nodes: [...nodes, nodes[0]] }, 'x'), { code: 'CONFIG', message: /twice/ });
  t.throws(() => parseConfig({ nodes: [{ ...nodes[0], id: '../x' }] }, 'x'), { code: 'CONFIG' });
  t.throws(() => parseConfig({}, 'x'), { code: 'CONFIG', message: /nodes/ });
});

t.test('every limit has its default in one place', async (t) => {
  const c = parseConfig({ nodes }, '/x/nodes.json');
  t.same(c.limits, {
    handshakeTimeoutMs: 2000,
    maxUnauthenticated: 64,
    idleTimeoutMs: 300_000,
    maxInFlightPerConnection: 256,
    maxInFlightBytesPerConnection: 32 * 1024 * 1024,
    maxHeaderBytes: 16 * 1024,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 0,
    minBodyBytesPerSecond: 16 * 1024,
    minBodyRateWindowMs: 10_000,
    maxConcurrentRequests: 512,
  });
  t.equal(c.maxObjectBytes, 1024 ** 4);
  t.equal(c.chunkBytes, 4 * 1024 * 1024);
  t.equal(c.maxFrameBytes, 68 * 1024 * 1024);
  const partial = parseConfig({ nodes, limits: { maxConcurrentRequests: 3 } }, '/x/nodes.json');
  t.equal(partial.limits.maxConcurrentRequests, 3);
  t.equal(partial.limits.headersTimeoutMs, 10_000, 'the others keep their defaults');
});

t.test('the cluster secret: inline, from a variable, from a file, or refused', async (t) => {
  t.equal(clusterSecret(parseConfig({ nodes, secret: 'a-secret-of-16-chars+' }, '/x/nodes.json')).toString(), 'a-secret-of-16-chars+');
  process.env.RS_TEST_SECRET = 'from-the-environment-1234';
  t.equal(clusterSecret(parseConfig({ nodes, secretEnv: 'RS_TEST_SECRET' }, '/x/nodes.json')).toString(), 'from-the-environment-1234');
  t.throws(() => clusterSecret(parseConfig({ nodes, secretEnv: 'RS_UNSET_VAR' }, '/x/nodes.json')), { code: 'CONFIG' });
  t.throws(() => clusterSecret(parseConfig({ nodes }, '/nonexistent/nodes.json')), { code: 'CONFIG', message: /start scripts create it/ });
  t.throws(() => parseConfig({ nodes, secret: 'short' }, '/x/nodes.json'), { code: 'CONFIG' });
});
