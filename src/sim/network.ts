// The simulator's network: in-memory byte pipes between simulated machines,
// behaving like TCP connections (ordered, reliable while the link is up), with
// faults drawn from the run's seed: latency and its spikes, loss (which TCP
// turns into a retransmission delay, or now and then a reset connection), a
// frame delivered twice or two swapped (which the authentication layer must
// refuse), chunks split (which the frame decoder must reassemble), and
// partitions, symmetric or one-way, during which bytes wait for the link to
// heal and a connection that waits too long is reset. A connection to a port
// nobody listens on is refused. Everything the real socket layer (../net/)
// does runs unchanged on top.
import type { Network, Pipe, PipeListener } from '../runtime/network.js';
import type { Owner, SimLoop } from './loop.js';
import type { Prng } from './prng.js';

export interface NetFaults {
  /** Extra one-way latency range between machines, ms. */
  latency: [number, number];
  /** Chance a frame is hit by a latency spike (a stall of 20 to 400 ms). */
  spike: number;
  /** Chance a frame is lost once: TCP retransmits it after 200 to 1000 ms. */
  loss: number;
  /** Chance a loss kills the connection instead (a reset). */
  reset: number;
  /** Chance a frame is delivered twice, or swapped with the next (the receiver must refuse the connection). */
  duplicate: number;
  reorder: number;
  /** Chance a chunk arrives in two pieces. */
  split: number;
}

export const CALM: NetFaults = { latency: [0.1, 1], spike: 0, loss: 0, reset: 0, duplicate: 0, reorder: 0, split: 0 };

/** Bytes that wait this long for a partitioned link reset the connection. */
const GIVE_UP_MS = 15_000;

type Item = { data: Buffer; sentAt: number } | { close: NodeJS.ErrnoException | undefined; sentAt: number };

function errno(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

class SimEnd implements Pipe {
  peer: SimEnd | null = null;
  destroyed = false;
  paused = false;
  readonly out: Item[] = [];
  pumping = false;
  private readonly dataFns: Array<(chunk: Buffer) => void> = [];
  private readonly closeFns: Array<(error?: NodeJS.ErrnoException) => void> = [];
  private closed = false;

  constructor(
    readonly net: SimNetwork,
    readonly owner: Owner,
    /** The machine this end is on. */
    readonly host: string,
    readonly remote: string,
  ) {}

  readonly needsDrain = false;

  write(chunks: readonly Buffer[]): void {
    if (this.destroyed) return;
    this.net.send(this, { data: Buffer.concat(chunks), sentAt: this.net.loop.now });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.peer) this.net.pump(this.peer);
  }

  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // The other end learns of it as the bytes before it arrive: after them, in order.
    this.net.send(this, { close: undefined, sentAt: this.net.loop.now }, true);
    this.net.loop.schedule(0, () => this.fireClose(undefined), this.owner);
  }

  /**
   * The process that owned this end died: no callback runs here. After a kill
   * its kernel resets the connection (the other end sees it once the bytes
   * before it arrive); after a power loss nothing is sent at all.
   */
  kill(power: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    if (power) this.out.length = 0;
    else this.net.send(this, { close: errno('ECONNRESET', 'read ECONNRESET'), sentAt: this.net.loop.now }, true);
  }

  receive(chunk: Buffer): void {
    if (this.destroyed) return;
    for (const fn of this.dataFns) fn(chunk);
  }

  fireClose(error: NodeJS.ErrnoException | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.destroyed = true;
    for (const fn of this.closeFns) fn(error);
  }

  onData(fn: (chunk: Buffer) => void): void {
    this.dataFns.push(fn);
  }

  onDrain(): void {
    // Never needs one: the simulated network buffers without bound.
  }

  offDrain(): void {}

  onClose(fn: (error?: NodeJS.ErrnoException) => void): void {
    this.closeFns.push(fn);
  }
}

interface Listening {
  owner: Owner;
  onPipe: (pipe: Pipe) => void;
  accepted: Set<SimEnd>;
}

export class SimNetwork {
  private readonly listeners = new Map<string, Listening>();
  private readonly ends = new Set<SimEnd>();
  /** Directed machine pairs that cannot talk: `${from}>${to}`. */
  private readonly blocked = new Set<string>();
  /** Machines without power: nothing reaches them, nothing answers for them. */
  private readonly off = new Set<string>();
  faults: NetFaults = CALM;
  /** Frames delivered, for the run's statistics. */
  delivered = 0;

  constructor(
    readonly loop: SimLoop,
    private readonly prng: Prng,
  ) {}

  /** The network as one process on `host` sees it. */
  endpoint(host: string, owner: Owner): Network {
    return {
      connect: (toHost, port) => this.connect(owner, host, toHost, port),
      listen: (onHost, port, onPipe) => this.listen(owner, onHost, port, onPipe),
    };
  }

