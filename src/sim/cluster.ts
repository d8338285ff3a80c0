// A whole ringstore cluster inside the simulator: one simulated machine per
// member, each running the real code of its three processes (socket server,
// coordinator, scheduler) as one simulated process, over the simulated
// network and disk. Machines are killed (kill -9: the page cache survives),
// lose power (what was not durable may go), have their disk wiped, and come
// back; the logs of every process go to one buffer for a failure report.
import { Writable } from 'node:stream';
import winston from 'winston';
import { parseConfig, type ClusterConfig } from '../config.js';
import { Cluster } from '../coordinator/cluster.js';
import { startIntentSweeper } from '../coordinator/transactions.js';
import { startScheduler, type Scheduler } from '../cron/scheduler.js';
import type { Logger } from '../log.js';
import { PipeTransport } from '../net/client.js';
import { startNode, type RunningNode } from '../node/server.js';
import { envTransportOptions, type NodeEnv } from '../node-env.js';
import { Membership, type MemberSpec } from '../ring/membership.js';
import type { SimLoop } from './loop.js';
import type { SimNetwork } from './network.js';
import { SimMachine, type SimProcess } from './process.js';
import type { Prng } from './prng.js';

export const SIM_SECRET = Buffer.from('simulated-cluster-secret-0123456789');

export interface SimNode {
  id: string;
  machine: SimMachine;
  process: SimProcess | null;
  /** Set once the process has started all three parts. */
  running: { node: RunningNode; cluster: Cluster; scheduler: Scheduler } | null;
  /** Simulated times at which this machine's disk was wiped. */
  wipes: number[];
  /** Meant to be running (started, not since killed): a failed start is retried only then. */
  wanted: boolean;
}

/** Log lines of every process, newest last, for the report of a failing seed. */
class LogBuffer {
  readonly lines: string[] = [];
  readonly transport: winston.transport;

  constructor(private readonly loop: SimLoop) {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.push(chunk.toString('utf8').trim());
        done();
      },
    });
    this.transport = new winston.transports.Stream({ stream, level: 'warn' });
  }

  push(line: string): void {
    if (this.lines.length >= 2000) this.lines.splice(0, 1000);
    this.lines.push(`${this.loop.now.toFixed(3)} ${line}`);
  }
}

export class SimCluster {
  readonly nodes: SimNode[];
  readonly config: ClusterConfig;
  readonly membership: Membership;
  /** Every machine's address: the seeds', then the spares'. */
  readonly specs: Map<string, MemberSpec>;
  readonly logs: LogBuffer;
  private readonly rootLog: Logger;
  /** While set, no disk fault is injected: the checker's own reads through a node's store. */
  auditing = false;
  /** Called once a machine's processes have started (after its journal replay, before any request): the boot-time audit. */
  onBoot: (node: SimNode, running: RunningNode) => void = () => undefined;

  constructor(
    readonly loop: SimLoop,
    readonly net: SimNetwork,
    private readonly prng: Prng,
    size: number,
    replication: { n: number; r: number; w: number },
    inject: (host: string, op: string, path: string) => string | null,
    /** Machines beyond the seeds, not in the config: they start, and join when a membership change adds them. */
    spares = 0,
  ) {
    const members: MemberSpec[] = Array.from({ length: size }, (_, i) => ({ id: `n${i + 1}`, host: `n${i + 1}`, port: 7000, restPort: 6000 }));
    const extra: MemberSpec[] = Array.from({ length: spares }, (_, i) => ({ id: `n${size + i + 1}`, host: `n${size + i + 1}`, port: 7000, restPort: 6000 }));
    this.specs = new Map([...members, ...extra].map((m) => [m.id, m]));
    this.config = parseConfig(
      {
        replication,
        dataDir: '/data',
        nodes: members,
        ringSize: 64,
        timeouts: { requestMs: 1000, connectMs: 500, writeGraceMs: 20 },
        gossip: { intervalMs: 1000, failureTimeoutMs: 6000 },
        logLevel: 'warn',
        secret: SIM_SECRET.toString(),
      },
      '/sim/nodes.json',
    );
    // The schema allows whole seconds only (node-cron's grain); simulated workers tick every 2 s, half the messages.
    this.config.gossip.intervalMs = 2000;
    // Stalled transactions are settled well within the run's settling time.
    this.config.transactions.timeoutMs = 4000;
    this.membership = Membership.initial(members, this.config.ringSize, this.config.replication.n);
    this.logs = new LogBuffer(loop);
    this.rootLog = winston.createLogger({ level: 'warn', format: winston.format.json(), transports: [this.logs.transport] });
    this.nodes = [...members, ...extra].map((m) => ({
      id: m.id,
      machine: new SimMachine(m.host, loop, net, prng.fork(`machine-${m.id}`), (op, path) => (this.auditing ? null : inject(m.id, op, path))),
      process: null,
      running: null,
      wipes: [],
      wanted: false,
    }));
  }

