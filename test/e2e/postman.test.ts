// The Postman collection, run by newman against a fresh local cluster, so the
// collection cannot go stale.
import t from 'tap';
import { join } from 'node:path';
import newman from 'newman';
import { ROOT, TestCluster } from '../helpers/cluster.js';

const c = await TestCluster.create(t);
await c.startAll();
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
