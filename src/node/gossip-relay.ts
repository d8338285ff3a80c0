// The socket server's part in gossip. The scheduler (cron process) of each
// machine owns the gossip view and its files; the socket server is the address
// peers reach, so it relays: a peer's table goes into an inbox that the local
// scheduler collects on its next exchange, and a peer is answered with the view
// the local scheduler last pushed. The socket server also vouches for itself:
// its own heartbeat advances as long as it runs, so a node is seen up exactly
// while its socket server answers. Every row carries its age, and the relay
// adds the time it held a row, so a heartbeat's age is right however many
// machines passed it on.
import { newer, type DiskInfo, type Heartbeat } from '../protocol/messages.js';
import type { Clock } from '../runtime/runtime.js';

interface Held {
  hb: Heartbeat;
  /** The monotonic clock when it was received. */
  at: number;
}

export class GossipRelay {
  private readonly generation: number;
  private readonly started: number;
  private view = new Map<string, Held>();
  private readonly inbox = new Map<string, Held>();
  private readonly now: () => number;

  constructor(
    private readonly self: string,
    clock: Clock,
    /** This start's generation (identity.ts keeps it increasing across restarts); the monotonic clock counts its versions. */
    generation: number,
    /** This node's disk and membership epochs, told with each heartbeat. */
    private readonly state: () => { disk: DiskInfo; epoch?: number; synced?: number } = () => ({ disk: { state: 'ok', free: null } }),
  ) {
    this.generation = generation;
    this.now = () => clock.monotonic();
    this.started = this.now();
  }

  heartbeat(): Heartbeat {
    return { node: this.self, generation: this.generation, version: Math.floor(this.now() - this.started), age: 0, status: 'up', ...this.state() };
  }

  /** A gossip message: from our own scheduler (push view, collect inbox) or from a peer's (fill inbox, answer view). */
  exchange(sender: string, table: readonly Heartbeat[]): Heartbeat[] {
    const t = this.now();
    if (sender === this.self) {
      this.view = new Map(table.filter((h) => h.node !== this.self).map((hb) => [hb.node, { hb, at: t }]));
      return [this.heartbeat(), ...this.aged(this.inbox, t)];
    }
    for (const hb of table) {
      if (hb.node === this.self) continue;
      const cur = this.inbox.get(hb.node);
      if (!cur || newer(hb, cur.hb)) this.inbox.set(hb.node, { hb, at: t });
    }
    return [this.heartbeat(), ...this.aged(this.view, t)];
  }

  private aged(rows: Map<string, Held>, t: number): Heartbeat[] {
    return [...rows.values()].map(({ hb, at }) => ({ ...hb, age: Math.round(hb.age + (t - at)) }));
  }
}
