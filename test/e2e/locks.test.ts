// Locks over REST (issue 15), against real processes: grants with fencing
// tokens, writes refused without the holder's token (423) or with a stale one
// (409), the FIFO queue and its hand-over on release, leases that end, renewal,
// kill -9 of the coordinating node and of replicas, and many clients
// contending for one lock with never two holders at once.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';
import { objectKey } from '../../src/ring/hash.js';
import { Ring } from '../../src/ring/ring.js';

// With the schedulers: a node that starts on an empty disk takes part in Paxos once its scheduler has
// brought it every peer's acceptor state, as in a cluster started by the README's commands.
const c = await TestCluster.create(t, { cron: true });
await c.startAll();
await waitFor('every node takes locks', async () => {
  for (const n of c.nodes) if ((await call('GET', `${c.url(n.id)}/health`)).json?.locks !== 'ready') return false;
  return true;
});

const lockUrl = (file: string, via = 'node1'): string => `${c.url(via)}/buckets/locks/${encodeURIComponent(file)}/lock`;
const fileUrl = (file: string, via = 'node1'): string => `${c.url(via)}/buckets/locks/${encodeURIComponent(file)}`;
const lock = (file: string, opts: { ttl_ms?: number; wait_ms?: number } = {}, via = 'node1') => call('POST', lockUrl(file, via), JSON.stringify(opts), { 'content-type': 'application/json' });
const unlock = (file: string, token: number, via = 'node1') => call('DELETE', lockUrl(file, via), undefined, { 'x-lock-token': String(token) });
const renew = (file: string, token: number, body: object = {}, via = 'node1') => call('PUT', lockUrl(file, via), JSON.stringify(body), { 'x-lock-token': String(token) });
const write = (file: string, body: string, token?: number, via = 'node1') => call('PUT', fileUrl(file, via), body, token === undefined ? {} : { 'x-lock-token': String(token) });
const state = async (file: string, via = 'node1') => (await call('GET', lockUrl(file, via))).json;

t.test('setup', async (t) => {
  t.equal((await call('POST', `${c.url()}/buckets/locks`)).status, 200);
});

t.test('a grant, writes with and without its token, release', async (t) => {
  const g = await lock('a.txt', { ttl_ms: 20_000 });
  t.equal(g.status, 200);
  t.equal(g.json.fencing_token, 1, 'the first grant of a file gets token 1');
  t.ok(g.json.expires_at > Date.now() + 15_000 && g.json.expires_at <= Date.now() + 20_000, 'expires_at is the end of the lease');
  const token = g.json.fencing_token as number;

  const bare = await write('a.txt', 'no token', undefined, 'node2');
  t.equal(bare.status, 423, 'a write without the token: 423 Locked');
  t.equal(bare.json.error.code, 'LOCKED');
  const wrong = await write('a.txt', 'wrong token', token + 5, 'node3');
  t.equal(wrong.status, 409, 'a write with another token: 409');
  t.equal(wrong.json.error.code, 'STALE_LOCK_TOKEN');
  t.match(wrong.json.error.message, String(token), 'the message names the current token');
  t.equal((await write('a.txt', 'with the token', token, 'node4')).status, 200, 'the holder writes');
  t.equal((await call('DELETE', fileUrl('a.txt', 'node2'))).status, 423, 'a delete without the token: 423');

  const again = await lock('a.txt', {}, 'node3');
  t.equal(again.status, 409, 'a second lock request with wait_ms 0 is refused at once');
  t.equal(again.json.queue_position, 1, 'it would have been first in the queue');
  t.equal((await state('a.txt')).queue_length, 0, 'and it did not stay in the queue');

  t.equal((await call('DELETE', lockUrl('a.txt'))).status, 400, 'a release needs the token');
  t.equal((await unlock('a.txt', token + 1)).status, 409, 'a release with another token is refused');
  const released = await unlock('a.txt', token, 'node2');
  t.equal(released.status, 200);
  t.equal((await write('a.txt', 'unlocked', undefined, 'node3')).status, 200, 'an unlocked file takes writes as before');

  const next = await lock('a.txt');
  t.equal(next.json.fencing_token, token + 1, 'the next grant has a higher token');
  const stale = await write('a.txt', 'old holder', token, 'node4');
  t.equal(stale.status, 409, 'the former holder is fenced off');
  t.match(stale.json.error.message, String(token + 1), 'with the current token named');
  t.equal((await unlock('a.txt', next.json.fencing_token)).status, 200);
  const late = await write('a.txt', 'old holder after the release', token, 'node1');
  t.equal(late.status, 409, 'a token older than the last grant stays refused after the release');
});

