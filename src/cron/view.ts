// This machine's gossip view (Dynamo 4.8): every node's latest heartbeat and
// when this machine last saw it advance. A node is `unknown` until this machine
// hears a heartbeat from it (and `down` if none comes within the failure
// timeout); then `up` while its heartbeat keeps advancing. It is `down` once
// the heartbeat has not advanced for the failure timeout, or at once when its
// port refused this machine a connection (Dynamo's failure detection is local:
// a node that does not answer is failed). After a refusal only proof of life
// brings it back: a heartbeat of a newer generation (it restarted), or an
// exchange with the node itself. Peers may still relay heartbeats it minted
// before it died, and those prove nothing. Pure state: the clock is passed in.
import { newer, type DiskInfo, type Heartbeat, type NodeStatus } from '../protocol/messages.js';

export interface ViewEntry {
  heartbeat: Heartbeat | null;
  /** Local time (ms) this machine last saw the heartbeat advance; start-up time if never. */
  lastAdvanced: number;
  /**
   * When the node's port last refused this machine a connection, and the
   * generation known then (-1 if none); null once the node has answered since.
   */
  refusal: { at: number; generation: number } | null;
}

export type { NodeStatus };

export class GossipView {
  private readonly entries = new Map<string, ViewEntry>();

  private ids: string[] = [];
  /**
   * The highest membership epoch and synced epoch each node's heartbeats have
   * told: both only grow on a node, and a heartbeat that is "newer" by the
   * gossip order may still be an old one relayed after the node's clock and
   * generation went back.
   */
  private readonly marks = new Map<string, { epoch: number; synced: number }>();

  constructor(
    nodes: readonly string[],
    readonly failureTimeoutMs: number,
    now: number,
  ) {
    this.setNodes(nodes, now);
  }

  /** The nodes this view follows. */
  get nodes(): readonly string[] {
    return this.ids;
  }

  /** Follow these nodes from now on (the membership changed): new ones start unknown, others are forgotten. */
  setNodes(nodes: readonly string[], now: number): void {
    const keep = new Set(nodes);
    for (const n of this.entries.keys()) if (!keep.has(n)) this.entries.delete(n), this.marks.delete(n);
    // Nothing is known of a node until it is heard from: not up, and not yet a failure.
    for (const n of keep) if (!this.entries.has(n)) this.entries.set(n, { heartbeat: null, lastAdvanced: now, refusal: null });
    this.ids = [...keep];
  }

  private mark(hb: Heartbeat): void {
    if (!this.entries.has(hb.node)) return;
    const m = this.marks.get(hb.node) ?? { epoch: 0, synced: 0 };
    this.marks.set(hb.node, { epoch: Math.max(m.epoch, hb.epoch ?? 0), synced: Math.max(m.synced, hb.synced ?? 0) });
  }

  /** The highest membership epoch a node's heartbeats told, and the highest epoch it said it had synced. */
  epochsOf(node: string): { epoch: number; synced: number } {
    return this.marks.get(node) ?? { epoch: 0, synced: 0 };
  }

  /** Every node followed has a heartbeat here, and none tells of a membership epoch newer than `epoch`. */
  caughtUp(epoch: number): boolean {
    return this.ids.every((node) => {
      const hb = this.entries.get(node)?.heartbeat;
      return hb != null && (hb.epoch ?? 0) <= epoch;
    });
  }

