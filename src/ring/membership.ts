// Who the cluster's members are: one versioned object that the ring, the
// coordinator, the socket layer and the workers all read. Today it comes from
// nodes.json (version 1) and stays for the cluster's life; a join or leave
// will make a new version of it, and every reader sees the version it holds.
import type { PeerAddress } from '../net/transport.js';

export interface MemberSpec {
  id: string;
  host: string;
  port: number;
  restPort: number;
}

export class Membership {
  private readonly byId: Map<string, MemberSpec>;

  constructor(
    /** Bumped on every change, so two views can tell which is newer. */
    readonly version: number,
    /** In claim order. */
    readonly members: readonly MemberSpec[],
  ) {
    this.byId = new Map(members.map((m) => [m.id, m]));
  }

  static initial(members: readonly MemberSpec[]): Membership {
    return new Membership(1, members);
  }

  get ids(): string[] {
    return this.members.map((m) => m.id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): MemberSpec | undefined {
    return this.byId.get(id);
  }

  /** Where to reach a member's socket server; undefined if it is not one. */
  address(id: string): PeerAddress | undefined {
    const m = this.byId.get(id);
    return m && { id: m.id, host: m.host, port: m.port };
  }
}
