// The Postman collection, run by newman against a fresh local cluster, so the
// collection cannot go stale.
import t from 'tap';
import { join } from 'node:path';
import newman from 'newman';
import { call } from '../helpers/http.js';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';

// With the schedulers, as npm start runs it: the lock requests need every node's Paxos acceptor ready.
const c = await TestCluster.create(t, { cron: true });
await c.startAll();
await waitFor('every node takes locks', async () => {
  for (const n of c.nodes) if ((await call('GET', `${c.url(n.id)}/health`)).json?.locks !== 'ready') return false;
  return true;
});
const dir = join(ROOT, 'docs', 'postman');

t.test('newman runs the collection with every assertion passing', async (t) => {
  const summary = await new Promise<newman.NewmanRunSummary>((resolve, reject) =>
    newman.run(
      {
        collection: join(dir, 'ringstore.postman_collection.json'),
        environment: join(dir, 'ringstore-local.postman_environment.json'),
        envVar: [
          { key: 'baseUrl', value: c.url('node1') },
          { key: 'baseUrl2', value: c.url('node3') },
        ],
        workingDir: dir,
        reporters: [],
      },
      (err, s) => (err ? reject(err) : resolve(s)),
    ),
  );
  const { requests, assertions } = summary.run.stats;
  t.comment(`newman: ${requests.total} requests (${requests.failed} failed), ${assertions.total} assertions (${assertions.failed} failed)`);
  t.same(
    summary.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.message}`),
    [],
    'no failures',
  );
  t.ok((requests.total ?? 0) >= 18, 'every request ran');
  t.ok((assertions.total ?? 0) > 40);
});
