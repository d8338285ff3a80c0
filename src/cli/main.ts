#!/usr/bin/env node
// ringstore: the command line of the store. Talks to any node's REST port,
// falling back to the next node of the config when one does not answer.
// Exit codes: 0 ok, 1 the server refused (its message shown) or no node answered, 2 usage.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../runtime/config-file.js';
import { readTlsCa } from '../runtime/tls.js';
import { CliError, Client, asCliError, serverError, type CallOptions } from './client.js';
import { defaultCacheDir, FileCache } from './cache.js';
import { bucketTable, fileRows, siblingTable, statusTable, writeSummary } from './format.js';
import { fileStream, progress, PROGRESS_THRESHOLD } from './progress.js';
import { defaultTokenFile, forgetSession, readPassword, readSession, saveSession } from './session.js';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Globals {
  endpoint?: string;
  config?: string;
  json: boolean;
  progress: boolean;
  timeout: number;
  authToken?: string;
  tokenFile?: string;
  ca?: string;
}

/**
 * HTTPS to a cluster whose certificates come from its own CA: Node's fetch
 * takes extra CAs only from NODE_EXTRA_CA_CERTS, read when the process starts,
 * so the CLI runs itself again with it set (once).
 */
function trustCa(file: string): void {
  if (process.env.NODE_EXTRA_CA_CERTS === file) return;
  const again = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: file } });
  process.exit(again.status ?? 1);
}

/** The token to send: --auth-token, $RINGSTORE_TOKEN, or the one `ringstore login` kept for a cluster with these endpoints. */
function authToken(g: Globals, endpoints: readonly string[]): string | null {
  const given = g.authToken ?? process.env.RINGSTORE_TOKEN;
  if (given) return given;
  const session = readSession(g.tokenFile ?? defaultTokenFile());
  return session && session.endpoints.some((e) => endpoints.includes(e)) ? session.token : null;
}

