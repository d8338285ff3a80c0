// Talking to one replica: the typed requests a coordinator sends, and pushing a
// state to a replica with exactly the bodies it lacks (replication, read
// repair and, later, handoff all use push).
import { dotId } from '../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import { splitBodies } from '../protocol/codec.js';
import type { BodyRef, KeyState } from '../protocol/messages.js';
import { hasBody } from '../storage/store.js';
import type { Cluster } from './cluster.js';

export type Bodies = Map<string, Buffer>;

export interface ReplicaRead {
  state: KeyState | null;
  bodies: Bodies;
}

function collect(refs: readonly BodyRef[], body: Buffer): Bodies {
  const parts = splitBodies(refs, body);
  const out: Bodies = new Map();
  refs.forEach((r, i) => out.set(r.dot, parts[i] as Buffer));
  return out;
}

export async function readReplica(c: Cluster, node: string, ns: string, key: string, bodies: 'none' | 'all' | string[]): Promise<ReplicaRead> {
  const { reply, body } = await c.transport.request(c.peer(node), { type: 'read', ns, key, bodies });
  return { state: reply.state, bodies: collect(reply.bodies, body) };
}

export async function updateReplica(
  c: Cluster,
  node: string,
  req: { ns: string; key: string; context: KeyState['context']; deleted: boolean; body: Buffer; contentType?: string | undefined; uid?: string | undefined; hint?: string | undefined },
): Promise<{ state: KeyState; dot: readonly [string, number] }> {
  const msg = {
    type: 'update' as const,
    ns: req.ns,
    key: req.key,
    context: req.context,
    deleted: req.deleted,
    size: req.deleted ? 0 : req.body.length,
    ...(req.contentType ? { contentType: req.contentType } : {}),
    ...(req.uid ? { uid: req.uid } : {}),
    ...(req.hint ? { hint: req.hint } : {}),
  };
  const { reply } = await c.transport.request(c.peer(node), msg, req.deleted ? [] : [req.body]);
  return { state: reply.state, dot: reply.dot };
}

export async function listReplica(c: Cluster, node: string, ns: string): Promise<Array<{ key: string; state: KeyState }>> {
  const { reply } = await c.transport.request(c.peer(node), { type: 'list', ns });
  return reply.entries;
}

/** Fetch the bodies of the given versions from the first candidates that hold them. */
export async function fetchBodies(c: Cluster, ns: string, key: string, dots: readonly string[], candidates: readonly string[]): Promise<Bodies> {
  const out: Bodies = new Map();
  for (const node of candidates) {
    const want = dots.filter((d) => !out.has(d));
    if (want.length === 0) break;
    try {
      const r = await readReplica(c, node, ns, key, want);
      for (const [d, b] of r.bodies) out.set(d, b);
    } catch {
      // try the next candidate
    }
  }
  return out;
}

/**
 * Merge `state` into a replica. Sends the bodies it is known to lack (all new
 * ones when its state is unknown); if it still reports some missing, fetches
 * them from `sources` and tries once more. Returns the replica's resulting state.
 */
export async function pushState(
  c: Cluster,
  node: string,
  ns: string,
  key: string,
  state: KeyState,
  have: Bodies,
  sources: readonly string[],
  targetState?: KeyState | null,
  /** Store it on `node` as a hinted copy for this owner. */
  hint?: string,
): Promise<KeyState | null> {
  const held = new Set((targetState?.siblings ?? []).map((s) => dotId(s.dot)));
  let send = state.siblings.filter((s) => hasBody(s) && !held.has(dotId(s.dot)) && (targetState !== undefined || have.has(dotId(s.dot))));
  for (let attempt = 0; attempt < 2; attempt++) {
    const needed = send.map((s) => dotId(s.dot)).filter((d) => !have.has(d));
    if (needed.length > 0) for (const [d, b] of await fetchBodies(c, ns, key, needed, sources)) have.set(d, b);
    const refs: BodyRef[] = [];
    const bodies: Buffer[] = [];
    for (const s of send) {
      const b = have.get(dotId(s.dot));
      if (!b) continue;
      refs.push({ dot: dotId(s.dot), size: b.length });
      bodies.push(b);
    }
    const { reply } = await c.transport.request(c.peer(node), { type: 'sync', ns, key, state, bodies: refs, ...(hint ? { hint } : {}) }, bodies);
    if (reply.missing.length === 0) return reply.state;
    const missing = new Set(reply.missing);
    send = state.siblings.filter((s) => missing.has(dotId(s.dot)));
  }
  throw new RingstoreError(ErrorCode.MISSING_BODIES, `${node} still lacks the content of some versions of ${key}`, { details: { node } });
}
