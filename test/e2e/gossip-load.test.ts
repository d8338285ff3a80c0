// No node is marked down while it is healthy under load: many writers keep all
// machines busy while every machine's down_system.json is sampled.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';
import { waitAllUp } from '../helpers/views.js';

const LOAD_MS = 12_000;
const WRITERS = 32;
// The default failure timeout (5 s), as the cluster runs it.
const c = await TestCluster.create(t, { cron: true });
await c.startAll();
await waitAllUp(c);
t.equal((await call('POST', `${c.url()}/buckets/load`)).status, 200);
const ids = c.nodes.map((n) => n.id);

t.test('healthy machines under load stay up in every view', async (t) => {
  const deadline = Date.now() + LOAD_MS;
  let writes = 0;
  const body = Buffer.alloc(64 * 1024, 1);
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const r = await call('PUT', `${c.url(ids[(w + i) % ids.length])}/buckets/load/w${w}-${i % 50}`, body);
      if (r.status === 200) writes++;
    }
  });
  const falseDowns: string[] = [];
  let samples = 0;
  while (Date.now() < deadline) {
    for (const id of ids) {
      const down = JSON.parse(readFileSync(join(c.dataDir(id), 'down_system.json'), 'utf8')) as string[];
      if (down.length > 0) falseDowns.push(`${id} saw ${down.join(',')} down`);
    }
    samples++;
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.all(writers);
  t.comment(`${writes} writes of 64 KiB by ${WRITERS} writers in ${LOAD_MS} ms; ${samples} samples of 4 views`);
  t.ok(writes > 100, 'the cluster was under load');
  t.same(falseDowns, [], 'no healthy node was ever marked down');
});
