// Transactions whose coordinator dies (issue 16): the REST app that coordinates
// is killed (kill -9 of itself, by a failpoint) at each step of the protocol,
// then started again; every transaction must end committed everywhere or
// aborted everywhere, and its files must be free again, within about the
// transactions.timeoutMs of this cluster (1.5 s). A socket server killed and
// restarted under a stream of transactions must not break all-or-nothing.
import t from 'tap';
import { waitFor } from '../helpers/cluster.js';
import { call, get as getFile } from '../helpers/http.js';
import { b64, casCluster, commit as commitVia } from '../helpers/transactions.js';

const TIMEOUT_MS = 1500;
const c = await casCluster(t, { transactions: { timeoutMs: TIMEOUT_MS } });
const commit = (ops: object[], via = 'node1') => commitVia(c, ops, via);
const content = async (file: string, via = 'node2'): Promise<string> => {
  const r = await getFile(c.url(via), 'rec', encodeURIComponent(file));
  return r.status === 200 ? r.body.toString() : `(${r.status})`;
};
const puts = (files: string[], value: string) => files.map((file) => ({ op: 'put', bucket: 'rec', file, content_base64: b64(value) }));

/** Restart node1's REST app, with a failpoint armed or without. */
async function restartRest(env: Record<string, string> = {}): Promise<void> {
  await c.signal('node1', 'SIGKILL', 'rest');
  c.spawnRole('node1', 'rest', env);
  await waitFor('node1 REST up', async () => (await fetch(`${c.url('node1')}/health`).catch(() => null))?.ok === true, 30_000);
}

t.test('setup', async (t) => {
  t.equal((await call('POST', `${c.url()}/buckets/rec`)).status, 200);
});

const inDoubt: Record<string, number> = {};

for (const [point, outcome] of [
  ['txn.intent-taken', 'aborted'],
  ['txn.prepared', 'aborted'],
  ['txn.decided', 'committed'],
  ['txn.applied', 'committed'],
] as const) {
  t.test(`the coordinator killed at ${point}: the transaction ends ${outcome} everywhere`, async (t) => {
    const files = [`${point}-x`, `${point}-y`, `${point}-z`];
    t.equal((await commit(puts(files, 'old'), 'node2')).status, 200, 'the files exist');
    await restartRest({ RINGSTORE_FAILPOINT: point });
    const died = await commit(puts(files, 'new')).catch((err: Error) => err);
    t.ok(died instanceof Error, `the coordinator died mid-transaction (${died instanceof Error ? died.message : `answered ${died.status}`})`);
    const t0 = Date.now();
    await restartRest();
    if (outcome === 'committed') {
      // Nobody else touches these files: only the sweepers can finish the write.
      await waitFor('the sweepers finish the committed transaction', async () => (await Promise.all(files.map((f) => content(f)))).every((v) => v === 'new'), 20_000);
    } else {
      // Aborted: nothing was written, whoever looks.
      t.same(await Promise.all(files.map((f) => content(f, 'node3'))), ['old', 'old', 'old'], 'no file shows the aborted write');
    }
    // The files are free again: a new transaction on them commits (not 409).
    let probe = 0;
    await waitFor(
      'the files are free again',
      async () => {
        const r = await commit(puts(files, `probe-${++probe}`), 'node3');
        return r.status === 200;
      },
      20_000,
    );
    inDoubt[point] = Date.now() - t0;
    const after = await Promise.all(files.map((f) => content(f, 'node4')));
    t.ok(after.every((v) => v === after[0]), `all three files agree afterwards (${after.join(', ')})`);
    t.ok(inDoubt[point] < 20_000, `in doubt for ${inDoubt[point]} ms after the coordinator came back`);
  });
}

t.test('a socket server killed and restarted under a stream of transactions', async (t) => {
  await restartRest();
  const files = ['stream-x', 'stream-y'];
  const outcomes: number[] = [];
  for (let i = 0; i < 12; i++) {
    if (i === 3) await c.kill('node3');
    if (i === 8) await c.restart('node3');
    const r = await commit(puts(files, `v${i}`), i % 2 ? 'node1' : 'node2').catch(() => null);
    outcomes.push(r?.status ?? 0);
    const seen = await Promise.all(files.map((f) => content(f, 'node4')));
    t.equal(seen[0], seen[1], `after transaction ${i} (answered ${r?.status}) both files agree: ${seen.join(', ')}`);
  }
  t.ok(outcomes.filter((s) => s === 200).length >= 6, `most commit with a replica down: ${outcomes.join(' ')}`);
  t.comment(`in doubt after the coordinator came back (ms): ${JSON.stringify(inDoubt)}`);
});