  /**
   * Where a newer membership than `epoch` may be fetched: the nodes whose
   * latest heartbeat here tells of one, highest epoch first. A heartbeat may
   * be stale: a node wiped while its clock ran back mints heartbeats of an
   * older generation than those it minted before, so peers keep relaying its
   * old one (simulator seed 4459: a wiped node chose itself, by its own old
   * heartbeat, round after round). The caller tries them in turn.
   */
  newerEpochs(epoch: number): Array<{ node: string; epoch: number }> {
    const told: Array<{ node: string; epoch: number }> = [];
    for (const node of this.ids) {
      const e = this.entries.get(node)?.heartbeat?.epoch ?? 0;
      if (e > epoch) told.push({ node, epoch: e });
    }
    return told.sort((a, b) => b.epoch - a.epoch);
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
      this.mark(hb);
      if (!e.heartbeat || newer(hb, e.heartbeat)) {
        // A newer heartbeat advanced after the one we had, so its time cannot be earlier.
        e.lastAdvanced = e.heartbeat ? Math.max(now - hb.age, e.lastAdvanced) : Math.min(now, now - hb.age);
        e.heartbeat = hb;
        advanced.push(hb.node);
      }
    }
    return advanced;
  }

  /** The node's port did not take an authenticated connection from this machine. */
  refused(node: string, now: number): void {
    const e = this.entries.get(node);
    if (e) e.refusal = { at: now, generation: e.heartbeat?.generation ?? -1 };
  }

  /**
   * The node itself answered this machine: proof of life, whatever its
   * heartbeat's generation (a node whose disk and clock both went back starts
   * a lower one, which relays alone would never take as news).
   */
  answered(node: string, own: Heartbeat | undefined, now: number): void {
    const e = this.entries.get(node);
    if (!e) return;
    e.refusal = null;
    if (own && own.node === node) {
      this.mark(own);
      if (!e.heartbeat || newer(own, e.heartbeat) || own.generation < e.heartbeat.generation) e.heartbeat = own;
      e.lastAdvanced = now;
    }
  }

  status(node: string, now: number): NodeStatus {
    const e = this.entries.get(node);
    if (!e) return 'down';
    const timedOut = now - e.lastAdvanced > this.failureTimeoutMs;
    if (!e.heartbeat) return timedOut ? 'down' : 'unknown';
    // Refused, and not heard from since but through relays of what it said before: it stopped serving.
    // A relayed heartbeat lifts it only if it is of a newer generation and advanced after the refusal.
    if (e.refusal && (e.heartbeat.generation <= e.refusal.generation || e.lastAdvanced <= e.refusal.at)) return 'down';
    return timedOut ? 'down' : 'up';
  }

  /** Every node's status: what the scheduler hands its socket server for the REST app. */
  statuses(now: number): Record<string, NodeStatus> {
    return Object.fromEntries(this.nodes.map((n) => [n, this.status(n, now)]));
  }

  /** Each node's disk, as its latest heartbeat says (nodes not heard from are left out). */
  disks(): Record<string, DiskInfo> {
    const out: Record<string, DiskInfo> = {};
    for (const n of this.nodes) {
      const disk = this.entries.get(n)?.heartbeat?.disk;
      if (disk) out[n] = disk;
    }
    return out;
  }

  down(now: number): string[] {
    return this.nodes.filter((n) => this.status(n, now) === 'down');
  }

  /** The table to send: every known heartbeat with its age now and this machine's verdict. */
  table(now: number): Heartbeat[] {
    return this.nodes.flatMap((n) => {
      const e = this.entries.get(n) as ViewEntry;
      if (!e.heartbeat) return [];
      const status = this.status(n, now);
      return [{ ...e.heartbeat, age: Math.max(0, Math.round(now - e.lastAdvanced)), status: status === 'unknown' ? undefined : status }];
    });
  }

  entry(node: string): ViewEntry | undefined {
    return this.entries.get(node);
  }

  /** gossip.txt: the view in a form a person can read (`now` on the view's clock, `wallNow` for the heading). */
  render(self: string, now: number, wallNow: number): string {
    const rows = this.nodes.map((n) => {
      const e = this.entries.get(n) as ViewEntry;
      const hb = e.heartbeat ? `${e.heartbeat.generation}:${e.heartbeat.version}` : '-';
      const ago = e.heartbeat ? `${((now - e.lastAdvanced) / 1000).toFixed(1).padStart(8)} s ago` : `${'never'.padStart(14)}`;
      return `${n.padEnd(12)} ${this.status(n, now).padEnd(7)} ${hb.padEnd(24)} ${ago}`;
    });
    return (
      `# gossip view of ${self} at ${new Date(wallNow).toISOString()} (failure timeout ${this.failureTimeoutMs} ms)\n` +
      `${'node'.padEnd(12)} ${'status'.padEnd(7)} ${'heartbeat (gen:version)'.padEnd(24)} ${'last advanced'.padStart(14)}\n` +
      rows.join('\n') +
      '\n'
    );
  }
}
