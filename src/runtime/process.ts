// What every process's command line has in common: --config and --id (yargs),
// the config and cluster secret read from their files, a logger, the
// production runtime, and a clean exit on SIGINT/SIGTERM.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_CONFIG_FILE, nodeDir, selfSpec } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { clusterSecret, loadConfig } from './config-file.js';
import { LogSink } from './log-sink.js';

/** This process's log destination; its `dropped` count is reported in /metrics. */
export const logSink = new LogSink();
import type { NodeEnv } from '../node-env.js';
import { Membership } from '../ring/membership.js';
import { nodeRuntime } from './node.js';
import { readTlsFiles, tlsNetwork } from './tls.js';

/** Parse a process's command line and build its environment on the production runtime. */
export async function parseEntry(role: string, description: string): Promise<NodeEnv> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName(`ringstore-${role}`)
    .usage(`$0 --id <node> [--config nodes.json]\n\n${description}`)
    .option('config', { alias: 'c', type: 'string', default: DEFAULT_CONFIG_FILE, describe: 'cluster config file' })
    .option('id', { type: 'string', demandOption: true, describe: 'this machine\'s node id in the config' })
    .option('host', { type: 'string', describe: 'this machine\'s address, for a machine not in the config (one that is to join)' })
    .option('port', { type: 'number', describe: 'its socket port (with --host)' })
    .option('rest-port', { type: 'number', describe: 'its REST port (with --host)' })
    .option('log-level', { type: 'string', choices: ['error', 'warn', 'info', 'debug'], describe: 'overrides logLevel of the config' })
    .strict()
    .help()
    .parse();
  const config = loadConfig(argv.config);
  const self = selfSpec(config, argv.id, { host: argv.host, port: argv.port, restPort: argv['rest-port'] });
  const log = createLogger({ node: self.id, role, level: argv['log-level'] ?? config.logLevel, stream: logSink });
  const tlsFiles = readTlsFiles(config, self.id);
  const rt = tlsFiles ? { ...nodeRuntime, net: tlsNetwork(tlsFiles, config.limits.handshakeTimeoutMs) } : nodeRuntime;
  return { rt, tls: tlsFiles, config, self, membership: Membership.initial(config.nodes, config.ringSize, config.replication.n), secret: clusterSecret(config), log, dir: nodeDir(config, self.id), logDropped: () => logSink.dropped };
}

/** Run main; log and exit 1 on failure; call stop on SIGINT/SIGTERM, then exit 0. */
export function runProcess(role: string, main: () => Promise<{ stop: () => Promise<void>; log: Logger }>): void {
  main().then(
    ({ stop, log }) => {
      // A promise nobody handled is a bug to log, not a reason to take the node down with every request in flight.
      process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: (err as Error)?.message, stack: (err as Error)?.stack }));
      // Output that cannot be written (a full disk under the log file) is not a reason to die.
      process.stdout.on('error', () => undefined);
      process.stderr.on('error', () => undefined);
      let stopping = false;
      const onSignal = (sig: string): void => {
        if (stopping) return;
        stopping = true;
        log.info('stopping', { signal: sig });
        const force = setTimeout(() => process.exit(0), 3000);
        force.unref();
        stop().finally(() => process.exit(0));
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
    },
    (err: unknown) => {
      process.stderr.write(`ringstore-${role}: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
