// One simulated run, from its seed: a cluster of 3 to 9 machines with N, R and
// W drawn for it, clients writing, deleting and reading, faults on the network
// (loss, delay, duplication, reordering, partitions), the machines (kill -9,
// power loss, disk wipe, restart), their disks (full, failing with EIO) and
// their clocks (jumps). Then every fault
// is healed, the cluster settles (gossip, hinted handoff, a read-repair pass,
// bucket anti-entropy) and the checker looks at every replica.
import { readQuorum } from '../coordinator/read.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { auditBoot, bucketDisagreements, checkAcknowledged, checkFinalOwners, checkReplicas, hintsLeft, reusedDots, viewsNotUp } from './checker.js';
import { currentMembers, memberCoordinator, membershipPlan, scheduleChanges, unsettled } from './membership.js';
import { SimCluster } from './cluster.js';
import { SimLoop } from './loop.js';
import { CALM, SimNetwork, type NetFaults } from './network.js';
import { Prng } from './prng.js';
import { BUCKETS, Client, KEYS, emptyHistory } from './workload.js';
import { ACCOUNTS, BankClient, bankHeld, checkBank, emptyBank } from './bank.js';
import { linearizable, type RegisterOp } from './linearizability.js';
import { REGISTERS, REGISTER_SPACE, RegisterClient, registerPlacement } from './registers.js';
import { compareAndSet } from '../coordinator/cas.js';

export interface RunResult {
  seed: string;
  ok: boolean;
  problems: string[];
  events: number;
  simulatedSeconds: number;
  traceHash: string;
  /** A description of the run: size, quorums, faults. */
  setup: string;
  stats: { ops: number; ok: number; acked: number; frames: number; faults: number; casOps: number; unchecked: number; txns: number; atomicReads: number };
  trace: string[];
  logs: string[];
}

const BOOT_MS = 3000;
const WORKLOAD_MS = 15_000;
const SETTLE_DEADLINE_MS = 120_000;

export interface RunOptions {
  /** Keep every trace line (to study one seed). */
  fullTrace?: boolean;
  /** Run the bank of transactions (sim/bank.ts) in the runs where it fits. */
  bank?: boolean;
  /** Called with the cluster once it has settled, before the final checks (to study one seed). */
  inspect?: (cluster: SimCluster) => Promise<void>;
}

