// The simulator's compare-and-set clients: each reads a register, then tries
// to replace the value it read by a new one (coordinator/cas.ts, Paxos on the
// register's owners), through any machine, under the run's faults. Every call
// and answer goes in the register's history; a call whose answer never came
// (its machine died, the client gave up) stays open. The checker then asks
// whether each history is linearizable.
import { compareAndSet } from '../coordinator/cas.js';
import { asRingstoreError } from '../errors.js';
import type { SimCluster } from './cluster.js';
import type { RegisterOp, RegisterValue } from './linearizability.js';
import type { Owner, SimLoop } from './loop.js';
import type { Prng } from './prng.js';

export const REGISTERS = ['r0', 'r1'];
export const REGISTER_SPACE = 'sim:registers';
/** Where the registers live on the ring (any name that is not a bucket record's). */
export const registerPlacement = (key: string): { ns: string; key: string } => ({ ns: 'registers', key });

const TIMEOUT_MS = 8000;

export class RegisterClient implements Owner {
  alive = true;
  idle = true;
  private lastSeen = new Map<string, RegisterValue>();

  constructor(
    readonly name: string,
    private readonly loop: SimLoop,
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    /** Histories by register. */
    private readonly histories: Map<string, RegisterOp[]>,
    /** Values this client sets are unique: client number, then a counter. */
    private readonly base: number,
  ) {}

  private counter = 0;

  run(until: number): void {
    const next = (): void => {
      if (this.loop.now >= until) return;
      void this.one().then(() => this.loop.schedule(this.prng.between(50, 1000), next, this));
    };
    this.loop.schedule(this.prng.between(0, 500), next, this);
  }

  private async one(): Promise<void> {
    const node = this.prng.pick(this.cluster.nodes);
    const key = this.prng.pick(REGISTERS);
    const c = node.running?.cluster;
    if (!c) return;
    const read = this.prng.chance(0.4) || !this.lastSeen.has(key);
    const expected = this.lastSeen.get(key) ?? null;
    const value = this.base * 1_000_000 + ++this.counter;
    const op: RegisterOp = read ? { kind: 'read', start: this.loop.now, end: Infinity } : { kind: 'cas', expected, next: value, start: this.loop.now, end: Infinity };
    const history = this.histories.get(key) ?? [];
    history.push(op);
    this.histories.set(key, history);
    this.idle = false;
    type Answer = { value: RegisterValue } | { ok: boolean; value: RegisterValue };
    const call = compareAndSet<Answer>(c, REGISTER_SPACE, registerPlacement(key), (current) => {
      const cur = (current as RegisterValue) ?? null;
      if (read) return { result: { value: cur } };
      return cur === expected ? { write: value, result: { ok: true, value: cur } } : { result: { ok: false, value: cur } };
    });
    const outcome = await new Promise<{ value: RegisterValue } | { ok: boolean; value: RegisterValue } | null>((resolve) => {
      let done = false;
      this.loop.schedule(TIMEOUT_MS, () => {
        if (!done) resolve(null);
        done = true;
      }, this);
      call.then(
        (r) => {
          if (!done) resolve(r);
          done = true;
        },
        (err: unknown) => {
          // A failure is an open call: the value may still have been chosen (a majority accepted it).
          if (!done) resolve(null);
          done = true;
          this.loop.trace(`${this.name} cas ${key}: ${asRingstoreError(err).code}`);
        },
      );
    });
    this.idle = true;
    if (outcome) {
      op.end = this.loop.now;
      op.result = outcome;
      this.lastSeen.set(key, outcome.value);
      if ('ok' in outcome && outcome.ok) this.lastSeen.set(key, value);
      this.loop.trace(`${this.name} ${read ? 'read' : `cas ${expected}->${value}`} ${key} via ${node.id}: ${JSON.stringify(outcome)}`);
    }
  }
}
