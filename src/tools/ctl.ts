// Helpers for the shell scripts, so that they never parse JSON themselves:
//   ctl.js ids                 the node ids of the config, one per line
//   ctl.js env --id node1      shell assignments: NODE_DIR, REST_URL, ...
//   ctl.js wait --id node1     wait until that node's REST app and socket server answer
import http from 'node:http';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_CONFIG_FILE, loadConfig, nodeById, nodeDir } from '../config.js';

// A reader that stops early (| head) is not an error.
process.stdout.on('error', () => process.exit(0));

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function healthy(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

await yargs(hideBin(process.argv))
  .scriptName('ctl')
  .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG_FILE })
  .command('ids', 'print the node ids', {}, (argv) => {
    for (const n of loadConfig(String(argv.config)).nodes) console.log(n.id);
  })
  .command('env', 'print shell variables for one node', (y) => y.option('id', { type: 'string', demandOption: true }), (argv) => {
    const config = loadConfig(String(argv.config));
    const node = nodeById(config, argv.id);
    console.log(`NODE_DIR=${quote(nodeDir(config, node.id))}`);
    console.log(`CONFIG_FILE=${quote(config.file)}`);
    console.log(`REST_URL=${quote(`http://${node.host}:${node.restPort}`)}`);
    console.log(`SOCKET_ADDR=${quote(`${node.host}:${node.port}`)}`);
  })
  .command(
    'wait',
    'wait until a node answers',
    (y) => y.option('id', { type: 'string', demandOption: true }).option('timeout', { type: 'number', default: 30 }),
    async (argv) => {
      const config = loadConfig(String(argv.config));
      const node = nodeById(config, argv.id);
      const deadline = Date.now() + argv.timeout * 1000;
      while (Date.now() < deadline) {
        if (await healthy(node.host, node.restPort)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      console.error(`${node.id} did not answer on http://${node.host}:${node.restPort}/health within ${argv.timeout} s`);
      process.exit(1);
    },
  )
  .demandCommand(1)
  .strict()
  .help()
  .parse();
