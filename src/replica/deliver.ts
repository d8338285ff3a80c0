// Pushing a key's state to a replica, shared by the coordinator (replication,
// read repair) and the scheduler's workers (hinted handoff): the state goes with
// as many of the bodies the replica lacks as a frame holds; the replica writes
// each as it arrives and answers what it still lacks, which is sent next, until
// it merges.
import { ErrorCode, RingstoreError } from '../errors.js';
import type { PeerAddress, Transport } from '../net/transport.js';
import { bodyBudget, splitBodies } from '../protocol/codec.js';
import type { BodyRef, KeyState } from '../protocol/messages.js';

export type Bodies = Map<string, Buffer>;

/** The bodies of a reply, by dot id. */
export function collectBodies(refs: readonly BodyRef[], body: Buffer): Bodies {
  const parts = splitBodies(refs, body);
  const out: Bodies = new Map();
  refs.forEach((r, i) => out.set(r.dot, parts[i] as Buffer));
  return out;
}

/**
 * Merge `state` into the replica at `peer` (replication, read repair, handoff).
 * Bodies go as many per message as a frame holds; the replica writes each as it
 * arrives and answers what it still lacks, which is sent next, until it merges.
 * `initial` are the versions it is known to lack. Returns its resulting state.
 */
export async function deliverState(
  transport: Transport,
  peer: PeerAddress,
  maxFrameBytes: number,
  msg: { ns: string; key: string; state: KeyState; hint?: string | undefined; epoch?: number | undefined },
  bodyOf: (dot: string) => Promise<Buffer | undefined>,
  initial: readonly string[],
): Promise<KeyState | null> {
  const budget = bodyBudget(maxFrameBytes);
  let lacking = [...initial];
  for (let round = 0; round <= msg.state.siblings.length + 1; round++) {
    const refs: BodyRef[] = [];
    const bodies: Buffer[] = [];
    let total = 0;
    for (const dot of lacking) {
      const b = await bodyOf(dot);
      if (!b || (total + b.length > budget && refs.length > 0)) continue;
      total += b.length;
      refs.push({ dot, size: b.length });
      bodies.push(b);
    }
    if (lacking.length > 0 && refs.length === 0) break; // none of what it lacks can be had
    const { reply } = await transport.request(peer, { type: 'sync', ns: msg.ns, key: msg.key, state: msg.state, bodies: refs, ...(msg.hint ? { hint: msg.hint } : {}), ...(msg.epoch ? { epoch: msg.epoch } : {}) }, bodies);
    if (reply.missing.length === 0) return reply.state;
    lacking = reply.missing;
  }
  throw new RingstoreError(ErrorCode.MISSING_BODIES, `${peer.id} still lacks the content of some versions of ${msg.key}`, { details: { node: peer.id } });
}
