// Entry point of a machine's supervisor: ringstore-supervisor --id node1 [--config nodes.json]
// It starts the machine's three processes (socket server, REST app, scheduler)
// and keeps them running: one that exits on its own is started again after a
// backoff (1 s, doubling up to 30 s, back to 1 s once it has run a minute).
// Each restart is logged and reported to the socket server, so GET /cluster
// shows every process's restarts. SIGTERM or SIGINT stops the three (TERM,
// then KILL after 2.5 s) and then the supervisor. scripts/start-node.sh runs it;
// scripts/systemd/ringstore@.service runs it under systemd.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipeTransport } from '../net/client.js';
import { envTransportOptions } from '../node-env.js';
import type { Supervised } from '../protocol/messages.js';
import { parseEntry, runProcess } from '../runtime/process.js';

const ROLES = ['node', 'rest', 'cron'] as const;
type Role = (typeof ROLES)[number];
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
/** Each process stops by itself within 3 s of SIGTERM; past this it is killed. */
const STOP_GRACE_MS = 2500;
const REPORT_EVERY_MS = 5000;

interface Child {
  role: Role;
  proc: ChildProcess | null;
  restarts: number;
  since: number | null;
  lastExit: Supervised['lastExit'];
  backoff: number;
  timer: NodeJS.Timeout | null;
}

const DIST = resolve(fileURLToPath(import.meta.url), '..', '..');

runProcess('supervisor', async () => {
  const env = await parseEntry('supervisor', 'Starts this machine\'s socket server, REST app and scheduler, and restarts any that exits.');
  const { log, dir } = env;
  const argv = process.argv.slice(2);
  const children = new Map<Role, Child>(ROLES.map((role) => [role, { role, proc: null, restarts: 0, since: null, lastExit: null, backoff: FIRST_BACKOFF_MS, timer: null }]));
  let stopping = false;

  const pidFile = (role: Role): string => join(dir, `${role}.pid`);
  const writePid = (role: Role, pid: number): void => {
    try {
      writeFileSync(`${pidFile(role)}.tmp`, `${pid}\n`);
      renameSync(`${pidFile(role)}.tmp`, pidFile(role));
    } catch (err) {
      log.warn('pid file not written', { role, error: (err as Error).message });
    }
  };

  const transport = new PipeTransport(env.rt, envTransportOptions(env));
  const report = (): void => {
    const processes: Supervised[] = ROLES.map((role) => {
      const c = children.get(role) as Child;
      return { role, pid: c.proc?.pid ?? null, restarts: c.restarts, since: c.since === null ? null : new Date(c.since).toISOString(), lastExit: c.lastExit };
    });
    const self = { id: env.self.id, host: env.self.host, port: env.self.port };
    // The socket server may be down or restarting: the next report (a timer, or the next start) tries again.
    transport.request(self, { type: 'supervisor_report', processes }, [], { timeoutMs: 2000 }).catch(() => undefined);
  };
  const reporter = setInterval(report, REPORT_EVERY_MS);

  const start = (role: Role): void => {
    const c = children.get(role) as Child;
    c.timer = null;
    if (stopping) return;
    // Each process writes its log lines to its own file in the node's folder. One that cannot be opened
    // (an unwritable folder) fails every line as a full disk does: /dev/full in its place, so the process
    // drops and counts them (ringstore_log_lines_dropped_total) and carries on; its next start tries again.
    let out: number | 'ignore' = 'ignore';
    try {
      out = openSync(join(dir, `${role}.log`), 'a');
    } catch (err) {
      log.warn('log file not opened: its lines are dropped and counted', { role, error: (err as Error).message });
      try {
        out = openSync('/dev/full', 'w');
      } catch {
        // no /dev/full: nowhere
      }
    }
    const proc = spawn(process.execPath, [...process.execArgv, join(DIST, role, 'main.js'), ...argv], { stdio: ['ignore', out, out] });
    if (typeof out === 'number') closeSync(out);
    c.proc = proc;
    c.since = Date.now();
    if (proc.pid !== undefined) writePid(role, proc.pid);
    log.info('process started', { role, pid: proc.pid, restarts: c.restarts });
    proc.on('exit', (code, signal) => {
      c.proc = null;
      c.lastExit = { code, signal, at: new Date().toISOString() };
      if (stopping) return;
      // Back to the shortest wait once it had run a while; otherwise twice as long each time.
      if (c.since !== null && Date.now() - c.since >= HEALTHY_AFTER_MS) c.backoff = FIRST_BACKOFF_MS;
      const wait = c.backoff;
      c.backoff = Math.min(MAX_BACKOFF_MS, c.backoff * 2);
      c.restarts++;
      log.warn('process exited: restarting it', { role, code, signal, restarts: c.restarts, inMs: wait });
      c.timer = setTimeout(() => start(role), wait);
      report();
    });
    // Report once it can be heard (the socket server takes a moment to listen).
    setTimeout(report, 1000);
  };

  for (const role of ROLES) start(role);

  return {
    log,
    stop: async () => {
      stopping = true;
      clearInterval(reporter);
      const running = [...children.values()].filter((c) => c.proc);
      for (const c of children.values()) if (c.timer) clearTimeout(c.timer);
      await Promise.all(
        running.map(
          (c) =>
            new Promise<void>((done) => {
              const proc = c.proc as ChildProcess;
              proc.once('exit', () => done());
              proc.kill('SIGTERM');
              setTimeout(() => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'), STOP_GRACE_MS).unref();
            }),
        ),
      );
      for (const role of ROLES) {
        try {
          unlinkSync(pidFile(role));
        } catch {
          // already gone
        }
      }
      await transport.close();
      log.info('supervisor stopped');
    },
  };
});
