// Transactions over REST (issue 16), against real processes: all-or-nothing
// commits across buckets, deletes, stale contexts and validation answered with
// nothing written, read-atomic reads, and the bank: writers moving money
// between accounts by concurrent transactions while readers check the sum.
// (Kill -9 at each step of the protocol, and recovery's timeout, come with the
// recovery worker.)
import t from 'tap';
import { get as getFile, call } from '../helpers/http.js';
import { b64, casCluster, commit as commitVia, readTx as readVia } from '../helpers/transactions.js';

const c = await casCluster(t);
const json = { 'content-type': 'application/json' };
const commit = (ops: object[], via = 'node1') => commitVia(c, ops, via);
const readTx = (files: Array<{ bucket: string; file: string }>, via = 'node1') => readVia(c, files, via);
const get = async (bucket: string, file: string, via = 'node2') => {
  const r = await getFile(c.url(via), bucket, encodeURIComponent(file));
  return { status: r.status, text: r.body.toString() };
};

t.test('setup', async (t) => {
  for (const b of ['tx-a', 'tx-b', 'bank']) t.equal((await call('POST', `${c.url()}/buckets/${b}`)).status, 200);
});

t.test('a commit across two buckets writes both, each answered as a single write is', async (t) => {
  const r = await commit([
    { op: 'put', bucket: 'tx-a', file: 'one.txt', content_base64: b64('first') },
    { op: 'put', bucket: 'tx-b', file: 'two.txt', content_base64: b64('second') },
  ]);
  t.equal(r.status, 200, JSON.stringify(r.json));
  t.equal(r.json.success, true);
  t.match(r.json.txn, /^[0-9a-f-]{36}$/);
  t.equal(r.json.results.length, 2);
  for (const x of r.json.results) {
    t.equal(x.pref_list.length, 3, 'pref_list');
    t.ok(x.replicas_written.length >= 2, 'replicas_written');
    t.ok(Array.isArray(x.vector_clock_list), 'vector_clock_list');
  }
  t.equal((await get('tx-a', 'one.txt')).text, 'first');
  t.equal((await get('tx-b', 'two.txt')).text, 'second');
  const read = await readTx([{ bucket: 'tx-a', file: 'one.txt' }, { bucket: 'tx-b', file: 'two.txt' }], 'node3');
  t.equal(read.status, 200);
  t.same(read.json.files.map((f: { content_base64: string }) => Buffer.from(f.content_base64, 'base64').toString()), ['first', 'second']);
  t.same(read.json.files.map((f: { txn: string }) => f.txn), [r.json.txn, r.json.txn], 'each version names its transaction');
});

t.test('a delete and a put in one transaction; a later transaction with the contexts of a read', async (t) => {
  const r = await commit([
    { op: 'delete', bucket: 'tx-a', file: 'one.txt' },
    { op: 'put', bucket: 'tx-b', file: 'two.txt', content_base64: b64('second, again') },
  ]);
  t.equal(r.status, 200, JSON.stringify(r.json));
  t.equal((await get('tx-a', 'one.txt')).status, 404);
  t.equal((await get('tx-b', 'two.txt')).text, 'second, again');
  const read = await readTx([{ bucket: 'tx-a', file: 'one.txt' }, { bucket: 'tx-b', file: 'two.txt' }]);
  t.same(read.json.files.map((f: { exists: boolean }) => f.exists), [false, true]);
  const [ctxA, ctxB] = read.json.files.map((f: { context: string }) => f.context);
  const again = await commit([
    { op: 'put', bucket: 'tx-a', file: 'one.txt', content_base64: b64('back'), context: ctxA },
    { op: 'put', bucket: 'tx-b', file: 'two.txt', content_base64: b64('third'), context: ctxB },
  ]);
  t.equal(again.status, 200, JSON.stringify(again.json));
  const g = await get('tx-b', 'two.txt');
  t.equal(g.text, 'third', 'one version: the context superseded what the read saw');
});

t.test('a stale context is a 409 naming the file, and nothing is written', async (t) => {
  const read = await readTx([{ bucket: 'tx-a', file: 'one.txt' }, { bucket: 'tx-b', file: 'two.txt' }]);
  const ctxB = read.json.files[1].context;
  t.equal((await call('PUT', `${c.url()}/buckets/tx-b/two.txt`, 'written in between')).status, 200);
  const r = await commit([
    { op: 'put', bucket: 'tx-a', file: 'one.txt', content_base64: b64('must not land') },
    { op: 'put', bucket: 'tx-b', file: 'two.txt', content_base64: b64('must not land either'), context: ctxB },
  ]);
  t.equal(r.status, 409);
  t.equal(r.json.error.code, 'TXN_CONFLICT');
  t.match(r.json.error.message, /tx-b\/two\.txt/);
  t.equal((await get('tx-a', 'one.txt')).text, 'back', 'the other file is unchanged');
  t.equal((await get('tx-b', 'two.txt')).text, 'written in between');
  // Its intents were let go: the next transaction on the same files goes through.
  t.equal((await commit([{ op: 'put', bucket: 'tx-a', file: 'one.txt', content_base64: b64('free') }])).status, 200);
});