/** The config to take endpoints from: --config, $RINGSTORE_CONFIG, ./nodes.json, or the one shipped with the package. */
function configFile(given: string | undefined): string | null {
  if (given) {
    if (!existsSync(given)) throw new CliError(`config ${given} not found`, 2);
    return given;
  }
  const candidates = [process.env.RINGSTORE_CONFIG, 'nodes.json', join(PACKAGE_ROOT, 'nodes.json')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}

function client(g: Globals): Client {
  const endpoints: string[] = [];
  if (g.endpoint) endpoints.push(g.endpoint.replace(/\/+$/, ''));
  const file = configFile(g.config);
  if (g.ca) trustCa(resolve(g.ca));
  if (file) {
    const config = loadConfig(file);
    if (config.tls && !g.ca && readTlsCa(config)) trustCa(resolve(dirname(config.file), config.tls.caFile));
    for (const n of config.nodes) {
      const url = `${config.tls ? 'https' : 'http'}://${n.host}:${n.restPort}`;
      if (!endpoints.includes(url)) endpoints.push(url);
    }
  }
  const token = authToken(g, endpoints);
  return new Client(
    endpoints,
    g.timeout * 1000,
    (from, to, why) => {
      if (!g.json) process.stderr.write(`${from} did not answer (${why}); trying ${to}\n`);
    },
    token ? { authorization: `Bearer ${token}` } : {},
  );
}

const enc = encodeURIComponent;
const print = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const printJson = (v: unknown): void => print(JSON.stringify(v, null, 2));

async function run(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('ringstore')
    .usage('$0 <command> [options]\n\nThe command line of ringstore, a Dynamo-style replicated object store.')
    .option('endpoint', { alias: 'e', type: 'string', describe: 'REST URL of the node to talk to (default: the first node of the config; the next ones if it is down)' })
    .option('config', { alias: 'c', type: 'string', describe: 'nodes.json to take the endpoints from (default: $RINGSTORE_CONFIG, ./nodes.json)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the server\'s JSON answer' })
    .option('progress', { type: 'boolean', default: true, describe: 'show a progress bar for transfers over 1 MiB on a terminal' })
    .option('timeout', { type: 'number', default: 30, describe: 'seconds to wait for a node' })
    .option('auth-token', { type: 'string', describe: 'the token to send (default: $RINGSTORE_TOKEN, else the one "ringstore login" kept)' })
    .option('token-file', { type: 'string', describe: `where "ringstore login" keeps the token (default: ${defaultTokenFile()})` })
    .option('ca', { type: 'string', describe: 'CA certificate to check HTTPS endpoints against (default: tls.caFile of the config)' })
    .command('mb <bucket>', 'make a bucket', (y) => y.positional('bucket', { type: 'string', demandOption: true }), async (a) => {
      const { body } = await client(a).json('POST', `/buckets/${enc(a.bucket)}`);
      if (a.json) return printJson(body);
      print(body.created ? `created bucket ${a.bucket} on ${body.replicas_written.join(', ')}` : `bucket ${a.bucket} already exists`);
    })
    .command('rb <bucket>', 'remove a bucket and its files', (y) => y.positional('bucket', { type: 'string', demandOption: true }), async (a) => {
      const { body } = await client(a).json('DELETE', `/buckets/${enc(a.bucket)}`);
      if (a.json) return printJson(body);
      print(`removed bucket ${a.bucket}`);
    })
    .command(
      'ls [bucket]',
      'list buckets, or every file of a bucket (asked for a page at a time)',
      (y) =>
        y
          .positional('bucket', { type: 'string' })
          .option('limit', { type: 'number', default: 1000, describe: 'files asked for per page (1 to 10000)' })
          .option('prefix', { type: 'string', describe: 'only names that start with this' })
          .option('delimiter', { type: 'string', describe: 'fold names beyond it into common prefixes (PRE lines)' }),
      async (a) => {
        const c = client(a);
        if (!a.bucket) {
          const { body } = await c.json('GET', '/buckets');
          return a.json ? printJson(body) : print(bucketTable(body.buckets));
        }
        // Every page, printed as it comes: with --json, one JSON line per file (and per common prefix).
        let after: string | null = null;
        let shown = 0;
        do {
          const params = new URLSearchParams({ limit: String(a.limit) });
          if (after !== null) params.set('after', after);
          if (a.prefix) params.set('prefix', a.prefix);
          if (a.delimiter) params.set('delimiter', a.delimiter);
          const { body } = await c.json('GET', `/buckets/${enc(a.bucket)}?${params}`);
          if (a.json) {
            for (const f of body.files) print(JSON.stringify(f) + '\n');
            for (const p of body.common_prefixes ?? []) print(JSON.stringify({ prefix: p }) + '\n');
          } else if (body.files.length + (body.common_prefixes?.length ?? 0) > 0) print(fileRows(body.files, body.common_prefixes ?? [], shown === 0));
          shown += body.files.length + (body.common_prefixes?.length ?? 0);
          after = body.next;
        } while (after !== null);
        if (shown === 0 && !a.json) print('no files\n');
      },
    )
    .command(
      'put <bucket> <file>',
      'upload a local file',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true, describe: 'local file to upload' })
          .option('as', { type: 'string', describe: 'name to store it under (default: the local file\'s name)' })
          .option('context', { type: 'string', describe: 'causal context of a read, to supersede what it returned' })
          .option('lock-token', { alias: 'token', type: 'string', describe: 'the fencing token of the lock you hold on the file (from "ringstore lock")' }),
      async (a) => {
        const name = a.as ?? basename(a.file);
        let size: number;
        try {
          size = statSync(a.file).size;
          closeSync(openSync(a.file, 'r'));
        } catch (err) {
          throw new CliError(`cannot read ${a.file}: ${(err as Error).message}`, 2);
        }
        const body = await upload(client(a), a, a.bucket, name, { path: a.file, size }, a.context, a.lockToken);
        if (a.json) return printJson(body);
        print(writeSummary(`stored ${a.bucket}/${name} (${size} bytes)`, body));
      },
    )
    .command(
      'get <bucket> <file>',
      'download a file (to stdout, or -o path)',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('output', { alias: 'o', type: 'string', describe: 'write to this path instead of stdout' })
          .option('version', { type: 'string', describe: 'fetch this version (one of the siblings)' })
          .option('cache', { type: 'boolean', default: true, describe: 'keep a local copy, and download again only when the file changed (--no-cache: always download)' })
          .option('cache-dir', { type: 'string', describe: `folder of the local copies (default: ${defaultCacheDir()})` }),
      async (a) => {
        const c = client(a);
        const q = a.version ? `?version=${enc(a.version)}` : '';
        const cache = a.cache ? new FileCache(a.cacheDir ?? defaultCacheDir(), c.endpoints) : null;
        const copy = (await cache?.get(a.bucket, a.file, a.version)) ?? null;
        const res = await c.request('GET', `/buckets/${enc(a.bucket)}/${enc(a.file)}${q}`, { headers: copy ? { 'if-none-match': copy.etag } : {} });
        if (res.status === 300) {
          const body = (await res.json()) as { siblings: Array<{ version: string; size: number; last_modified: string; deleted: boolean }> };
          if (a.json) printJson(body);
          else process.stderr.write(siblingTable(`${a.bucket}/${a.file}`, body.siblings, a.bucket, a.file));
          throw new CliError(`${a.bucket}/${a.file} has ${body.siblings.length} concurrent versions: choose one with --version, or resolve them`);
        }
        const cached = res.status === 304 && copy !== null;
        if (!cached && !res.ok) throw serverError(res.status, await res.json().catch(() => null));
        const toStdout = a.output === undefined || a.output === '-';
        // The bytes go to stdout or to a temporary file beside the output (renamed once whole), and a download
        // also to a temporary file of the cache: a piece at a time, never the whole file in memory.
        const outTmp = toStdout ? null : `${a.output as string}.${process.pid}.part`;
        const sinks: WriteStream[] = [];
        let size = 0;
        try {
          const out = outTmp ? createWriteStream(outTmp) : null;
          if (out) sinks.push(out);
          const write = async (piece: Uint8Array): Promise<void> => {
            size += piece.length;
            const waits: Array<Promise<unknown>> = [];
            if (!out && !process.stdout.write(piece)) waits.push(new Promise<void>((r) => process.stdout.once('drain', () => r())));
            for (const s of sinks) if (!s.write(piece)) waits.push(new Promise<void>((r) => s.once('drain', () => r())));
            await Promise.all(waits);
          };
          if (cached) {
            // The server says our copy is the current version: nothing downloaded.
            for await (const piece of createReadStream(copy.path)) await write(piece as Buffer);
          } else {
            const etag = res.headers.get('etag');
            const keep = cache && etag ? { tmp: cache.begin(), etag, hash: createHash('sha256') } : null;
            if (keep) sinks.push(createWriteStream(keep.tmp, { mode: 0o600 }));
            const total = Number(res.headers.get('content-length') ?? NaN);
            const p = progress(`get ${a.file}`, Number.isFinite(total) ? total : null, a.progress && !toStdout);
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
              keep?.hash.update(piece);
              p.tick(piece.length);
              await write(piece);
            }
            p.done();
            await Promise.all(sinks.map((s) => new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())))));
            if (keep && cache) cache.keep(a.bucket, a.file, a.version, keep.tmp, { etag: keep.etag, version: res.headers.get('x-version'), sha256: keep.hash.digest('hex') });
          }
          if (cached) await Promise.all(sinks.map((s) => new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())))));
          if (outTmp) renameSync(outTmp, a.output as string);
        } catch (err) {
          if (outTmp) rmSync(outTmp, { force: true });
          throw err;
        }
        const version = cached ? (res.headers.get('x-version') ?? copy.version) : res.headers.get('x-version');
        const meta = { success: true, bucket: a.bucket, file: a.file, size, version, context: res.headers.get('x-context'), etag: res.headers.get('etag'), cached, endpoint: c.endpoint };
        if (toStdout) {
          if (cached && !a.json) process.stderr.write(`${a.bucket}/${a.file} unchanged since the last download: from the local cache\n`);
          return;
        }
        if (a.json) printJson({ ...meta, output: a.output });
        else print(`saved ${a.bucket}/${a.file} (${size} bytes, version ${meta.version}${cached ? ', unchanged: from the local cache' : ''}) to ${a.output}`);
      },
    )
    .command(
      'rm <bucket> <file>',
      'delete a file (a versioned tombstone)',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('lock-token', { alias: 'token', type: 'string', describe: 'the fencing token of the lock you hold on the file' }),
      async (a) => {
        const { body } = await client(a).json('DELETE', `/buckets/${enc(a.bucket)}/${enc(a.file)}`, { headers: a.lockToken ? { 'x-lock-token': a.lockToken } : {} });
        if (a.json) return printJson(body);
        print(writeSummary(`deleted ${a.bucket}/${a.file}`, body));
      },
    )
    .command(
      'lock <bucket> <file>',
      'take the lock of a file (a lease with a fencing token), waiting in its queue up to --wait',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('ttl', { type: 'string', describe: 'the lease: 30s, 500ms, 2m; a bare number is milliseconds (default 30s)' })
          .option('wait', { type: 'string', describe: 'how long to wait in the queue when the file is locked (default 0: not at all)' }),
      async (a) => {
        const ttl = a.ttl === undefined ? undefined : duration('--ttl', a.ttl);
        const wait = a.wait === undefined ? undefined : duration('--wait', a.wait);
        const g: Globals = { ...a, timeout: Math.max(a.timeout, (wait ?? 0) / 1000 + 10) };
        const payload = JSON.stringify({ ...(ttl !== undefined ? { ttl_ms: ttl } : {}), ...(wait !== undefined ? { wait_ms: wait } : {}) });
        const { status, body } = await client(g).json('POST', `/buckets/${enc(a.bucket)}/${enc(a.file)}/lock`, { body: () => Buffer.from(payload), headers: { 'content-type': 'application/json' } }, [409]);
        if (a.json) printJson(body);
        if (status === 409) {
          if (!a.json) process.stderr.write(`${a.bucket}/${a.file} is locked (queue position ${body.queue_position} when the wait ended)\n`);
          process.exitCode = 1;
          return;
        }
        if (!a.json) print(`locked ${a.bucket}/${a.file}: fencing token ${body.fencing_token}, until ${new Date(body.expires_at).toISOString()}\nwrite with --lock-token ${body.fencing_token}; renew with "ringstore lock-renew", release with "ringstore unlock ${a.bucket} ${a.file} --lock-token ${body.fencing_token}"`);
      },
    )
    .command(
      'lock-renew <bucket> <file>',
      'extend the lease of a lock you hold',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('lock-token', { alias: 'token', type: 'string', demandOption: true, describe: 'the fencing token of your grant' })
          .option('ttl', { type: 'string', describe: 'the new lease (default: the one it was granted with)' }),
      async (a) => {
        const ttl = a.ttl === undefined ? undefined : duration('--ttl', a.ttl);
        const { body } = await client(a).json('PUT', `/buckets/${enc(a.bucket)}/${enc(a.file)}/lock`, {
          body: () => Buffer.from(JSON.stringify(ttl !== undefined ? { ttl_ms: ttl } : {})),
          headers: { 'content-type': 'application/json', 'x-lock-token': a.lockToken },
        });
        if (a.json) return printJson(body);
        print(`renewed ${a.bucket}/${a.file}: fencing token ${body.fencing_token}, until ${new Date(body.expires_at).toISOString()}`);
      },
    )
    .command(
      'unlock <bucket> <file>',
      'release a lock you hold; the next in its queue gets it',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('lock-token', { alias: 'token', type: 'string', demandOption: true, describe: 'the fencing token of your grant' }),
      async (a) => {
        const { body } = await client(a).json('DELETE', `/buckets/${enc(a.bucket)}/${enc(a.file)}/lock`, { headers: { 'x-lock-token': a.lockToken } });
        if (a.json) return printJson(body);
        print(`unlocked ${a.bucket}/${a.file}${body.handed_over ? ' (handed to the next in its queue)' : ''}`);
      },
    )
    .command(
      'signup <username>',
      'make a user (the password from --password, $RINGSTORE_PASSWORD, or asked for)',
      (y) => y.positional('username', { type: 'string', demandOption: true }).option('password', { type: 'string', describe: 'the password (8 characters or more)' }),
      async (a) => {
        const { body } = await client(a).json('POST', '/users', await credentials(a.username, a.password));
        if (a.json) return printJson(body);
        print(`user ${a.username} created: log in with "ringstore login ${a.username}"`);
      },
    )
    .command(
      'login <username>',
      'log in, and keep the token for the next commands (in a file of mode 0600)',
      (y) => y.positional('username', { type: 'string', demandOption: true }).option('password', { type: 'string', describe: 'the password' }),
      async (a) => {
        const c = client(a);
        const { body } = await c.json('POST', '/login', await credentials(a.username, a.password));
        const file = a.tokenFile ?? defaultTokenFile();
        saveSession(file, { token: body.token, username: a.username, expires_at: new Date(body.expires_at).toISOString(), endpoints: [...c.endpoints] });
        if (a.json) return printJson({ ...body, token_file: file });
        print(`logged in as ${a.username} until ${new Date(body.expires_at).toISOString()}; the token is in ${file}`);
      },
    )
    .command('logout', 'revoke the kept token on every node, and forget it', {}, async (args) => {
      const a = args as unknown as Globals;
      const file = a.tokenFile ?? defaultTokenFile();
      const session = readSession(file);
      if (!a.authToken && !process.env.RINGSTORE_TOKEN && !session) throw new CliError(`not logged in (no token in ${file})`);
      const { body } = await client(a).json('POST', '/logout');
      forgetSession(file);
      if (a.json) return printJson(body);
      print(`logged out${body.username ? ` ${body.username}` : ''}: the token is revoked`);
    })
    .command(
      'acl <bucket>',
      'show who may use a bucket you own, or change it: --public none|read, --grant user=read|write, --revoke user',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .option('public', { type: 'string', choices: ['none', 'read'], describe: 'whether anyone (no token needed) may read it' })
          .option('grant', { type: 'string', array: true, describe: 'user=read or user=write (repeatable)' })
          .option('revoke', { type: 'string', array: true, describe: 'a user to take off the list (repeatable)' }),
      async (a) => {
        const c = client(a);
        const path = `/buckets/${enc(a.bucket)}/acl`;
        const { body: current } = await c.json('GET', path);
        const changing = a.public !== undefined || (a.grant?.length ?? 0) > 0 || (a.revoke?.length ?? 0) > 0;
        let shown = current;
        if (changing) {
          const users: Record<string, string> = { ...(current.users ?? {}) };
          for (const g of a.grant ?? []) {
            const m = /^([^=]+)=(read|write)$/.exec(g);
            if (!m) throw new CliError(`--grant takes user=read or user=write, not ${JSON.stringify(g)}`, 2);
            users[m[1] as string] = m[2] as string;
          }
          for (const r of a.revoke ?? []) delete users[r];
          const acl = { public: a.public ?? current.public ?? 'none', users };
          shown = (await c.json('PUT', path, { body: () => Buffer.from(JSON.stringify(acl)), headers: { 'content-type': 'application/json' } })).body;
        }
        if (a.json) return printJson(shown);
        if (shown.owner === null) return print(`${a.bucket} has no owner: it was created without a token and is open to all`);
        const lines = [`${a.bucket}: owner ${shown.owner}, public ${shown.public}`];
        const users = Object.entries(shown.users as Record<string, string>);
        for (const [u, level] of users) lines.push(`  ${u}: ${level}`);
        if (users.length === 0) lines.push('  shared with no user');
        print(lines.join('\n'));
      },
    )
    .command('admin', 'change the cluster\'s membership', (y) =>
      y
        .command(
          'join <id>',
          'add a running machine to the cluster (it was started with scripts/start-node.sh <id> --host --port --rest-port)',
          (z) =>
            z
              .positional('id', { type: 'string', demandOption: true })
              .option('host', { type: 'string', demandOption: true, describe: 'its address' })
              .option('port', { type: 'number', demandOption: true, describe: 'its socket port' })
              .option('rest-port', { type: 'number', demandOption: true, describe: 'its REST port' }),
          async (a) => {
            const c = client(a);
            const { body } = await c.json('POST', '/cluster/members', { body: () => Buffer.from(JSON.stringify({ id: a.id, host: a.host, port: a.port, restPort: a['rest-port'] })), headers: { 'content-type': 'application/json' } });
            if (a.json) return printJson(body);
            print(`${a.id} joined: epoch ${body.epoch}, members ${body.members.join(', ')}; partitions move in the background ("ringstore status" shows when it has settled)`);
          },
        )
        .command(
          'leave <id>',
          'remove a member; its partitions move to the others first',
          (z) => z.positional('id', { type: 'string', demandOption: true }),
          async (a) => {
            const c = client(a);
            const { body } = await c.json('DELETE', `/cluster/members/${enc(a.id)}`);
            if (a.json) return printJson(body);
            print(`${a.id} is leaving: epoch ${body.epoch}, members ${body.members.join(', ')}; its data moves in the background ("ringstore status" shows when it has settled)`);
          },
        )
        .demandCommand(1, 'say join or leave'),
    )
    .command('status', 'the nodes, their state, and N/R/W', {}, async (args) => {
      const a = args as unknown as Globals;
      const c = client(a);
      const { body } = await c.json('GET', '/cluster');
      if (a.json) return printJson(body);
      print(statusTable(body, c.endpoint));
    })
    .command(
      'resolve <bucket> <file>',
      'resolve siblings: keep one version, or write a local file, superseding them all',
      (y) =>
        y
          .positional('bucket', { type: 'string', demandOption: true })
          .positional('file', { type: 'string', demandOption: true })
          .option('keep', { type: 'string', describe: 'the version to keep' })
          .option('from', { type: 'string', describe: 'a local file holding the merged content' })
          .conflicts('keep', 'from')
          .check((x) => {
            if (!x.keep && !x.from) throw new CliError('give --keep <version> or --from <local file>', 2);
            return true;
          }),
      async (a) => {
        const c = client(a);
        const path = `/buckets/${enc(a.bucket)}/${enc(a.file)}`;
        let data: Buffer;
        let context: string | null;
        if (a.keep) {
          const res = await c.request('GET', `${path}?version=${enc(a.keep)}`);
          if (!res.ok) throw serverError(res.status, await res.json().catch(() => null));
          data = Buffer.from(await res.arrayBuffer());
          context = res.headers.get('x-context');
        } else {
          try {
            data = readFileSync(a.from as string);
          } catch (err) {
            throw new CliError(`cannot read ${a.from}: ${(err as Error).message}`, 2);
          }
          const res = await c.request('GET', path);
          if (res.status !== 200 && res.status !== 300) throw serverError(res.status, await res.json().catch(() => null));
          context = res.headers.get('x-context');
          await res.arrayBuffer();
        }
        const body = await upload(c, a, a.bucket, a.file, data, context ?? undefined);
        if (a.json) return printJson(body);
        print(writeSummary(`resolved ${a.bucket}/${a.file} with ${a.keep ? `version ${a.keep}` : a.from} (${data.length} bytes)`, body));
      },
    )
    .demandCommand(1, 'say which command to run')
    .strict()
    .recommendCommands()
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err instanceof CliError && err.exitCode === 2) msg = err.message;
      else if (err) throw err;
      process.stderr.write(`${msg}\n\nRun "ringstore --help" for usage.\n`);
      process.exit(2);
    });
  await cli.parseAsync();
}