  partition(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(from?: string, to?: string): void {
    if (from === undefined) this.blocked.clear();
    else this.blocked.delete(`${from}>${to}`);
  }

  isBlocked(from: string, to: string): boolean {
    return from !== to && (this.blocked.has(`${from}>${to}`) || this.off.has(to) || this.off.has(from));
  }

  /** A machine loses power, or gets it back. */
  power(host: string, on: boolean): void {
    if (on) this.off.delete(host);
    else this.off.add(host);
  }

  get partitions(): string[] {
    return [...this.blocked].sort();
  }

  /** A process died (killed, or its machine lost power): its listeners go, its connections with it. */
  kill(owner: Owner, power: boolean): void {
    for (const [addr, l] of this.listeners) if (l.owner === owner) this.listeners.delete(addr);
    for (const e of this.ends) if (e.owner === owner) e.kill(power);
  }

  private latency(from: string, to: string): number {
    if (from === to) return 0.02;
    const [lo, hi] = this.faults.latency;
    let ms = lo + this.prng.float() * (hi - lo);
    if (this.prng.chance(this.faults.spike)) ms += 20 + this.prng.float() * 380;
    return ms;
  }

  private connect(owner: Owner, host: string, toHost: string, port: number): Pipe {
    const client = new SimEnd(this, owner, host, `${toHost}:${port}`);
    this.ends.add(client);
    let tries = 0;
    const attempt = (): void => {
      if (client.destroyed) return;
      // A partition swallows the SYN: TCP tries again, and the caller's connect timeout decides.
      if (this.isBlocked(host, toHost) || this.isBlocked(toHost, host)) {
        if (++tries < 4) this.loop.schedule(1000 * tries, attempt, owner);
        return;
      }
      const l = this.listeners.get(`${toHost}:${port}`);
      if (!l || !l.owner.alive) {
        this.loop.schedule(this.latency(toHost, host), () => client.fireClose(errno('ECONNREFUSED', `connect ECONNREFUSED ${toHost}:${port}`)), owner);
        return;
      }
      const server = new SimEnd(this, l.owner, toHost, `${host}:${10000 + this.prng.int(50000)}`);
      this.ends.add(server);
      client.peer = server;
      server.peer = client;
      l.accepted.add(server);
      server.onClose(() => l.accepted.delete(server));
      this.loop.trace(`connect ${owner.name} -> ${l.owner.name}`);
      l.onPipe(server);
      // Anything written before the connection was up goes now.
      this.pump(client);
    };
    this.loop.schedule(this.latency(host, toHost), attempt, owner);
    return client;
  }

  private async listen(owner: Owner, host: string, port: number, onPipe: (pipe: Pipe) => void): Promise<PipeListener> {
    const addr = `${host}:${port}`;
    const cur = this.listeners.get(addr);
    if (cur && cur.owner.alive) throw errno('EADDRINUSE', `listen EADDRINUSE ${addr}`);
    const l: Listening = { owner, onPipe, accepted: new Set() };
    this.listeners.set(addr, l);
    return {
      port,
      close: async () => {
        if (this.listeners.get(addr) === l) this.listeners.delete(addr);
        for (const s of [...l.accepted]) s.destroy();
      },
    };
  }

  /** Queue an item from `from` to its peer. `last`: a close, which never splits or duplicates. */
  send(from: SimEnd, item: Item, last = false): void {
    const f = this.faults;
    if (!last && 'data' in item && this.prng.chance(f.split) && item.data.length > 1) {
      const at = 1 + this.prng.int(item.data.length - 1);
      from.out.push({ data: item.data.subarray(0, at), sentAt: item.sentAt }, { data: item.data.subarray(at), sentAt: item.sentAt });
    } else {
      from.out.push(item);
    }
    if (!last && 'data' in item) {
      if (this.prng.chance(f.duplicate)) from.out.push({ ...item });
      else if (this.prng.chance(f.reorder) && from.out.length >= 2) {
        const n = from.out.length;
        [from.out[n - 1], from.out[n - 2]] = [from.out[n - 2] as Item, from.out[n - 1] as Item];
      }
    }
    this.pump(from);
  }

  /** Deliver what `from` sent, in order, as the link allows. */
  pump(from: SimEnd): void {
    if (from.pumping || from.out.length === 0 || !from.peer) return;
    from.pumping = true;
    const to = from.peer;
    let delay = this.latency(from.host, to.host);
    const head = from.out[0] as Item;
    if ('data' in head && this.prng.chance(this.faults.loss)) {
      if (this.prng.chance(this.faults.reset)) return this.reset(from, to);
      delay += 200 + this.prng.float() * 800;
    }
    this.loop.schedule(delay, () => this.deliver(from, to), null);
  }

  private deliver(from: SimEnd, to: SimEnd): void {
    from.pumping = false;
    const head = from.out[0];
    if (!head) return;
    if (this.off.has(to.host) || this.off.has(from.host)) {
      from.out.length = 0; // into the void
      return;
    }
    if (!to.owner.alive) {
      // Its process is gone but its machine answers: the kernel resets the connection.
      if (!from.owner.alive) return void (from.out.length = 0);
      return this.reset(from, to);
    }
    if (to.destroyed) return void (from.out.length = 0);
    if (this.isBlocked(from.host, to.host)) {
      if (this.loop.now - head.sentAt > GIVE_UP_MS) return this.reset(from, to);
      from.pumping = true;
      this.loop.schedule(200 + this.prng.float() * 300, () => this.deliver(from, to), null);
      return;
    }
    if ('data' in head && to.paused) return; // resume() pumps again
    from.out.shift();
    if ('data' in head) {
      this.delivered++;
      this.loop.hashBytes(head.data);
      to.receive(head.data);
    } else {
      this.ends.delete(to);
      this.ends.delete(from);
      to.fireClose(head.close);
    }
    this.pump(from);
  }

  /** The connection breaks: both ends see a reset (a dead end sees nothing). */
  private reset(a: SimEnd, b: SimEnd): void {
    a.out.length = 0;
    b.out.length = 0;
    a.pumping = false;
    b.pumping = false;
    this.ends.delete(a);
    this.ends.delete(b);
    for (const e of [a, b]) {
      if (!e.owner.alive) continue;
      this.loop.schedule(0, () => e.fireClose(errno('ECONNRESET', 'read ECONNRESET')), e.owner);
    }
    this.loop.trace(`reset ${a.owner.name} <-> ${b.owner.name}`);
  }
}