t.test('the CLI: lock, put and rm with --lock-token, lock-renew, unlock', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ringstore-lock-cli-'));
  writeFileSync(join(work, 'doc.txt'), 'locked edit\n');
  const cli = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--config', c.configFile, ...args], { cwd: work }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  let r = await cli('lock', 'locks', 'doc.txt', '--ttl', '20s');
  t.equal(r.code, 0, r.stderr);
  const token = /fencing token (\d+)/.exec(r.stdout)?.[1];
  t.ok(token, `the grant prints its token: ${r.stdout}`);
  r = await cli('put', 'locks', 'doc.txt');
  t.equal(r.code, 1, 'a put without the token fails');
  t.match(r.stderr, /LOCKED|locked/);
  r = await cli('put', 'locks', 'doc.txt', '--lock-token', token!);
  t.equal(r.code, 0, `a put with the token goes through: ${r.stderr}`);
  r = await cli('lock', 'locks', 'doc.txt', '--wait', '200ms');
  t.equal(r.code, 1, 'a second lock whose wait runs out exits 1');
  t.match(r.stderr, /queue position 1/);
  r = await cli('lock-renew', 'locks', 'doc.txt', '--lock-token', token!, '--ttl', '1m');
  t.equal(r.code, 0, r.stderr);
  r = await cli('rm', 'locks', 'doc.txt', '--lock-token', String(Number(token) + 7));
  t.equal(r.code, 1, 'an rm with another token fails');
  t.match(r.stderr, new RegExp(`${token}`), 'and names the current token');
  r = await cli('unlock', 'locks', 'doc.txt', '--lock-token', token!);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /unlocked locks\/doc.txt/);
  r = await cli('rm', 'locks', 'doc.txt');
  t.equal(r.code, 0, 'unlocked, rm needs no token');
  r = await cli('lock', 'locks', 'doc.txt', '--ttl', 'soon');
  t.equal(r.code, 2, 'a bad duration is a usage error');
});

t.test('bad input', async (t) => {
  for (const [body, what] of [['{"ttl_ms": -1}', 'a negative ttl'], ['{"wait_ms": "soon"}', 'a wait that is not a number'], ['not json', 'a body that is not JSON'], ['[1]', 'an array']] as const) {
    const r = await call('POST', lockUrl('bad.txt'), body, { 'content-type': 'application/json' });
    t.equal(r.status, 400, what);
    t.equal(r.json.error.code, 'BAD_REQUEST');
  }
  t.equal((await call('PUT', fileUrl('bad.txt'), 'x', { 'x-lock-token': 'abc' })).status, 400, 'a token that is not a number');
  t.equal((await call('POST', `${c.url()}/buckets/nolocks/f/lock`)).json.error.code, 'NO_SUCH_BUCKET');
});