/** The body of a sign-up or login: the name, and the password as given or asked for. */
async function credentials(username: string, given: string | undefined): Promise<CallOptions> {
  const password = await readPassword(given, `password for ${username}: `);
  return { body: () => Buffer.from(JSON.stringify({ username, password })), headers: { 'content-type': 'application/json' } };
}

/** 30s, 500ms, 2m, 1h; a bare number is milliseconds. */
function duration(option: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new CliError(`${option} takes a duration such as 30s, 500ms or 2m, not ${JSON.stringify(text)}`, 2);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * scale);
}

/** PUT bytes in hand, or a local file read from disk as it is sent (a large one is never held whole). */
async function upload(c: Client, g: Globals, bucket: string, name: string, source: Buffer | { path: string; size: number }, context: string | undefined, lockToken?: string): Promise<any> {
  const size = Buffer.isBuffer(source) ? source.length : source.size;
  const p = progress(`put ${name}`, size, g.progress);
  try {
    const { body } = await c.json('PUT', `/buckets/${enc(bucket)}/${enc(name)}`, {
      body: () => (Buffer.isBuffer(source) ? source : size > PROGRESS_THRESHOLD ? fileStream(source.path, p) : readFileSync(source.path)),
      length: size,
      headers: { 'content-type': 'application/octet-stream', ...(context ? { 'x-context': context } : {}), ...(lockToken ? { 'x-lock-token': lockToken } : {}) },
    });
    return body;
  } finally {
    p.done();
  }
}

run(hideBin(process.argv)).catch((err: unknown) => {
  const e = asCliError(err);
  const body = (e as { body?: unknown }).body;
  if (body && process.argv.includes('--json')) printJson(body);
  process.stderr.write(`ringstore: ${e.message}\n`);
  process.exit(e.exitCode);
});
