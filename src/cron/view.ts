// This machine's gossip view (Dynamo 4.8): every node's latest heartbeat and
// when this machine last saw it advance. A node whose heartbeat has not
// advanced within the failure timeout is down; it is up again as soon as a
// newer heartbeat arrives. Pure state: the clock is passed in.
import { newer } from '../node/gossip-relay.js';
import type { Heartbeat } from '../protocol/messages.js';

export interface ViewEntry {
  heartbeat: Heartbeat | null;
  /** Local time (ms) this machine last saw the heartbeat advance; start-up time if never. */
  lastAdvanced: number;
}

export type NodeStatus = 'up' | 'down';

export class GossipView {
  private readonly entries = new Map<string, ViewEntry>();

  constructor(
    readonly nodes: readonly string[],
    readonly failureTimeoutMs: number,
    now: number,
  ) {
    // Until it hears otherwise, a machine assumes its peers are up (and learns within the timeout if not).
    for (const n of nodes) this.entries.set(n, { heartbeat: null, lastAdvanced: now });
  }

  /**
   * Keep the newer heartbeat of each node. It last advanced `age` ms before it
   * arrived, by the sender's reckoning. Returns the nodes that advanced.
   */
  merge(table: readonly Heartbeat[], now: number): string[] {
    const advanced: string[] = [];
    for (const hb of table) {
      const e = this.entries.get(hb.node);
      if (!e) continue; // not a member of this cluster
      if (!e.heartbeat || newer(hb, e.heartbeat)) {
        // A newer heartbeat advanced after the one we had, so its time cannot be earlier.
        e.lastAdvanced = e.heartbeat ? Math.max(now - hb.age, e.lastAdvanced) : Math.min(now, now - hb.age);
        e.heartbeat = hb;
        advanced.push(hb.node);
      }
    }
    return advanced;
  }

  status(node: string, now: number): NodeStatus {
    const e = this.entries.get(node);
    if (!e) return 'down';
    return now - e.lastAdvanced > this.failureTimeoutMs ? 'down' : 'up';
  }

  down(now: number): string[] {
    return this.nodes.filter((n) => this.status(n, now) === 'down');
  }

  /** The table to send: every known heartbeat with its age now and this machine's verdict. */
  table(now: number): Heartbeat[] {
    return this.nodes.flatMap((n) => {
      const e = this.entries.get(n) as ViewEntry;
      return e.heartbeat ? [{ ...e.heartbeat, age: Math.max(0, Math.round(now - e.lastAdvanced)), status: this.status(n, now) }] : [];
    });
  }

  entry(node: string): ViewEntry | undefined {
    return this.entries.get(node);
  }

  /** gossip.txt: the view in a form a person can read. */
  render(self: string, now: number): string {
    const rows = this.nodes.map((n) => {
      const e = this.entries.get(n) as ViewEntry;
      const hb = e.heartbeat ? `${e.heartbeat.generation}:${e.heartbeat.version}` : '-';
      const ago = ((now - e.lastAdvanced) / 1000).toFixed(1);
      return `${n.padEnd(12)} ${this.status(n, now).padEnd(6)} ${hb.padEnd(24)} ${ago.padStart(8)} s ago`;
    });
    return (
      `# gossip view of ${self} at ${new Date(now).toISOString()} (failure timeout ${this.failureTimeoutMs} ms)\n` +
      `${'node'.padEnd(12)} ${'status'.padEnd(6)} ${'heartbeat (gen:version)'.padEnd(24)} ${'last advanced'.padStart(14)}\n` +
      rows.join('\n') +
      '\n'
    );
  }
}