t.test('the queue is served in order, and a release hands over at once', async (t) => {
  const holder = await lock('q.txt', { ttl_ms: 30_000 });
  t.equal(holder.status, 200);
  const order: string[] = [];
  const waiters = [];
  for (const [i, name] of ['first', 'second', 'third'].entries()) {
    const started = Date.now();
    waiters.push(
      lock('q.txt', { ttl_ms: 30_000, wait_ms: 30_000 }, `node${(i % 4) + 1}`).then((r) => {
        order.push(name);
        return { name, r, waited: Date.now() - started };
      }),
    );
    await waitFor(`${name} joins the queue`, async () => (await state('q.txt')).queue_length === i + 1);
  }
  let token = holder.json.fencing_token as number;
  const granted = [];
  for (let i = 0; i < 3; i++) {
    const releasedAt = Date.now();
    t.equal((await unlock('q.txt', token, `node${4 - i}`)).status, 200);
    const w = await waiters[i];
    t.equal(w?.r.status, 200, `${w?.name} is granted`);
    t.ok(Date.now() - releasedAt < 5000, `${w?.name}'s waiting request returned soon after the release (${Date.now() - releasedAt} ms)`);
    t.ok(w?.r.json.fencing_token > token, 'with a higher token');
    token = w?.r.json.fencing_token;
    granted.push(w?.name);
  }
  t.same(granted, ['first', 'second', 'third'], 'FIFO');
  t.same(order, ['first', 'second', 'third']);
  t.equal((await unlock('q.txt', token)).status, 200);
});

t.test('a waiter that runs out of wait_ms answers 409 with its place, and leaves the queue', async (t) => {
  const holder = await lock('w.txt', { ttl_ms: 30_000 });
  const first = lock('w.txt', { wait_ms: 30_000 }, 'node2');
  await waitFor('the first waiter queued', async () => (await state('w.txt')).queue_length === 1);
  const started = Date.now();
  const second = await lock('w.txt', { wait_ms: 600 }, 'node3');
  t.equal(second.status, 409);
  t.equal(second.json.queue_position, 2, 'it was second in line');
  t.ok(Date.now() - started >= 550, 'after waiting its wait_ms');
  t.equal((await state('w.txt')).queue_length, 1, 'only the first waiter remains');
  t.equal((await unlock('w.txt', holder.json.fencing_token)).status, 200);
  const f = await first;
  t.equal(f.status, 200);
  t.equal((await unlock('w.txt', f.json.fencing_token, 'node4')).status, 200);
});

t.test('a holder that stops renewing loses the lock when its lease ends; renewal keeps it', async (t) => {
  const kept = await lock('lease.txt', { ttl_ms: 1500 });
  const renewed = await renew('lease.txt', kept.json.fencing_token, { ttl_ms: 20_000 }, 'node2');
  t.equal(renewed.status, 200);
  t.ok(renewed.json.expires_at > kept.json.expires_at + 10_000, 'renewal moved the end of the lease');
  t.equal((await state('lease.txt', 'node3')).expires_at, renewed.json.expires_at, 'every node sees the new end');
  t.equal((await unlock('lease.txt', kept.json.fencing_token)).status, 200);

  const sleeper = await lock('lease.txt', { ttl_ms: 800 });
  const started = Date.now();
  const waiter = await lock('lease.txt', { ttl_ms: 10_000, wait_ms: 20_000 }, 'node4');
  t.equal(waiter.status, 200, 'the waiter gets the lock once the lease ends');
  t.ok(Date.now() - started < 10_000, `without waiting for long (${Date.now() - started} ms)`);
  t.ok(waiter.json.fencing_token > sleeper.json.fencing_token);
  const late = await write('lease.txt', 'woke up late', sleeper.json.fencing_token, 'node2');
  t.equal(late.status, 409, 'the paused holder cannot overwrite the new holder\'s work');
  t.equal((await renew('lease.txt', sleeper.json.fencing_token)).status, 409, 'nor renew');
  t.equal((await write('lease.txt', 'mine', waiter.json.fencing_token, 'node3')).status, 200);
  t.equal((await unlock('lease.txt', waiter.json.fencing_token, 'node4')).status, 200);
});