  node(id: string): SimNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no simulated node ${id}`);
    return n;
  }

  private logger(name: string): Logger {
    return this.rootLog.child({ process: name });
  }

  /** Start a machine's processes (in the background of the simulation: they need the loop to run). */
  start(id: string): void {
    const n = this.node(id);
    if (n.process?.alive) return;
    const proc = n.machine.spawn('ringstore');
    n.process = proc;
    n.wanted = true;
    n.running = null;
    n.machine.net.power(n.machine.host, true);
    this.loop.trace(`start ${proc.name}`);
    const self = this.specs.get(id) as MemberSpec;
    // Each of a machine's processes has its own membership, from the seeds, as the real ones do: the socket
    // server reads membership.json; the REST app and the scheduler learn newer epochs from it by messages.
    const seeds = (): Membership => Membership.initial(this.config.nodes, this.config.ringSize, this.config.replication.n);
    const env: NodeEnv = { rt: proc.rt, config: this.config, self, membership: seeds(), secret: SIM_SECRET, log: this.logger(proc.name), dir: `/data/${id}` };
    void (async () => {
      const node = await startNode(env);
      if (!proc.alive) return;
      this.onBoot(n, node);
      const transport = new PipeTransport(proc.rt, envTransportOptions(env));
      const cluster = new Cluster({ ...env, membership: seeds() }, transport);
      const scheduler = await startScheduler({ ...env, membership: seeds() }, transport, (ms, fn) => proc.rt.timers.setInterval(fn, ms));
      // As the REST app does: transactions whose coordinator died are settled from their records.
      startIntentSweeper(cluster);
      if (proc.alive) n.running = { node, cluster, scheduler };
    })().catch((err: unknown) => {
      if (!proc.alive) return;
      // As its supervisor does on a real machine: the process exited, it is started again after a while.
      this.logs.push(`warn ${proc.name} failed to start, starting it again in 2 s: ${(err as Error).message}`);
      proc.kill();
      n.process = null;
      this.loop.schedule(2000, () => n.wanted && this.start(id));
    });
  }

  /** kill -9 of the machine's processes: what they wrote stays in the page cache. */
  kill(id: string): void {
    const n = this.node(id);
    n.wanted = false;
    if (!n.process?.alive) return;
    this.loop.trace(`kill ${n.process.name}`);
    n.process.kill();
    n.running = null;
  }

  /** Power loss: the processes die and the disk keeps only what was durable (and some of what was not). */
  powerLoss(id: string): void {
    const n = this.node(id);
    n.wanted = false;
    this.loop.trace(`power loss ${id}`);
    n.process?.powerOff();
    n.running = null;
    n.machine.net.power(n.machine.host, false);
    n.machine.disk.crash();
  }

  /** The disk is replaced: the machine comes back knowing nothing. */
  wipe(id: string): void {
    const n = this.node(id);
    n.wanted = false;
    this.loop.trace(`wipe ${id}`);
    n.process?.powerOff();
    n.running = null;
    n.machine.net.power(n.machine.host, false);
    n.machine.disk.wipe();
    n.wipes.push(this.loop.now);
  }

  isUp(id: string): boolean {
    return this.node(id).running !== null;
  }

  upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.running);
  }
}