export async function runSeed(seed: string | number, opts: RunOptions = {}): Promise<RunResult> {
  // A promise of the real code that rejects with nobody to handle it is a bug of this run, not a crash of the simulator.
  const unhandled: string[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);
  process.on('unhandledRejection', onUnhandled);
  try {
    const result = await simulate(seed, opts);
    result.problems.push(...unhandled);
    result.ok = result.problems.length === 0;
    return result;
  } catch (err) {
    return { seed: String(seed), ok: false, problems: [`the simulation itself failed: ${(err as Error)?.stack ?? String(err)}`, ...unhandled], events: 0, simulatedSeconds: 0, traceHash: '', setup: '', stats: { ops: 0, ok: 0, acked: 0, frames: 0, faults: 0, casOps: 0, unchecked: 0, txns: 0, atomicReads: 0 }, trace: [], logs: [] };
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

async function simulate(seed: string | number, opts: RunOptions): Promise<RunResult> {
  const prng = new Prng(seed);
  const setup = prng.fork('setup');
  const loop = new SimLoop();
  loop.keepAll = opts.fullTrace === true;
  const net = new SimNetwork(loop, prng.fork('network'));
  const size = setup.between(3, 9);
  const n = setup.chance(0.6) ? 3 : setup.between(1, Math.min(5, size));
  const r = setup.between(1, n);
  const w = setup.between(1, n);
  const disks = new DiskFaults(loop, prng.fork('disk-faults'));
  // Membership changes draw from their own stream, so a seed's other choices are what they were without them.
  const changes = prng.fork('membership');
  const plan = membershipPlan(changes);
  const cluster = new SimCluster(loop, net, prng.fork('cluster'), size, { n, r, w }, (host, op) => disks.inject(host, op), plan.join ? 1 : 0);
  const history = emptyHistory();
  const problems: string[] = [];
  cluster.onBoot = (node, running) => {
    cluster.auditing = true;
    void auditBoot(cluster, node, running, history)
      .finally(() => (cluster.auditing = false))
      .then(
      (p) => problems.push(...p),
      (err: unknown) => problems.push(`${node.id} could not be read as it booted: ${(err as Error).message}`),
    );
  };
  const faults: NetFaults = setup.chance(0.3)
    ? CALM
    : {
        latency: [0.1, 0.2 + setup.float() * 5],
        spike: setup.float() * 0.02,
        loss: setup.float() * 0.02,
        reset: setup.float() * 0.3,
        duplicate: setup.float() * 0.002,
        reorder: setup.float() * 0.002,
        split: setup.float() * 0.05,
      };
  const faultCount = setup.between(0, 10);
  const description = `${size} nodes, N=${n} R=${r} W=${w}, ${faultCount} faults${plan.join ? ', a join' : ''}${plan.leave ? ', a leave' : ''}, network ${faults === CALM ? 'calm' : `loss ${(faults.loss * 100).toFixed(2)}%`}`;
  loop.trace(`setup ${description}`);

  for (const node of cluster.nodes) cluster.start(node.id);
  await loop.runUntil(BOOT_MS);
  net.faults = faults;
  const end = BOOT_MS + WORKLOAD_MS;
  const clients = Array.from({ length: setup.between(2, 6) }, (_, i) => new Client(`c${i + 1}`, loop, cluster, prng.fork(`client-${i}`), history));
  for (const c of clients) c.run(end);
  // Compare-and-set clients on two Paxos registers, beside them.
  const registers = new Map<string, RegisterOp[]>();
  const casClients = Array.from({ length: setup.between(2, 4) }, (_, i) => new RegisterClient(`x${i + 1}`, loop, cluster, prng.fork(`register-client-${i}`), registers, i + 1));
  for (const c of casClients) c.run(end);
  // The bank: transactions moving money between accounts, and read-atomic reads checking the total.
  const bank = emptyBank();
  const bankStream = prng.fork('bank');
  // Only where R + W > N: read atomicity (as any read-your-writes) rests on a read quorum meeting the write quorum.
  // In about half of those runs (transactions cost the simulator several times what a file write does),
  // and only when asked (npm run sim -- --bank): the sum check still finds reads that see a transfer but
  // not the one it followed on the same account (read atomicity is per transaction, the total needs the
  // transitive closure), see docs/transactions.md. Off in CI until that is fixed.
  const banking = opts.bank === true && r + w > n && bankStream.chance(0.5);
  const bankClients = banking ? [0, 1].map((i) => new BankClient(`b${i + 1}`, loop, cluster, bankStream.fork(`client-${i}`), bank, i === 0)) : [];
  for (const c of bankClients) c.run(end);
  scheduleFaults(cluster, net, disks, prng.fork('faults'), faultCount, w, BOOT_MS, end);
  scheduleChanges(cluster, changes, plan, plan.join ? `n${size + 1}` : undefined, BOOT_MS, end);
  await loop.runUntil(end);
  // The clients' last calls end (answered, or timed out with their machine).
  await loop.runUntil(end + 9000, () => clients.every((c) => c.idle) && casClients.every((c) => c.idle) && bankClients.every((c) => c.idle));

  // Heal: the network is whole and calm again, every machine runs.
  loop.trace('heal');
  net.heal();
  net.faults = CALM;
  disks.heal();
  for (const node of cluster.nodes) cluster.start(node.id);
  const deadline = loop.now + SETTLE_DEADLINE_MS;
  const step = async (ms: number): Promise<void> => loop.runUntil(loop.now + ms);
  // Bytes a partition held back arrive (TCP retransmits them), then: every machine up, seen up by every other,
  // and every hint handed off.
  await step(3000);
  const machines = cluster.nodes.length;
  while (loop.now < deadline && (cluster.upNodes().length < machines || viewsNotUp(cluster).length > 0 || hintsLeft(cluster).length > 0 || unsettled(cluster).length > 0)) await step(1000);
  problems.push(...unsettled(cluster).map((u) => `membership not settled within ${SETTLE_DEADLINE_MS / 1000} s: ${u}`));
  if (cluster.upNodes().length < machines) problems.push(`machines did not come back: ${cluster.nodes.filter((x) => !x.running).map((x) => x.id).join(', ')}`);
  problems.push(...viewsNotUp(cluster).map((v) => `gossip views still wrong after ${SETTLE_DEADLINE_MS / 1000} s: ${v}`));
  problems.push(...hintsLeft(cluster).map((h) => `hints not drained within ${SETTLE_DEADLINE_MS / 1000} s: ${h}`));
  problems.push(...(await checkAcknowledged(cluster, history)));
  if (currentMembers(cluster).epoch > 1) problems.push(...(await checkFinalOwners(cluster, history, true)));

  // A read of every key repairs its stale replicas; bucket anti-entropy brings every node's records together.
  const keys = [...BUCKETS.flatMap((b) => KEYS.map((k) => ({ ns: b, key: k }))), ...BUCKETS.map((b) => ({ ns: BUCKETS_NS, key: b }))];
  // The bank's accounts are repaired too (a wiped replica gets them back), and checked by checkBank.
  const repaired = [...keys, ...(bank.opened ? ACCOUNTS.map((a) => ({ ns: a.bucket, key: a.file })) : [])];
  const coordinator = memberCoordinator(cluster);
  if (coordinator) {
    for (const { ns, key } of repaired) {
      // A read that fails (a connection that died with a restart) is tried again.
      for (let attempt = 0, ok = false; attempt < 3 && !ok; attempt++) {
        let done = false;
        void readQuorum(coordinator, ns, key, { bodies: false })
          .then(() => (ok = true), () => undefined)
          .finally(() => (done = true));
        await loop.runUntil(loop.now + 5000, () => done);
      }
    }
  }
  await step(5000);
  while (loop.now < deadline + 60_000 && bucketDisagreements(cluster, BUCKETS).length > 0) await step(1000);
  problems.push(...bucketDisagreements(cluster, BUCKETS));
  await opts.inspect?.(cluster);
  problems.push(...(await checkReplicas(cluster, history, keys)));
  if (currentMembers(cluster).epoch > 1) problems.push(...(await checkFinalOwners(cluster, history)));
  // Transactions whose coordinator died are settled by the sweepers (every half transactions.timeoutMs).
  if (coordinator && bank.opened) {
    const bankDeadline = loop.now + 60_000;
    for (;;) {
      let held: boolean | null = null;
      void bankHeld(coordinator).then((h) => (held = h), () => (held = true));
      await loop.runUntil(loop.now + 5000, () => held !== null);
      if (held === false || loop.now >= bankDeadline) break;
      await step(1000);
    }
    let bankProblems: string[] | null = null;
    void checkBank(coordinator, bank).then((p) => (bankProblems = p), (err: unknown) => (bankProblems = [`bank: the final check failed: ${(err as Error).message}`]));
    await loop.runUntil(loop.now + 30_000, () => bankProblems !== null);
    problems.push(...(bankProblems ?? ['bank: the final check did not finish']));
  }
  problems.push(...bank.problems);
  const registerCheck = await checkRegisters(cluster, registers);
  problems.push(...registerCheck.problems);
  problems.push(...history.unexpected.map((u) => `unexpected error: ${u}`));
  problems.push(...history.underReplicated.map((u) => `under-replicated: ${u}`));
  problems.push(...reusedDots(history));
  await loop.settle(); // rejections nobody handled are reported by now
  const logs = cluster.logs.lines.filter((l) => / error /.test(l));
  problems.push(...logs.slice(0, 5).map((l) => `error logged: ${l.slice(0, 400)}`));

  return {
    seed: String(seed),
    ok: problems.length === 0,
    problems,
    events: loop.events,
    simulatedSeconds: loop.now / 1000,
    traceHash: loop.traceHash(),
    setup: description,
    stats: { ops: history.ops, ok: history.ok, acked: history.acked.length, frames: net.delivered, faults: faultCount, casOps: [...registers.values()].reduce((n, h) => n + h.length, 0), unchecked: registerCheck.unchecked, txns: bank.committed.length, atomicReads: bank.reads },
    trace: loop.lastTrace(opts.fullTrace ? Infinity : 60),
    logs: cluster.logs.lines.slice(-40),
  };
}

/** The run's faults, at random times of the workload window. At most one disk wipe, and only when W >= 2 keeps a second copy. */
/**
 * Each register's history, with a last read once the cluster is whole, must be
 * linearizable: the compare-and-set never let two proposers both win, nor lost
 * a value it had answered for.
 */
async function checkRegisters(cluster: SimCluster, registers: Map<string, RegisterOp[]>): Promise<{ problems: string[]; unchecked: number }> {
  const problems: string[] = [];
  let unchecked = 0;
  // A member's coordinator: a machine that left (or never joined) is no longer let in by the members.
  const c = memberCoordinator(cluster, true);
  for (const key of REGISTERS) {
    const history = registers.get(key) ?? [];
    if (c) {
      const op: RegisterOp = { kind: 'read', start: cluster.loop.now, end: Infinity };
      let done = false;
      void compareAndSet(c, REGISTER_SPACE, registerPlacement(key), (current) => ({ result: (current as number | null) ?? null })).then(
        (value) => {
          op.end = cluster.loop.now;
          op.result = { value };
        },
        () => undefined,
      ).finally(() => (done = true));
      await cluster.loop.runUntil(cluster.loop.now + 10_000, () => done);
      if (op.result) history.push(op);
      else problems.push(`register ${key}: no read once the cluster was whole`);
    }
    const verdict = linearizable(history);
    if (verdict === 'unchecked') unchecked++;
    else if (!verdict) {
      const shown = history.map((o) => `${o.kind}${o.kind === 'cas' ? ` ${o.expected}->${o.next}` : ''} [${o.start.toFixed(0)}, ${o.end === Infinity ? 'open' : o.end.toFixed(0)}] ${o.result ? JSON.stringify(o.result) : ''}`);
      problems.push(`register ${key}: the history is not linearizable:\n    ${shown.join('\n    ')}`);
    }
  }
  return { problems, unchecked };
}

/** Disks that fill up or fail for a while: the errno a disk call gets, drawn from the run's seed. */
class DiskFaults {
  private readonly full = new Map<string, number>();
  private readonly failing = new Map<string, { until: number; rate: number }>();

  constructor(
    private readonly loop: SimLoop,
    private readonly prng: Prng,
  ) {}

  /** A write finds the disk full until `until`. */
  fill(host: string, until: number): void {
    this.full.set(host, until);
  }

  /** A disk call fails with EIO at this rate until `until`. */
  fail(host: string, until: number, rate: number): void {
    this.failing.set(host, { until, rate });
  }

  heal(): void {
    this.full.clear();
    this.failing.clear();
  }

  inject(host: string, op: string): string | null {
    const now = this.loop.now;
    if ((this.full.get(host) ?? -1) > now && FILLING.has(op)) return 'ENOSPC';
    const f = this.failing.get(host);
    if (f && f.until > now && op !== 'statfs' && this.prng.chance(f.rate)) return 'EIO';
    return null;
  }
}

/** The disk calls that need space. */
const FILLING = new Set(['write', 'writeFileSync', 'writeFileDurable', 'writeFile', 'open', 'mkdir', 'mkdirSync']);

function scheduleFaults(cluster: SimCluster, net: SimNetwork, disks: DiskFaults, prng: Prng, count: number, w: number, from: number, to: number): void {
  const loop = cluster.loop;
  let wipes = w >= 2 ? 1 : 0;
  for (let i = 0; i < count; i++) {
    const at = prng.between(from, to - 1000) - loop.now;
    const node = prng.pick(cluster.nodes).id;
    const outage = prng.between(300, 8000);
    const roll = prng.float();
    if (roll < 0.25) {
      loop.schedule(at, () => {
        cluster.kill(node);
        loop.schedule(outage, () => cluster.start(node));
      });
    } else if (roll < 0.45) {
      loop.schedule(at, () => {
        cluster.powerLoss(node);
        loop.schedule(outage, () => cluster.start(node));
      });
    } else if (roll < 0.55 && wipes > 0) {
      wipes--;
      loop.schedule(at, () => {
        cluster.wipe(node);
        loop.schedule(outage, () => cluster.start(node));
      });
    } else if (roll < 0.62) {
      loop.schedule(at, () => {
        loop.trace(`disk of ${node} full for ${outage} ms`);
        disks.fill(node, loop.now + outage);
      });
    } else if (roll < 0.67) {
      const rate = 0.05 + prng.float() * 0.3;
      loop.schedule(at, () => {
        loop.trace(`disk of ${node} fails ${(rate * 100).toFixed(0)}% of its calls for ${outage} ms`);
        disks.fail(node, loop.now + outage, rate);
      });
    } else if (roll < 0.75) {
      // A symmetric partition: the machines split in two for a while.
      const side = new Set(cluster.nodes.filter(() => prng.chance(0.5)).map((x) => x.id));
      loop.schedule(at, () => {
        loop.trace(`partition [${[...side].join(',')}] from the rest`);
        for (const a of cluster.nodes) for (const b of cluster.nodes) if (side.has(a.id) !== side.has(b.id)) net.partition(a.id, b.id);
        loop.schedule(outage, () => {
          for (const a of cluster.nodes) for (const b of cluster.nodes) if (side.has(a.id) !== side.has(b.id)) net.heal(a.id, b.id);
        });
      });
    } else if (roll < 0.83) {
      const other = prng.pick(cluster.nodes).id;
      loop.schedule(at, () => {
        loop.trace(`one-way partition ${node} -> ${other}`);
        net.partition(node, other);
        loop.schedule(outage, () => net.heal(node, other));
      });
    } else {
      const jump = (prng.chance(0.5) ? -1 : 1) * prng.between(1000, 3_600_000);
      loop.schedule(at, () => {
        loop.trace(`clock of ${node} jumps ${jump} ms`);
        cluster.node(node).machine.clockOffsetMs += jump;
      });
    }
  }
}