t.test('the coordinating node is killed: the lock survives, and another node renews and releases it', async (t) => {
  const g = await lock('k.txt', { ttl_ms: 30_000 }, 'node2');
  t.equal(g.status, 200);
  await c.kill('node2');
  const s = await state('k.txt', 'node3');
  t.equal(s.locked, true, 'still locked');
  t.equal(s.fencing_token, g.json.fencing_token, 'by the same grant');
  t.equal((await write('k.txt', 'x', undefined, 'node4')).status, 423);
  t.equal((await renew('k.txt', g.json.fencing_token, {}, 'node3')).status, 200, 'renewed through another node');
  t.equal((await unlock('k.txt', g.json.fencing_token, 'node1')).status, 200, 'released through another node');
  await c.startNode('node2');
  const after = await lock('k.txt', {}, 'node2');
  t.equal(after.status, 200, 'the restarted node grants');
  t.ok(after.json.fencing_token > g.json.fencing_token, 'with a token past every earlier grant');
  t.equal((await unlock('k.txt', after.json.fencing_token, 'node2')).status, 200);
});

/**
 * Clients take the lock in turn, each through a random node, write under it
 * and release it. From each client's view, its hold runs from the grant's
 * answer to the release's request: no two holds may overlap, and the tokens
 * must rise in the order of the grants.
 */
async function contend(t: { fail(m: string): void; ok(v: unknown, m: string): void }, file: string, clients: number, rounds: number, during?: (holds: () => number) => Promise<void>): Promise<void> {
  const holds: Array<{ client: number; token: number; from: number; to: number }> = [];
  let failures = 0;
  const reasons: string[] = [];
  const one = async (client: number): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const via = `node${1 + Math.floor(Math.random() * 4)}`;
      const r = await lock(file, { ttl_ms: 3000, wait_ms: 60_000 }, via).catch(() => null);
      if (!r || r.status !== 200) {
        reasons.push(`lock via ${via}: ${r ? `${r.status} ${r.json?.error?.message}` : 'no answer'}`);
        failures++;
        continue;
      }
      const from = Date.now();
      const w = await write(file, `client ${client} round ${i}`, r.json.fencing_token, via).catch(() => null);
      if (w?.status !== 200) {
        reasons.push(`write via ${via}: ${w ? `${w.status} ${w.json?.error?.message}` : 'no answer'}`);
        failures++;
      }
      const to = Date.now();
      holds.push({ client, token: r.json.fencing_token, from, to });
      await unlock(file, r.json.fencing_token, via).catch(() => null);
    }
  };
  await Promise.all([...Array.from({ length: clients }, (_, i) => one(i)), during?.(() => holds.length)]);
  holds.sort((a, b) => a.token - b.token);
  for (let i = 1; i < holds.length; i++) {
    const [a, b] = [holds[i - 1], holds[i]] as [(typeof holds)[0], (typeof holds)[0]];
    if (b.token <= a.token) t.fail(`token ${b.token} granted twice`);
    if (b.from < a.to) t.fail(`client ${b.client} (token ${b.token}) held the lock from ${b.from}, before client ${a.client} (token ${a.token}) let go at ${a.to}`);
  }
  t.ok(holds.length >= clients * rounds - failures, `${holds.length} holds, ${failures} failed requests${reasons.length ? ` (${reasons.slice(0, 3).join('; ')})` : ''}`);
  if (during) t.ok(holds.length > clients, 'most grants went through');
  else t.ok(failures === 0, 'with every node up, every request was granted and every write under the lock went through');
}

t.test('16 clients contend for one lock: never two holders, tokens in grant order', async (t) => {
  await contend(t, 'contended.txt', 16, 4);
});

t.test('a replica is killed -9 and restarted while clients contend', async (t) => {
  // One of the file's N owners: an acceptor of its lock's Paxos.
  const owners = new Ring({ version: 1, nodes: c.nodes.map((n) => n.id) }, 256).preferenceList(objectKey('locks', 'faulty.txt'), 3);
  const victim = owners[0] as string;
  t.comment(`faulty.txt is owned by ${owners.join(', ')}; ${victim} is killed`);
  await contend(t, 'faulty.txt', 6, 5, async (holds) => {
    await waitFor('a few grants', () => holds() >= 3, 60_000);
    await c.kill(victim);
    const before = holds();
    await waitFor(`grants while ${victim} is down`, () => holds() >= before + 3, 60_000);
    await c.startNode(victim);
  });
});
