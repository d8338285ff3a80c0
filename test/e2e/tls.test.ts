// TLS end to end (issue 14), as an operator sets it up: scripts/make-certs.sh
// makes a CA and a certificate per node, nodes.json names them, and
// scripts/start-cluster.sh starts the cluster. Then every REST port serves
// HTTPS only, the socket ports speak mutual TLS (replication crosses them),
// plaintext clients are refused on both, and the CLI works over HTTPS.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import newman from 'newman';
import { ROOT, TestCluster } from '../helpers/cluster.js';
import { call } from '../helpers/http.js';

const run = promisify(execFile);
const c = await TestCluster.create(t);
const script = (name: string): string => join(ROOT, 'scripts', name);
t.teardown(async () => {
  await run(script('stop-cluster.sh'), ['--config', c.configFile]).catch(() => undefined);
});

const certs = await run(script('make-certs.sh'), ['--config', c.configFile]);
const config = JSON.parse(readFileSync(c.configFile, 'utf8'));
config.tls = { certFile: 'certs/{id}.crt', keyFile: 'certs/{id}.key', caFile: 'certs/ca.crt' };
writeFileSync(c.configFile, JSON.stringify(config, null, 2));
const ca = readFileSync(join(c.dir, 'certs', 'ca.crt'));
const https_ = (id: string): string => `https://127.0.0.1:${c.node(id).restPort}`;

/** A request over HTTPS, checking the server against the cluster's CA. */
function tlsCall(method: string, url: string, body?: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('make-certs.sh makes a CA and a certificate per node', async (t) => {
  t.match(certs.stdout, /made the CA/);
  for (const n of c.nodes) t.match(certs.stdout, new RegExp(`${n.id}: .*${n.id}\\.crt \\(IP:127\\.0\\.0\\.1`));
  t.match(certs.stdout, /"tls": \{"certFile": "certs\/\{id\}\.crt"/, 'it says what to add to nodes.json');
});

t.test('start-cluster.sh brings the cluster up over TLS', async (t) => {
  const { stdout } = await run(script('start-cluster.sh'), ['--config', c.configFile], { env: { ...process.env, RINGSTORE_START_TIMEOUT: '60' } });
  const lines = stdout.trim().split('\n');
  t.match(lines.at(-1), /^cluster ready: 4 of 4 nodes up \(N=3 R=2 W=2\), REST on https:\/\/127\.0\.0\.1:/, 'the ready line names https');
  t.notMatch(stdout, /plain HTTP/, 'no warning about plain HTTP');
  t.match(stdout, /auth: optional/, 'the banner says the mode');
});

t.test('REST over HTTPS, replicas over TLS sockets', async (t) => {
  t.equal((await tlsCall('POST', `${https_('node1')}/buckets/secure`)).status, 200);
  const put = await tlsCall('PUT', `${https_('node2')}/buckets/secure/a.txt`, 'over tls');
  t.equal(put.status, 200);
  // W=2 acknowledge before the answer; the third replica may land just after it on a loaded machine.
  t.ok(JSON.parse(put.text).replicas_written.length >= 2, 'written to W replicas at least, over the TLS socket ports');
  const got = await tlsCall('GET', `${https_('node4')}/buckets/secure/a.txt`);
  t.equal(got.text, 'over tls', 'read back through another node');
  const signup = await tlsCall('POST', `${https_('node3')}/users`, JSON.stringify({ username: 'tls-user', password: 'tls-password' }));
  t.equal(signup.status, 201, 'a sign-up: its password crossed TLS only');
});

t.test('plaintext clients are refused', async (t) => {
  await t.rejects(call('GET', `http://127.0.0.1:${c.node('node1').restPort}/health`), 'plain HTTP on a REST port: no answer');
  // The socket port: plain TCP gets nothing back and is closed; TLS without a certificate of the CA too.
  const plain = await new Promise<{ bytes: number }>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: c.node('node2').port });
    let bytes = 0;
    s.on('data', (d) => (bytes += d.length));
    s.on('connect', () => s.write(Buffer.from([0, 0, 0, 2, 0x7b, 0x7d])));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ bytes }));
    setTimeout(() => s.destroy(), 5000);
  });
  t.ok(plain.bytes === 0 || plain.bytes < 16, `plain TCP on the socket port gets no frame (${plain.bytes} bytes, a TLS alert at most)`);
  const noCert = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: c.node('node2').port, ca });
    s.on('secureConnect', () => s.write(Buffer.from([0, 0, 0, 2, 0x7b, 0x7d])));
    s.on('data', () => resolve('answered'));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve('closed'));
    setTimeout(() => s.destroy(), 5000);
  });
  t.not(noCert, 'answered', `TLS without a client certificate: ${noCert}`);
});

t.test('the CLI works over HTTPS with the config\'s CA', async (t) => {
  const cli = (...args: string[]) => run(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--config', c.configFile, ...args], { env: { ...process.env, XDG_CACHE_HOME: join(c.dir, 'cache'), XDG_CONFIG_HOME: join(c.dir, 'cfg') } });
  const ls = await cli('ls', 'secure');
  t.match(ls.stdout, /a\.txt/);
  const got = await cli('get', 'secure', 'a.txt');
  t.equal(got.stdout, 'over tls');
  const login = await cli('login', 'tls-user', '--password', 'tls-password');
  t.match(login.stdout, /logged in as tls-user/);
});

t.test('the Postman collection runs over HTTPS (newman, with the CA as Postman would be given it)', async (t) => {
  const dir = join(ROOT, 'docs', 'postman');
  const summary = await new Promise<newman.NewmanRunSummary>((resolve, reject) =>
    newman.run(
      {
        collection: join(dir, 'ringstore.postman_collection.json'),
        environment: join(dir, 'ringstore-tls.postman_environment.json'),
        envVar: [
          { key: 'baseUrl', value: https_('node1') },
          { key: 'baseUrl2', value: https_('node3') },
        ],
        sslExtraCaCerts: join(c.dir, 'certs', 'ca.crt'),
        workingDir: dir,
        reporters: [],
      },
      (err, s) => (err ? reject(err) : resolve(s)),
    ),
  );
  t.same(summary.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.message}`), [], 'no failures');
  t.ok((summary.run.stats.requests.total ?? 0) >= 30, 'every request ran');
});
