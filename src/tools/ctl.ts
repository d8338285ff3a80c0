// Helpers for the shell scripts, so that they never parse JSON themselves:
//   ctl.js ids                 the node ids of the config, one per line
//   ctl.js env --id node1      shell assignments: NODE_DIR, REST_URL, ...
//   ctl.js wait --id node1     wait until that node's REST app and socket server answer
import http from 'node:http';
import https from 'node:https';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DEFAULT_CONFIG_FILE, defaultSecretFile, nodeDir, selfSpec } from '../config.js';
import type { Argv } from 'yargs';
import { loadConfig as readConfig } from '../runtime/config-file.js';
import { readTlsCa } from '../runtime/tls.js';
import type { ClusterConfig } from '../config.js';

// A reader that stops early (| head) is not an error.
process.stdout.on('error', () => process.exit(0));

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The CA that REST ports are checked against when the config turns TLS on (null: plain HTTP). */
let restCa: Buffer | null = null;
const scheme = (): string => (restCa ? 'https' : 'http');

function loadConfig(file: string): ClusterConfig {
  const config = readConfig(file);
  restCa = readTlsCa(config);
  return config;
}

function getJson(host: string, port: number, path: string): Promise<{ status: number; json: any } | null> {
  return new Promise((resolve) => {
    const req = (restCa ? https : http).get({ host, port, path, timeout: 2000, ...(restCa ? { ca: restCa } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch {
          resolve(null);
        }
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => {
      req.destroy();
      resolve(null);
    });
  });
}

async function healthy(host: string, port: number): Promise<boolean> {
  return (await getJson(host, port, '/health'))?.status === 200;
}

/** The statuses a node's gossip view gives, or null while it has no current view. */
async function gossipView(host: string, port: number): Promise<Record<string, string> | null> {
  const r = await getJson(host, port, '/health?view');
  if (!r || r.status !== 200 || r.json.status_from !== 'gossip') return null;
  return r.json.nodes as Record<string, string>;
}

/** The REST addresses, shortened when they are consecutive ports of one host: http://127.0.0.1:6003 ... 6006. */
function restUrls(nodes: ReadonlyArray<{ host: string; restPort: number }>): string {
  const urls = nodes.map((x) => `${scheme()}://${x.host}:${x.restPort}`);
  const first = nodes[0];
  const consecutive = first !== undefined && nodes.every((x, i) => x.host === first.host && x.restPort === first.restPort + i);
  return consecutive && nodes.length > 2 ? `${urls[0]} ... ${(nodes[nodes.length - 1] as { restPort: number }).restPort}` : urls.join(', ');
}

async function until(what: string, timeoutS: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(`${what} within ${timeoutS} s`);
  process.exit(1);
}

/** --host, --port, --rest-port: the address of a machine that is not in the config (one that is to join). */
function address<T>(y: Argv<T>) {
  return y.option('host', { type: 'string' }).option('port', { type: 'number' }).option('rest-port', { type: 'number' });
}

await yargs(hideBin(process.argv))
  .scriptName('ctl')
  .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG_FILE })
  .command('ids', 'print the node ids', {}, (argv) => {
    for (const n of loadConfig(String(argv.config)).nodes) console.log(n.id);
  })
  .command('hosts', 'print each node id and its host, one pair per line', {}, (argv) => {
    for (const n of loadConfig(String(argv.config)).nodes) console.log(`${n.id} ${n.host}`);
  })
  .command('env', 'print shell variables for one node', (y) => address(y.option('id', { type: 'string', demandOption: true })), (argv) => {
    const config = loadConfig(String(argv.config));
    const node = selfSpec(config, argv.id, { host: argv.host, port: argv.port, restPort: argv['rest-port'] });
    console.log(`NODE_DIR=${quote(nodeDir(config, node.id))}`);
    console.log(`CONFIG_FILE=${quote(config.file)}`);
    console.log(`REST_URL=${quote(`${scheme()}://${node.host}:${node.restPort}`)}`);
    console.log(`SOCKET_ADDR=${quote(`${node.host}:${node.port}`)}`);
  })
  .command('ensure-secret', 'create the cluster secret file beside the config (mode 0600) if the config names no secret', {}, (argv) => {
    const config = loadConfig(String(argv.config));
    if (config.secret || config.secretEnv || config.secretFile) return;
    const file = defaultSecretFile(config);
    try {
      // Exclusive create: several start scripts racing make one secret, not several.
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      console.error(`generated the cluster secret ${file}: copy it beside nodes.json on every machine`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  })
  .command(
    'wait',
    'wait until a node answers and its scheduler sees it up',
    (y) => address(y.option('id', { type: 'string', demandOption: true }).option('timeout', { type: 'number', default: 30 })),
    async (argv) => {
      const config = loadConfig(String(argv.config));
      const node = selfSpec(config, argv.id, { host: argv.host, port: argv.port, restPort: argv['rest-port'] });
      await until(`${node.id} did not answer on ${scheme()}://${node.host}:${node.restPort}/health`, argv.timeout, () => healthy(node.host, node.restPort));
      await until(`${node.id}'s scheduler did not report a gossip view (see cron.log)`, argv.timeout, async () => (await gossipView(node.host, node.restPort))?.[node.id] === 'up');
    },
  )
  .command(
    'converge',
    'wait until every node of the config sees every node up, then print the ready line',
    (y) => y.option('timeout', { type: 'number', default: 30 }),
    async (argv) => {
      const config = loadConfig(String(argv.config));
      await until('the nodes did not all see each other up', argv.timeout, async () => {
        for (const n of config.nodes) {
          const view = await gossipView(n.host, n.restPort);
          if (!view || config.nodes.some((m) => view[m.id] !== 'up')) return false;
          // A node that started on an empty disk takes locks once it has its peers' Paxos state.
          if ((await getJson(n.host, n.restPort, '/health'))?.json?.locks === 'recovering') return false;
        }
        return true;
      });
      const { n, r, w } = config.replication;
      console.log(
        config.auth.required
          ? 'auth: required (every call but sign-up, login and /health needs a token)'
          : 'auth: optional (buckets made with a token are private to their owner; those made without one are open to all)',
      );
      if (!config.tls) console.log('warning: no tls in the config, so passwords and tokens cross the network in plain HTTP (see the README, Security)');
      // Last: what a newcomer (and the scripts' callers) wait for.
      console.log(`cluster ready: ${config.nodes.length} of ${config.nodes.length} nodes up (N=${n} R=${r} W=${w}), REST on ${restUrls(config.nodes)}`);
    },
  )
  .demandCommand(1)
  .strict()
  .help()
  .parse();
