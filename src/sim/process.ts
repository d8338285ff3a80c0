// A simulated machine and the processes that run on it. A machine has a disk
// that outlives its processes and a wall clock that can jump; a process gets a
// Runtime of its own (timers on the simulator's loop, a random stream forked
// from the seed, a mount of the machine's disk, an endpoint of the network),
// and when it dies every one of its timers, deliveries and disk calls dies
// with it: nothing it started ever runs again.
import type { Disk } from '../runtime/disk.js';
import type { Runtime, Timer } from '../runtime/runtime.js';
import { SimDisk } from './disk.js';
import type { Owner, SimLoop } from './loop.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';

/** Simulated time 0 on the wall clock: 2026-01-01T00:00:00Z. */
export const EPOCH_MS = Date.UTC(2026, 0, 1);

export class SimMachine {
  readonly disk: SimDisk;
  /** How far this machine's wall clock is from true time (a jump changes it). */
  clockOffsetMs = 0;
  incarnations = 0;

  constructor(
    readonly host: string,
    readonly loop: SimLoop,
    readonly net: SimNetwork,
    private readonly prng: Prng,
    inject: (op: string, path: string) => string | null,
  ) {
    const diskRandom = prng.fork('disk');
    this.disk = new SimDisk({
      random: () => diskRandom.float(),
      schedule: (ms, fn) => loop.schedule(ms, fn, null),
      latency: () => 0.02 + diskRandom.float() * 0.2,
      syncLatency: () => 0.3 + diskRandom.float() * 3,
      inject,
    });
  }

  /** Start a process on this machine. */
  spawn(role: string): SimProcess {
    return new SimProcess(this, `${this.host}/${role}#${++this.incarnations}`, this.prng.fork(`process-${this.incarnations}`));
  }
}

export class SimProcess implements Owner {
  alive = true;
  readonly rt: Runtime;
  private readonly disk: Disk;

  constructor(
    readonly machine: SimMachine,
    readonly name: string,
    readonly prng: Prng,
  ) {
    const loop = machine.loop;
    this.disk = machine.disk.mount();
    const owner: Owner = this;
    const timer = (fn: () => void, ms: number, repeat: boolean): Timer => {
      let handle = loop.schedule(ms, fire, owner);
      function fire(): void {
        if (repeat) handle = loop.schedule(ms, fire, owner);
        fn();
      }
      return { cancel: () => handle.cancel() };
    };
    this.rt = {
      clock: {
        now: () => EPOCH_MS + loop.now + machine.clockOffsetMs,
        monotonic: () => loop.now,
      },
      timers: {
        setTimeout: (fn, ms) => timer(fn, ms, false),
        setInterval: (fn, ms) => timer(fn, Math.max(1, ms), true),
        sleep: (ms) => new Promise((resolve) => loop.schedule(ms, resolve, owner)),
      },
      random: {
        float: () => prng.float(),
        bytes: (n) => prng.bytes(n),
        uuid: () => prng.uuid(),
      },
      disk: this.disk,
      net: machine.net.endpoint(machine.host, owner),
    };
  }

  /** kill -9: the process is gone; the machine's page cache keeps what it wrote. */
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    this.machine.disk.kill(this.disk);
    this.machine.net.kill(this, false);
  }

  /** Its machine lost power (the machine crashes its disk; see SimCluster). */
  powerOff(): void {
    if (!this.alive) return;
    this.alive = false;
    this.machine.net.kill(this, true);
  }
}
