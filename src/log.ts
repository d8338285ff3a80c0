// One winston logger per process, tagged with the node id and the process role,
// one line per event. Processes log to stdout; the start scripts send that to
// <dataDir>/<id>/<role>.log.
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(opts: { node: string; role: string; level: string; silent?: boolean }): Logger {
  return winston.createLogger({
    level: opts.level,
    silent: opts.silent ?? false,
    defaultMeta: { node: opts.node, role: opts.role },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return createLogger({ node: '-', role: '-', level: 'error', silent: true });
}
