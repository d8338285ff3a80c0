// What the transaction tests share: a four-node cluster with its schedulers, ready for compare-and-set
// (a node on an empty disk takes part once it has its peers' Paxos state), and the two calls.
import { TestCluster, waitFor, type ClusterOptions } from './cluster.js';
import { call, type JsonAnswer } from './http.js';

export async function casCluster(t: Parameters<typeof TestCluster.create>[0], extra: ClusterOptions['extra'] = {}): Promise<TestCluster> {
  const c = await TestCluster.create(t, { cron: true, extra });
  await c.startAll();
  await waitFor('every node takes part in compare-and-set', async () => {
    for (const n of c.nodes) if ((await call('GET', `${c.url(n.id)}/health`)).json?.locks !== 'ready') return false;
    return true;
  });
  return c;
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
const json = { 'content-type': 'application/json' };

export function commit(c: TestCluster, ops: object[], via = 'node1'): Promise<JsonAnswer> {
  return call('POST', `${c.url(via)}/transactions`, JSON.stringify({ ops }), json);
}

export function readTx(c: TestCluster, files: Array<{ bucket: string; file: string }>, via = 'node1'): Promise<JsonAnswer> {
  return call('POST', `${c.url(via)}/transactions/read`, JSON.stringify({ files }), json);
}
