// Real processes on free loopback ports: a whole cluster (or one node) started
// from the compiled code exactly as the scripts start it, killed and restarted
// by pid, and cleaned up by the test's teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type Role = 'node' | 'rest' | 'cron';

/** The cluster secret of every test cluster. */
export const TEST_SECRET = 'test-cluster-secret-0123456789abcdef';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * A free port for a test server, below the kernel's ephemeral range: a port
 * handed out by listen(0) can be taken meanwhile by an outgoing connection of
 * another test (a thousand of them, in the abuse test), and then the node
 * cannot bind it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    const ok = await new Promise<boolean>((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
}
const handedOut = new Set<number>();

export interface NodeEntry {
  id: string;
  host: string;
  port: number;
  restPort: number;
}

export interface ClusterOptions {
  nodes?: number;
  replication?: { n: number; r: number; w: number };
  extra?: Record<string, unknown>;
  /** Run each machine's scheduler (gossip, handoff) too. */
  cron?: boolean;
  /** Machines not in the config (ids after the seeds'), started with --host/--port/--rest-port to join later. */
  spares?: number;
}

export interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** Poll until fn returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export class TestCluster {
  readonly procs = new Map<string, ChildProcess>();
  readonly dir: string;
  readonly configFile: string;
  readonly nodes: NodeEntry[];
  /** Machines not in the config: started to join (see ClusterOptions.spares). */
  readonly spares: NodeEntry[] = [];

  private constructor(dir: string, nodes: NodeEntry[], config: Record<string, unknown>, readonly withCron: boolean) {
    this.dir = dir;
    this.nodes = nodes;
    this.configFile = join(dir, 'nodes.json');
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
  }

  static async create(t: Teardownable, opts: ClusterOptions = {}): Promise<TestCluster> {
    const count = opts.nodes ?? 4;
    const dir = mkdtempSync(join(tmpdir(), 'ringstore-test-'));
    const nodes: NodeEntry[] = [];
    for (let i = 1; i <= count; i++) nodes.push({ id: `node${i}`, host: '127.0.0.1', port: await freePort(), restPort: await freePort() });
    const spares: NodeEntry[] = [];
    for (let i = count + 1; i <= count + (opts.spares ?? 0); i++) spares.push({ id: `node${i}`, host: '127.0.0.1', port: await freePort(), restPort: await freePort() });
    const config = {
      secret: TEST_SECRET,
      replication: opts.replication ?? { n: 3, r: 2, w: 2 },
      dataDir: 'data',
      nodes,
      timeouts: { requestMs: 1500, connectMs: 500 },
      logLevel: 'info',
      ...opts.extra,
    };
    const c = new TestCluster(dir, nodes, config, opts.cron ?? false);
    c.spares.push(...spares);
    t.teardown(async () => {
      await c.stopAll();
      // RINGSTORE_KEEP_DIRS=1 keeps the data and logs to study a failure.
      if (process.env.RINGSTORE_KEEP_DIRS === '1') console.error(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    });
    return c;
  }

  node(id: string): NodeEntry {
    const n = this.nodes.find((x) => x.id === id) ?? this.spares.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  url(id = 'node1'): string {
    return `http://127.0.0.1:${this.node(id).restPort}`;
  }

  dataDir(id: string): string {
    return join(this.dir, 'data', id);
  }

  /** Start one role's process; `env`: extra environment for it alone (a failpoint, say). */
  spawnRole(id: string, role: Role, env: Record<string, string> = {}): ChildProcess {
    // RINGSTORE_NODE_ARGS: extra node flags for every process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env.RINGSTORE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const spare = this.spares.find((x) => x.id === id);
    const address = spare ? ['--host', spare.host, '--port', String(spare.port), '--rest-port', String(spare.restPort)] : [];
    const p = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist', role, 'main.js'), '--config', this.configFile, '--id', id, ...address], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ...env },
    });
    this.procs.set(`${id}/${role}`, p);
    return p;
  }

  async startNode(id: string): Promise<void> {
    this.spawnRole(id, 'node');
    this.spawnRole(id, 'rest');
    if (this.withCron) this.spawnRole(id, 'cron');
    await waitFor(`${id} health`, async () => (await fetch(`${this.url(id)}/health`)).ok, 30_000);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.startNode(n.id)));
  }

  /** Signal one role's process (default: the socket server) and wait for it to exit when the signal ends it. */
  async signal(id: string, sig: NodeJS.Signals, role: Role = 'node'): Promise<void> {
    const p = this.procs.get(`${id}/${role}`);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') {
      await exited;
      this.procs.delete(`${id}/${role}`);
    }
  }

  /** kill -9 every process of a machine. */
  async kill(id: string): Promise<void> {
    await this.signal(id, 'SIGKILL', 'node');
    await this.signal(id, 'SIGKILL', 'rest');
    await this.signal(id, 'SIGKILL', 'cron');
  }

  /** Whether the machine's socket server process is alive (not killed). */
  isRunning(id: string): boolean {
    const p = this.procs.get(`${id}/node`);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Start a machine again after kill(): same data dir, same ports. */
  restart(id: string): Promise<void> {
    return this.startNode(id);
  }

  /** Freeze (SIGSTOP) or thaw (SIGCONT) a machine's socket server: hung, not dead. */
  freeze(id: string): Promise<void> {
    return this.signal(id, 'SIGSTOP');
  }
  thaw(id: string): Promise<void> {
    return this.signal(id, 'SIGCONT');
  }

  async stopAll(): Promise<void> {
    const all = [...this.procs.values()];
    for (const p of all) {
      if (p.signalCode === 'SIGSTOP' || p.exitCode === null) {
        try {
          p.kill('SIGCONT');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(
      all.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode === 'SIGKILL') return r();
            p.once('exit', () => r());
            // Profiled processes (RINGSTORE_NODE_ARGS) must exit cleanly to write their profiles.
            if (!process.env.RINGSTORE_NODE_ARGS) return p.kill('SIGKILL');
            p.kill('SIGTERM');
            setTimeout(() => p.exitCode === null && p.signalCode === null && p.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    this.procs.clear();
  }
}