t.test('bad transactions are refused with a clear error and write nothing', async (t) => {
  const cases: Array<[object, number, string]> = [
    [{}, 400, 'BAD_REQUEST'],
    [{ ops: [] }, 400, 'BAD_REQUEST'],
    [{ ops: [{ op: 'rename', bucket: 'tx-a', file: 'x' }] }, 400, 'BAD_REQUEST'],
    [{ ops: [{ op: 'put', bucket: 'tx-a', file: 'x', content_base64: '***' }] }, 400, 'BAD_REQUEST'],
    [{ ops: [{ op: 'put', bucket: 'tx-a', file: 'x', content_base64: 'aGk=' }, { op: 'delete', bucket: 'tx-a', file: 'x' }] }, 400, 'BAD_REQUEST'],
    [{ ops: [{ op: 'put', bucket: 'no-such-bucket', file: 'x', content_base64: 'aGk=' }] }, 404, 'NO_SUCH_BUCKET'],
    [{ ops: [{ op: 'put', bucket: 'tx-a', file: 'x', content_base64: 'aGk=', context: 'forged.token' }] }, 400, ''],
    [{ ops: Array.from({ length: 65 }, (_, i) => ({ op: 'put', bucket: 'tx-a', file: `f${i}`, content_base64: 'aGk=' })) }, 413, 'TOO_LARGE'],
    [{ ops: [{ op: 'put', bucket: 'tx-a', file: 'big', content_base64: Buffer.alloc(65 * 1024).toString('base64') }] }, 413, 'TOO_LARGE'],
  ];
  for (const [body, status, code] of cases) {
    const r = await call('POST', `${c.url()}/transactions`, JSON.stringify(body), json);
    t.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} -> ${r.status} ${r.json?.error?.code}`);
    if (code) t.equal(r.json.error.code, code);
  }
  t.equal((await get('tx-a', 'x')).status, 404, 'nothing was written');
  t.equal((await call('POST', `${c.url()}/transactions`, '{not json', json)).status, 400);
  t.equal((await call('GET', `${c.url()}/transactions`)).status, 405);
});

t.test('the bank: concurrent transfers never change the sum a read-atomic read sees', async (t) => {
  const accounts = ['alice', 'bob', 'carol', 'dave'].map((file, i) => ({ bucket: i % 2 ? 'bank' : 'tx-a', file: `acct-${file}` }));
  const open = await commit(accounts.map((a) => ({ op: 'put', ...a, content_base64: b64('100') })));
  t.equal(open.status, 200);
  const total = (files: Array<{ content_base64?: string; siblings?: unknown[] }>): number => {
    if (files.some((f) => f.siblings)) throw new Error(`an account has concurrent versions: ${JSON.stringify(files)}`);
    return files.reduce((sum, f) => sum + Number(Buffer.from(f.content_base64 ?? '', 'base64').toString()), 0);
  };
  let committed = 0;
  let conflicts = 0;
  let reads = 0;
  const bad: string[] = [];
  let writing = true;
  const vias = ['node1', 'node2', 'node3', 'node4'];
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; i < 12; i++) {
      const from = accounts[(w + i) % 4] as { bucket: string; file: string };
      const to = accounts[(w + i + 1 + (i % 3)) % 4] as { bucket: string; file: string };
      if (from === to) continue;
      const via = vias[(w + i) % 4] as string;
      const seen = await readTx([from, to], via);
      if (seen.status !== 200) continue;
      const [f, g] = seen.json.files;
      const amount = 1 + ((w * 7 + i) % 9);
      const r = await commit(
        [
          { op: 'put', ...from, content_base64: b64(String(Number(Buffer.from(f.content_base64, 'base64').toString()) - amount)), context: f.context },
          { op: 'put', ...to, content_base64: b64(String(Number(Buffer.from(g.content_base64, 'base64').toString()) + amount)), context: g.context },
        ],
        via,
      );
      if (r.status === 200) committed++;
      else if (r.status === 409 && r.json.error.code === 'TXN_CONFLICT') conflicts++;
      else bad.push(`commit answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
    }
  };
  const reader = async (k: number): Promise<void> => {
    while (writing) {
      const r = await readTx(accounts, vias[k % 4]);
      if (r.status === 200) {
        reads++;
        const sum = total(r.json.files);
        if (sum !== 400) bad.push(`a read-atomic read saw a sum of ${sum}: ${JSON.stringify(r.json.files.map((f: { content_base64: string; txn: string }) => [Buffer.from(f.content_base64, 'base64').toString(), f.txn]))}`);
      } else if (r.status !== 503) bad.push(`read answered ${r.status}`);
    }
  };
  const readers = [0, 1].map(reader);
  await Promise.all([0, 1, 2, 3].map(writer));
  writing = false;
  await Promise.all(readers);
  t.same(bad, [], 'no wrong sum, no unexpected answer');
  t.ok(committed > 0, `${committed} transfers committed, ${conflicts} refused as conflicts, ${reads} atomic reads`);
  const end = await readTx(accounts);
  t.equal(total(end.json.files), 400, 'the sum at the end');
});
