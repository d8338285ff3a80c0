// Users and access over REST (issue 14), against real processes: sign-up and
// login, wrong passwords, expired and revoked tokens, private buckets and
// sharing, anonymous callers, concurrent sign-ups of one name, ETags (304 and
// 412), the required-auth mode, and nothing on disk changed by a refused call.
import t from 'tap';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TestCluster, waitFor } from '../helpers/cluster.js';
import { call, type JsonAnswer } from '../helpers/http.js';

// With the schedulers, as the README's commands start it: a node on an empty disk takes part in the
// registers (users, tokens, access lists) once its scheduler has brought it its peers' Paxos state.
async function startReady(cluster: TestCluster): Promise<void> {
  await cluster.startAll();
  await waitFor('every node takes part in compare-and-set', async () => {
    for (const n of cluster.nodes) if ((await call('GET', `${cluster.url(n.id)}/health`)).json?.locks !== 'ready') return false;
    return true;
  });
}
const c = await TestCluster.create(t, { cron: true });
await startReady(c);

const json = { 'content-type': 'application/json' };
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const signUp = (username: string, password: string, via = 'node1') => call('POST', `${c.url(via)}/users`, JSON.stringify({ username, password }), json);
const logIn = (username: string, password: string, via = 'node1') => call('POST', `${c.url(via)}/login`, JSON.stringify({ username, password }), json);
async function tokenOf(username: string, password: string, via = 'node1'): Promise<string> {
  const r = await logIn(username, password, via);
  if (r.status !== 200) throw new Error(`login of ${username}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.token as string;
}
/** A request as `token`'s user (null: anonymous). */
const as = (token: string | null, method: string, path: string, body?: string, headers: Record<string, string> = {}, via = 'node1'): Promise<JsonAnswer> =>
  call(method, `${c.url(via)}${path}`, body, { ...(token ? bearer(token) : {}), ...headers });

t.test('sign-up: 201, a taken name 409, a bad name or short password 400', async (t) => {
  const r = await signUp('alice', 'alice-password');
  t.equal(r.status, 201);
  t.same(r.json, { success: true, username: 'alice' });
  const again = await signUp('alice', 'another-password', 'node3');
  t.equal(again.status, 409, 'the same name through another node');
  t.equal(again.json.error.code, 'USER_EXISTS');
  t.equal((await signUp('bad name!', 'long enough')).status, 400, 'a name with a space and a !');
  t.equal((await signUp('', 'long enough')).json.error.code, 'INVALID_USER_NAME');
  const short = await signUp('shorty', 'seven77');
  t.equal(short.status, 400, 'a password of 7 characters');
  t.equal(short.json.error.code, 'INVALID_PASSWORD');
  t.equal((await call('POST', `${c.url()}/users`, 'not json', json)).status, 400);
  t.equal((await signUp('bob', 'bob-password')).status, 201);
  t.equal((await signUp('carol', 'carol-password')).status, 201);
});

t.test('login: a token and its expiry; a wrong password and an unknown user answer alike', async (t) => {
  const r = await logIn('alice', 'alice-password', 'node2');
  t.equal(r.status, 200);
  t.match(r.json.token, /^rst_[A-Za-z0-9_-]{43}$/);
  t.ok(typeof r.json.expires_at === 'number' && r.json.expires_at > Date.now(), 'expires_at is in the future (epoch ms, as a lock grant\'s)');
  const wrong = await logIn('alice', 'not-her-password');
  const unknown = await logIn('nobody', 'whatever-password');
  t.equal(wrong.status, 401);
  t.equal(unknown.status, 401);
  t.equal(wrong.json.error.message, unknown.json.error.message, 'the same message: it does not say which part was wrong');
  t.notMatch(JSON.stringify(wrong.json), /alice-password|not-her-password/, 'the password is not echoed');
  t.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="ringstore"');
  // The token works on every node, not only the one that issued it.
  for (const n of c.nodes) t.equal((await as(r.json.token, 'GET', '/buckets', undefined, {}, n.id)).status, 200, `accepted by ${n.id}`);
  t.equal((await as('rst_' + 'x'.repeat(43), 'GET', '/buckets')).status, 401, 'a token the cluster never issued');
  t.equal((await call('GET', `${c.url()}/buckets`, undefined, { authorization: 'Basic YWxpY2U6cHc=' })).status, 401, 'not a bearer token');
});

t.test('no password is kept in the clear on any disk or log', async (t) => {
  for (const n of c.nodes) {
    const hits = grep(c.dataDir(n.id), 'alice-password');
    t.same(hits, [], `${n.id} holds no copy of the password`);
  }
});

t.test('a private bucket: its owner only; others 403, a missing bucket 404', async (t) => {
  const alice = await tokenOf('alice', 'alice-password');
  const bob = await tokenOf('bob', 'bob-password', 'node2');
  t.equal((await as(alice, 'POST', '/buckets/private-a')).status, 200);
  t.equal((await as(alice, 'PUT', '/buckets/private-a/secret.txt', 'for alice only')).status, 200);
  t.equal((await as(alice, 'GET', '/buckets/private-a/secret.txt')).json, 'for alice only', 'the owner reads');
  t.equal((await as(alice, 'GET', '/buckets/private-a')).json.count, 1, 'the owner lists');
  const refused: Array<[string, string | null, string, string, string?]> = [
    ['read', bob, 'GET', '/buckets/private-a/secret.txt'],
    ['head', bob, 'HEAD', '/buckets/private-a/secret.txt'],
    ['write', bob, 'PUT', '/buckets/private-a/secret.txt', 'from bob'],
    ['new file', bob, 'PUT', '/buckets/private-a/bobs.txt', 'from bob'],
    ['list', bob, 'GET', '/buckets/private-a'],
    ['delete a file', bob, 'DELETE', '/buckets/private-a/secret.txt'],
    ['delete the bucket', bob, 'DELETE', '/buckets/private-a'],
    ['read its acl', bob, 'GET', '/buckets/private-a/acl'],
    ['set its acl', bob, 'PUT', '/buckets/private-a/acl', '{"public":"read"}'],
    ['lock a file', bob, 'POST', '/buckets/private-a/secret.txt/lock', '{}'],
    ['anonymous read', null, 'GET', '/buckets/private-a/secret.txt'],
    ['anonymous write', null, 'PUT', '/buckets/private-a/anon.txt', 'anon'],
    ['anonymous list', null, 'GET', '/buckets/private-a'],
    ['anonymous delete', null, 'DELETE', '/buckets/private-a'],
  ];
  for (const [what, token, method, path, body] of refused) {
    const r = await as(token, method, path, body, {}, 'node3');
    t.equal(r.status, 403, `${what}: 403`);
    if (method !== 'HEAD') t.equal(r.json.error.code, 'FORBIDDEN', `${what}: FORBIDDEN`);
  }
  t.equal((await as(bob, 'GET', '/buckets/no-such-bucket/x.txt')).status, 404, 'a bucket that does not exist: 404');
  t.equal((await as(null, 'GET', '/buckets/no-such-bucket')).status, 404);
  const listed = (await as(bob, 'GET', '/buckets')).json.buckets.map((b: { name: string }) => b.name);
  t.notOk(listed.includes('private-a'), "bob's bucket list does not name alice's private bucket");
  const own = (await as(alice, 'GET', '/buckets')).json.buckets.find((b: { name: string }) => b.name === 'private-a');
  t.equal(own?.owner, 'alice', "alice's list shows it, with its owner");
  t.equal((await as(alice, 'GET', '/buckets/private-a/secret.txt')).json, 'for alice only', 'nothing bob tried changed it');
  t.same((await as(alice, 'GET', '/buckets/private-a')).json.files.map((f: { name: string }) => f.name), ['secret.txt']);
});

t.test('a bucket made without a token is open to all, as the original store', async (t) => {
  const bob = await tokenOf('bob', 'bob-password');
  t.equal((await as(null, 'POST', '/buckets/open-b')).status, 200);
  t.equal((await as(null, 'PUT', '/buckets/open-b/a.txt', 'anon')).status, 200);
  t.equal((await as(bob, 'PUT', '/buckets/open-b/b.txt', 'bob')).status, 200, 'a user writes to it');
  t.equal((await as(null, 'GET', '/buckets/open-b/b.txt')).json, 'bob');
  t.equal((await as(null, 'GET', '/buckets/open-b')).json.count, 2);
  const acl = await as(null, 'GET', '/buckets/open-b/acl');
  t.equal(acl.status, 200);
  t.same([acl.json.owner, acl.json.open], [null, true], 'no owner, open');
  t.equal((await as(bob, 'PUT', '/buckets/open-b/acl', '{"public":"none"}')).status, 403, 'nobody can close an open bucket');
  t.equal((await as(null, 'DELETE', '/buckets/open-b')).status, 200, 'and anyone may delete it');
});

t.test('sharing: public read, read and write per user, taken back', async (t) => {
  const alice = await tokenOf('alice', 'alice-password');
  const bob = await tokenOf('bob', 'bob-password');
  const carol = await tokenOf('carol', 'carol-password');
  t.equal((await as(alice, 'PUT', '/buckets/shared-s')).status, 200);
  t.equal((await as(alice, 'PUT', '/buckets/shared-s/doc.txt', 'v1')).status, 200);
  const set = await as(alice, 'PUT', '/buckets/shared-s/acl', JSON.stringify({ public: 'none', users: { bob: 'read', carol: 'write' } }), json, 'node2');
  t.equal(set.status, 200);
  t.same((await as(alice, 'GET', '/buckets/shared-s/acl', undefined, {}, 'node4')).json.users, { bob: 'read', carol: 'write' }, 'GET shows the list, on any node');
  t.equal((await as(bob, 'GET', '/buckets/shared-s/doc.txt', undefined, {}, 'node3')).json, 'v1', 'bob reads');
  t.equal((await as(bob, 'GET', '/buckets/shared-s', undefined, {}, 'node3')).status, 200, 'bob lists');
  t.equal((await as(bob, 'PUT', '/buckets/shared-s/doc.txt', 'bob was here')).status, 403, 'bob may not write');
  t.equal((await as(carol, 'PUT', '/buckets/shared-s/doc.txt', 'v2 by carol', undefined, 'node4')).status, 200, 'carol writes');
  t.equal((await as(carol, 'GET', '/buckets/shared-s/acl')).status, 403, 'a writer is not the owner: no acl');
  t.equal((await as(carol, 'DELETE', '/buckets/shared-s')).status, 403, 'nor may she delete the bucket');
  t.equal((await as(null, 'GET', '/buckets/shared-s/doc.txt')).status, 403, 'anonymous: still private');
  t.equal((await as(alice, 'PUT', '/buckets/shared-s/acl', JSON.stringify({ public: 'read', users: {} }))).status, 200);
  t.equal((await as(null, 'GET', '/buckets/shared-s/doc.txt', undefined, {}, 'node2')).json, 'v2 by carol', 'public read: anonymous reads');
  t.equal((await as(null, 'PUT', '/buckets/shared-s/doc.txt', 'anon')).status, 403, 'but does not write');
  t.equal((await as(carol, 'PUT', '/buckets/shared-s/doc.txt', 'v3')).status, 403, 'carol was taken off the list');
  t.equal((await as(alice, 'PUT', '/buckets/shared-s/acl', '{"public":"all"}')).status, 400, 'a bad list: 400');
  t.equal((await as(alice, 'PUT', '/buckets/shared-s/acl', '{"users":{"bob":"admin"}}')).status, 400);
  // Deleted and made again by someone else: the new bucket starts private, whatever the old list said.
  t.equal((await as(alice, 'DELETE', '/buckets/shared-s')).status, 200, 'the owner deletes it');
  t.equal((await as(bob, 'PUT', '/buckets/shared-s')).status, 200, 'bob makes one of the same name');
  t.equal((await as(bob, 'PUT', '/buckets/shared-s/new.txt', 'bob owns this')).status, 200);
  t.equal((await as(null, 'GET', '/buckets/shared-s/new.txt')).status, 403, "alice's public-read list does not carry over");
  t.equal((await as(alice, 'GET', '/buckets/shared-s/new.txt')).status, 403, 'nor does alice own it');
});

t.test('logout revokes the token on every node at once', async (t) => {
  const token = await tokenOf('bob', 'bob-password', 'node4');
  t.equal((await as(token, 'GET', '/buckets', undefined, {}, 'node1')).status, 200);
  const out = await as(token, 'POST', '/logout', undefined, {}, 'node2');
  t.equal(out.status, 200);
  for (const n of c.nodes) {
    const r = await as(token, 'GET', '/buckets', undefined, {}, n.id);
    t.equal(r.status, 401, `refused by ${n.id} right after`);
    t.equal(r.json.error.reason, 'revoked');
  }
  t.equal((await as(null, 'POST', '/logout')).status, 401, 'a logout without a token: 401');
});

t.test('concurrent sign-ups of one name on different nodes: exactly one wins', async (t) => {
  for (let round = 0; round < 3; round++) {
    const name = `racer${round}`;
    const answers = await Promise.all(c.nodes.flatMap((n, i) => [signUp(name, `password-${i}-a`, n.id), signUp(name, `password-${i}-b`, n.id)]));
    const won = answers.filter((r) => r.status === 201);
    t.equal(won.length, 1, `round ${round}: one 201 among ${answers.length}`);
    t.ok(answers.every((r) => r.status === 201 || r.status === 409), 'the others 409');
    // The winner's password is the one that logs in; no loser's does.
    const i = answers.findIndex((r) => r.status === 201);
    const password = `password-${Math.floor(i / 2)}-${i % 2 === 0 ? 'a' : 'b'}`;
    t.equal((await logIn(name, password)).status, 200, "the winner's password logs in");
    const loser = `password-${Math.floor(i / 2)}-${i % 2 === 0 ? 'b' : 'a'}`;
    t.equal((await logIn(name, loser)).status, 401, "a loser's does not");
  }
});

t.test('ETags: If-None-Match answers 304, If-Match answers 412 once the file changed', async (t) => {
  t.equal((await as(null, 'POST', '/buckets/etags')).status, 200);
  t.equal((await as(null, 'PUT', '/buckets/etags/f.txt', 'one')).status, 200);
  const first = await as(null, 'GET', '/buckets/etags/f.txt');
  const tag = first.headers.get('etag') as string;
  t.match(tag, /^"[A-Za-z0-9_-]+"$/);
  const head = await as(null, 'HEAD', '/buckets/etags/f.txt');
  t.equal(head.headers.get('etag'), tag, 'HEAD answers the same ETag');
  const same = await as(null, 'GET', '/buckets/etags/f.txt', undefined, { 'if-none-match': tag }, 'node3');
  t.equal(same.status, 304, 'unchanged: 304');
  t.equal(same.json, '', 'with no body');
  t.equal(same.headers.get('etag'), tag);
  t.equal((await as(null, 'GET', '/buckets/etags/f.txt', undefined, { 'if-none-match': '"other", ' + tag })).status, 304, 'a list of tags');
  // The same bytes written again are a new version: the tag changes.
  t.equal((await as(null, 'PUT', '/buckets/etags/f.txt', 'one')).status, 200);
  const rewritten = await as(null, 'GET', '/buckets/etags/f.txt', undefined, { 'if-none-match': tag });
  t.equal(rewritten.status, 200, 'a new version (same bytes): 200 with the body');
  t.equal(rewritten.json, 'one');
  const tag2 = rewritten.headers.get('etag') as string;
  t.not(tag2, tag);
  const stale = await as(null, 'PUT', '/buckets/etags/f.txt', 'two', { 'if-match': tag });
  t.equal(stale.status, 412, 'If-Match with the old tag: 412');
  t.equal(stale.json.error.code, 'PRECONDITION_FAILED');
  t.equal((await as(null, 'DELETE', '/buckets/etags/f.txt', undefined, { 'if-match': tag })).status, 412, 'a DELETE too');
  t.equal((await as(null, 'GET', '/buckets/etags/f.txt')).json, 'one', 'and neither changed it');
  const ok = await as(null, 'PUT', '/buckets/etags/f.txt', 'two', { 'if-match': tag2 }, 'node2');
  t.equal(ok.status, 200, 'If-Match with the current tag: written');
  const after = await as(null, 'GET', '/buckets/etags/f.txt');
  t.equal(after.json, 'two');
  t.equal(after.headers.get('x-siblings'), '1', 'it superseded the version it named (no sibling)');
  t.equal((await as(null, 'PUT', '/buckets/etags/new.txt', 'x', { 'if-none-match': '*' })).status, 200, 'If-None-Match * creates a new file');
  t.equal((await as(null, 'PUT', '/buckets/etags/new.txt', 'y', { 'if-none-match': '*' })).status, 412, 'but not over an existing one');
  t.equal((await as(null, 'PUT', '/buckets/etags/none.txt', 'x', { 'if-match': '*' })).status, 412, 'If-Match * needs the file to exist');
  t.equal((await as(null, 'DELETE', '/buckets/etags/f.txt', undefined, { 'if-match': after.headers.get('etag') as string })).status, 200);
  t.equal((await as(null, 'GET', '/buckets/etags/f.txt')).status, 404);
});

t.test('nothing changes on disk after refused calls', async (t) => {
  const alice = await tokenOf('alice', 'alice-password');
  const bob = await tokenOf('bob', 'bob-password');
  t.equal((await as(alice, 'PUT', '/buckets/quiet')).status, 200);
  t.equal((await as(alice, 'PUT', '/buckets/quiet/f.txt', 'alice')).status, 200);
  const tag = (await as(alice, 'GET', '/buckets/quiet/f.txt')).headers.get('etag') as string;
  // Settled first: the last write's third replica, and anything else still in flight.
  let before = snapshot();
  await waitFor('the data dirs to settle', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const now = snapshot();
    const same = JSON.stringify(now) === JSON.stringify(before);
    before = now;
    return same;
  });
  const refused: Array<[number, Promise<JsonAnswer>]> = [
    [403, as(bob, 'PUT', '/buckets/quiet/f.txt', 'bob')],
    [403, as(bob, 'DELETE', '/buckets/quiet/f.txt')],
    [403, as(bob, 'DELETE', '/buckets/quiet')],
    [403, as(bob, 'PUT', '/buckets/quiet/acl', '{"public":"read"}')],
    [403, as(null, 'POST', '/buckets/quiet/files')],
    [401, as('rst_' + 'y'.repeat(43), 'PUT', '/buckets/quiet/f.txt', 'forged')],
    [401, logIn('alice', 'wrong-password')],
    [409, signUp('alice', 'alice-password-2')],
    [400, signUp('x y', 'alice-password-2')],
    [412, as(alice, 'PUT', '/buckets/quiet/f.txt', 'stale', { 'if-match': '"stale"' })],
    [412, as(alice, 'PUT', '/buckets/quiet/f.txt', 'exists', { 'if-none-match': '*' })],
    [304, as(alice, 'GET', '/buckets/quiet/f.txt', undefined, { 'if-none-match': tag })],
  ];
  for (const [status, p] of refused) t.equal((await p).status, status);
  t.same(snapshot(), before, 'every file under every data dir is as it was (logs aside)');
});

t.test('with a node down (kill -9): sign-ups, logins, token checks and logouts go on', async (t) => {
  const alice = await tokenOf('alice', 'alice-password');
  await c.kill('node3');
  // Every name below has node3 among the owners of its register, or not: a majority of 3 owners answers either way.
  for (let i = 0; i < 6; i++) {
    const name = `while-down-${i}`;
    const via = ['node1', 'node2', 'node4'][i % 3] as string;
    t.equal((await signUp(name, 'password-down', via)).status, 201, `sign-up of ${name} through ${via}`);
    const token = await tokenOf(name, 'password-down', ['node2', 'node4', 'node1'][i % 3]);
    t.equal((await as(token, 'GET', '/buckets', undefined, {}, ['node4', 'node1', 'node2'][i % 3])).status, 200, `its token checked on another node`);
    t.equal((await as(token, 'POST', '/logout', undefined, {}, via)).status, 200, 'logout');
    t.equal((await as(token, 'GET', '/buckets', undefined, {}, 'node4')).status, 401, 'revoked');
  }
  t.equal((await as(alice, 'GET', '/buckets/private-a/secret.txt', undefined, {}, 'node2')).json, 'for alice only', 'a token issued before the outage still works');
  await c.restart('node3');
  await waitFor('node3 back in compare-and-set', async () => (await call('GET', `${c.url('node3')}/health`)).json?.locks === 'ready', 30_000);
  t.equal((await as(alice, 'GET', '/buckets/private-a', undefined, {}, 'node3')).status, 200, 'and on the node that came back');
});

t.test('the CLI: signup, login (token file 0600), acl, logout; get re-downloads only what changed', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ringstore-cli-users-'));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(work, 'cache'), XDG_CONFIG_HOME: join(work, 'config') };
  delete env.RINGSTORE_TOKEN;
  const cli = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--config', c.configFile, ...args], { cwd: work, env }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  let r = await cli('signup', 'erin', '--password', 'erin-password');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /user erin created/);
  r = await cli('signup', 'erin', '--password', 'erin-password');
  t.equal(r.code, 1, 'a taken name');
  t.match(r.stderr, /taken/);
  r = await cli('login', 'erin', '--password', 'wrong-password');
  t.equal(r.code, 1);
  t.match(r.stderr, /wrong username or password \(401/);
  r = await cli('login', 'erin', '--password', 'erin-password');
  t.equal(r.code, 0, r.stderr);
  const tokenFile = join(work, 'config', 'ringstore', 'token.json');
  t.match(r.stdout, /logged in as erin until/);
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the token file has mode 0600');
  const token = JSON.parse(readFileSync(tokenFile, 'utf8')).token as string;
  t.match(token, /^rst_/);
  // Now every command carries the token: the bucket is erin's, private.
  t.equal((await cli('mb', 'erins')).code, 0);
  t.equal((await as(null, 'GET', '/buckets/erins')).status, 403, 'made through the CLI while logged in: private');
  t.equal((await as(token, 'GET', '/buckets/erins')).status, 200);
  r = await cli('acl', 'erins', '--public', 'read', '--grant', 'bob=write');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /owner erin, public read/);
  t.match(r.stdout, /bob: write/);
  const bob = await tokenOf('bob', 'bob-password');
  t.equal((await as(bob, 'PUT', '/buckets/erins/from-bob.txt', 'hi from bob')).status, 200, 'bob writes, as the list says');
  r = await cli('acl', 'erins', '--revoke', 'bob');
  t.match(r.stdout, /shared with no user/);
  t.equal((await as(bob, 'PUT', '/buckets/erins/from-bob.txt', 'again')).status, 403);

  // The local cache: a second get of an unchanged file is a 304, served from the copy.
  const payload = Buffer.alloc(200_000, 7);
  t.equal((await as(token, 'PUT', '/buckets/erins/big.bin', payload.toString('latin1'))).status, 200);
  const notModified = async (): Promise<number> => {
    const m = await as(token, 'GET', '/metrics');
    const line = String(m.json).split('\n').find((l) => l.startsWith('ringstore_requests_total{') && l.includes('route="/buckets/:bucket/:file"') && l.includes('method="GET"') && l.includes('status="304"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  r = await cli('get', 'erins', 'big.bin', '-o', 'big1.bin');
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, /from the local cache/, 'the first get downloads');
  t.same(readFileSync(join(work, 'big1.bin')), payload);
  const before = await notModified();
  r = await cli('get', 'erins', 'big.bin', '-o', 'big2.bin', '--endpoint', c.url('node1'));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /unchanged: from the local cache/, 'the second get says it used the copy');
  t.same(readFileSync(join(work, 'big2.bin')), payload, 'with the right bytes');
  t.equal(await notModified(), before + 1, 'and the server answered it 304 (no body sent)');
  t.equal((await as(token, 'PUT', '/buckets/erins/big.bin', 'changed')).status, 200);
  r = await cli('get', 'erins', 'big.bin');
  t.equal(r.stdout, 'changed', 'a changed file is downloaded again');
  t.notMatch(r.stderr, /local cache/);
  r = await cli('get', 'erins', 'big.bin', '--no-cache');
  t.equal(r.stdout, 'changed');

  r = await cli('logout');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /logged out erin/);
  t.equal((await as(token, 'GET', '/buckets/erins')).status, 401, 'the kept token is revoked');
  r = await cli('ls', 'erins');
  t.equal(r.code, 0, 'logged out, the CLI is anonymous: the bucket is public-read');
  r = await cli('put', 'erins', join(work, 'big1.bin'));
  t.equal(r.code, 1, 'but not writable');
  t.match(r.stderr, /403 FORBIDDEN/);
});

/** What the schedulers rewrite as they run (gossip rounds, what each worker is doing), apart from the store. */
const SCHEDULER_RECORDS = new Set(['gossip.txt', 'down_system.json', 'hinted.json', 'workers.json']);

/** Every file of every node's data dir (not logs, not the schedulers' records) with a digest of its bytes. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!SCHEDULER_RECORDS.has(e.name) && !e.name.endsWith('.log') && !e.name.includes('.tmp')) {
        // A file gone between the listing and the read was a scheduler's record being replaced: not the store's.
        try {
          out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
  };
  for (const n of c.nodes) walk(c.dataDir(n.id));
  return out;
}

function grep(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) hits.push(...grep(p, needle));
    else if (statSync(p).size < 64 * 1024 * 1024 && readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

t.test('with auth.required, every call but sign-up, login and /health needs a token; tokens expire', async (t) => {
  // Tokens last 3 s here, so that expiry is seen within the test.
  const r = await TestCluster.create(t, { cron: true, extra: { auth: { required: true, tokenTtlMs: 3000 } } });
  await startReady(r);
  const url = r.url('node2');
  const health = await call('GET', `${r.url()}/health`);
  t.equal(health.status, 200, '/health answers');
  t.equal(health.json.auth, 'required', 'and says the mode');
  for (const [method, path] of [['GET', '/buckets'], ['POST', '/buckets/bkt1'], ['GET', '/buckets/bkt1/x'], ['PUT', '/buckets/bkt1/x'], ['GET', '/buckets/b1'], ['GET', '/cluster'], ['GET', '/metrics']] as const) {
    const a = await call(method, `${url}${path}`, method === 'PUT' ? 'data' : undefined);
    t.equal(a.status, 401, `${method} ${path} without a token: 401`);
  }
  t.equal((await call('POST', `${url}/users`, JSON.stringify({ username: 'dana', password: 'dana-password' }), json)).status, 201, 'sign-up needs none');
  const login = await call('POST', `${r.url('node3')}/login`, JSON.stringify({ username: 'dana', password: 'dana-password' }), json);
  t.equal(login.status, 200, 'nor does login');
  const token = login.json.token as string;
  t.equal((await call('POST', `${url}/buckets/bkt1`, undefined, bearer(token))).status, 200, 'with the token: served');
  t.equal((await call('PUT', `${url}/buckets/bkt1/x`, 'data', bearer(token))).status, 200);
  t.equal((await call('GET', `${r.url('node4')}/buckets/bkt1/x`, undefined, bearer(token))).json, 'data');
  t.equal((await call('GET', `${url}/cluster`, undefined, bearer(token))).status, 200);
  const expired = await waitFor('the token to expire', async () => {
    const a = await call('GET', `${r.url('node3')}/buckets`, undefined, bearer(token));
    return a.status === 401 ? a : null;
  }, 15_000, 250);
  t.equal(expired.json.error.reason, 'expired', 'after auth.tokenTtlMs: 401, expired');
});
