import t from 'tap';
import { resolve } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config.js';

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
  t.ok(c.maxFrameBytes > c.maxObjectBytes);
});

t.test('bad configs are refused with a clear message', async (t) => {
  t.throws(() => parseConfig({ nodes, replication: { n: 4, r: 2, w: 2 } }, 'x'), { code: 'CONFIG', message: /replication.n/ });
  t.throws(() => parseConfig({ nodes, replication: { n: 3, r: 4, w: 2 } }, 'x'), { code: 'CONFIG' });
  t.throws(() => parseConfig({ nodes: [...nodes, nodes[0]] }, 'x'), { code: 'CONFIG', message: /twice/ });
  t.throws(() => parseConfig({ nodes: [{ ...nodes[0], id: '../x' }] }, 'x'), { code: 'CONFIG' });
  t.throws(() => parseConfig({}, 'x'), { code: 'CONFIG', message: /nodes/ });
});
