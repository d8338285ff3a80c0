// One winston logger per process, tagged with the node id and the process role,
// one JSON line per event, written to the stream it is given (the process's
// standard output, which the start scripts send to <dataDir>/<id>/<role>.log).
import type { Writable } from 'node:stream';
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(opts: { node: string; role: string; level: string; silent?: boolean; stream?: Writable }): Logger {
  const log = winston.createLogger({
    level: opts.level,
    silent: opts.silent ?? false,
    defaultMeta: { node: opts.node, role: opts.role },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [opts.stream ? new winston.transports.Stream({ stream: opts.stream }) : new winston.transports.Console()],
  });
  // A logger must never take its process down.
  log.on('error', () => undefined);
  return log;
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return createLogger({ node: '-', role: '-', level: 'error', silent: true });
}
