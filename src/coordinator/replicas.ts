// Talking to one replica: the typed requests a coordinator sends, and pushing a
// state to a replica with exactly the bodies it lacks (replication, read
// repair and, later, handoff all use push).
import { dotId } from '../clock/dvv.js';
import type { KeyState, TxnMeta } from '../protocol/messages.js';
import { collectBodies, deliverState, type Bodies } from '../replica/deliver.js';
import { hasBody } from '../storage/layout.js';
import type { Cluster } from './cluster.js';
import type { ChunkedFile } from './write.js';

export type { Bodies } from '../replica/deliver.js';

export interface ReplicaRead {
  state: KeyState | null;
  bodies: Bodies;
}


export async function readReplica(c: Cluster, node: string, ns: string, key: string, bodies: 'none' | 'all' | string[]): Promise<ReplicaRead> {
  const { reply, body } = await c.transport.request(c.peer(node), { type: 'read', ns, key, bodies });
  return { state: reply.state, bodies: collectBodies(reply.bodies, body) };
}

export async function updateReplica(
  c: Cluster,
  node: string,
  req: { ns: string; key: string; context: KeyState['context']; deleted: boolean; body: Buffer; contentType?: string | undefined; uid?: string | undefined; owner?: string | undefined; hint?: string | undefined; wid?: string | undefined; epoch?: number | undefined; chunked?: ChunkedFile | undefined; txn?: TxnMeta | undefined },
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
    ...(req.owner ? { owner: req.owner } : {}),
    ...(req.hint ? { hint: req.hint } : {}),
    ...(req.wid ? { wid: req.wid } : {}),
    ...(req.chunked && !req.deleted ? { chunked: req.chunked } : {}),
    ...(req.txn ? { txn: req.txn } : {}),
    // The epoch the write was placed under (see writeOnce), else the one known now.
    epoch: req.epoch ?? c.membership.epoch,
  };
  const { reply } = await c.transport.request(c.peer(node), msg, req.deleted ? [] : [req.body]);
  return { state: reply.state, dot: reply.dot };
}

/** One node's page of a bucket's keys (list_page). */
export async function listPageReplica(
  c: Cluster,
  node: string,
  ns: string,
  q: { after?: string | undefined; prefix?: string | undefined; delimiter?: string | undefined; limit: number },
): Promise<{ items: Array<{ key: string; state: KeyState; incomplete?: string[] | undefined } | { prefix: string }>; truncated: boolean }> {
  const { reply } = await c.transport.request(c.peer(node), {
    type: 'list_page',
    ns,
    limit: q.limit,
    ...(q.after !== undefined ? { after: q.after } : {}),
    ...(q.prefix ? { prefix: q.prefix } : {}),
    ...(q.delimiter ? { delimiter: q.delimiter } : {}),
  });
  return { items: reply.items, truncated: reply.truncated };
}

export async function listReplica(c: Cluster, node: string, ns: string): Promise<Array<{ key: string; state: KeyState }>> {
  const { reply } = await c.transport.request(c.peer(node), { type: 'list', ns });
  return reply.entries;
}

/** Fetch the bodies of the given versions from the first candidates that hold them (a reply may carry only some: ask again). */
export async function fetchBodies(c: Cluster, ns: string, key: string, dots: readonly string[], candidates: readonly string[]): Promise<Bodies> {
  const out: Bodies = new Map();
  for (const node of candidates) {
    for (;;) {
      const want = dots.filter((d) => !out.has(d));
      if (want.length === 0) return out;
      let got = 0;
      try {
        const r = await readReplica(c, node, ns, key, want);
        for (const [d, b] of r.bodies) {
          if (!out.has(d)) got++;
          out.set(d, b);
        }
      } catch {
        // try the next candidate
      }
      if (got === 0) break;
    }
  }
  return out;
}

export interface PushOptions {
  /** What `node` holds of the key, if known (null: nothing); unknown, only the bodies in hand go first. */
  targetState?: KeyState | null;
  /** Store it on `node` as a hinted copy for this owner. */
  hint?: string;
  /** The membership epoch the target was chosen under, if not the one known now. */
  epoch?: number;
}

/** deliverState from a coordinator: bodies from `have`, else fetched from `sources`. */
export async function pushState(c: Cluster, node: string, ns: string, key: string, state: KeyState, have: Bodies, sources: readonly string[], opts: PushOptions = {}): Promise<KeyState | null> {
  const { targetState, hint, epoch = c.membership.epoch } = opts;
  const held = new Set((targetState?.siblings ?? []).map((s) => dotId(s.dot)));
  // Unknown target state: send what we have in hand; it says if it lacks more.
  const initial = state.siblings
    .filter((s) => hasBody(s) && !held.has(dotId(s.dot)) && (targetState !== undefined || have.has(dotId(s.dot))))
    .map((s) => dotId(s.dot));
  const bodyOf = async (dot: string): Promise<Buffer | undefined> => {
    if (!have.has(dot)) for (const [d, b] of await fetchBodies(c, ns, key, [dot], sources)) have.set(d, b);
    return have.get(dot);
  };
  return deliverState(c.transport, c.peer(node), c.config.maxFrameBytes, { ns, key, state, hint, epoch }, bodyOf, initial);
}
