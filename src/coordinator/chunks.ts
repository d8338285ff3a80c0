// The chunks of a large file, as a coordinator stores and fetches them. A
// chunk is placed on the ring by its hash, like a key of its own: its owners
// are the N nodes clockwise from it (in every live layout while partitions
// move), and an owner that is down is stood in for by the next healthy node,
// which keeps the chunk marked as a hint for that owner (Dynamo's sloppy
// quorum, as for any write). A chunk is stored once W owners of each live
// layout (or their stand-ins) hold it. Chunks never change, so there is
// nothing to version or merge: any replica's copy is the chunk, once its bytes
// hash to its name.
import { ErrorCode, RingstoreError, replicaFailure, type ReplicaFailure } from '../errors.js';
import { CHUNKS_NS } from '../protocol/messages.js';
import { fetchGoodChunk } from '../replica/chunk-fetch.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';
import { quorumError } from './read.js';

interface Copy {
  node: string;
  /** The owner a stand-in keeps it for. */
  for?: string;
}

/**
 * Store one chunk on W of its owners (in each live layout); the other puts go on after this returns.
 * `settled` is told once every put has ended: `clean` when each was answered, so that no socket still
 * holds `bytes` and the caller may reuse the buffer (after a failure, a write may still be queued).
 */
export async function storeChunk(c: Cluster, hash: string, bytes: Buffer, settled?: (clean: boolean) => void): Promise<void> {
  // Told once: by the end of every put, or at once by a failure (whose buffer is not reused anyway).
  let told = false;
  const once = (clean: boolean): void => {
    if (told) return;
    told = true;
    settled?.(clean);
  };
  try {
    return await placeChunk(c, hash, bytes, once);
  } catch (err) {
    once(false);
    throw err;
  }
}

async function placeChunk(c: Cluster, hash: string, bytes: Buffer, settled: (clean: boolean) => void): Promise<void> {
  await c.health.current();
  const lists = c.writeLists(CHUNKS_NS, hash);
  const owners = [...new Set(lists.flat())];
  const known = await c.health.downSet();
  const outside = c.walk(CHUNKS_NS, hash).filter((n) => !owners.includes(n));
  const fallbacks = [...outside.filter((n) => !known.has(n)), ...outside.filter((n) => known.has(n))];
  const failed: ReplicaFailure[] = [];
  const put = async (node: string, hint?: string): Promise<void> => {
    await c.transport.request(c.peer(node), { type: 'chunk_put', hash, size: bytes.length, ...(hint !== undefined ? { hint } : {}) }, [bytes]);
  };
  const slot = async (owner: string): Promise<Copy> => {
    let own: unknown = new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${owner} is believed down`);
    if (!known.has(owner)) {
      try {
        await put(owner);
        return { node: owner };
      } catch (err) {
        own = err;
      }
    }
    failed.push(replicaFailure(owner, own));
    for (;;) {
      const node = fallbacks.shift();
      // No node left to stand in: the owner's own failure is the reason (a full disk is a 507).
      if (node === undefined) throw own;
      try {
        await put(node, owner);
        return { node, for: owner };
      } catch (err) {
        failed.push(replicaFailure(node, err));
      }
    }
  };
  const need = Math.min(c.w, (lists[0] as string[]).length);
  // Every live layout must have W of its owners' copies: wait for all when partitions move.
  const result = await quorum(owners, lists.length > 1 ? owners.length : need, slot);
  void result.rest.then((all) => settled(all.failed.length === 0 && failed.length === 0));
  const done = lists.length > 1 ? await result.rest : result;
  const copies = done.ok.map((a) => a.value);
  for (const list of lists) {
    const held = new Set(copies.filter((x) => list.includes(x.for ?? x.node)).map((x) => x.for ?? x.node));
    const want = Math.min(c.w, list.length);
    if (held.size < want) throw quorumError(`store of chunk ${hash.slice(0, 12)}`, want, [...held], firstPerNode([...failed, ...done.failed]));
  }
}

/**
 * A chunk's bytes from the first node that holds a good copy: its owners (of
 * every live layout) that are not known down, then the others, then any node
 * (a stand-in may keep it as a hint). A copy whose bytes do not hash to its
 * name is passed over.
 */
export async function fetchChunk(c: Cluster, hash: string): Promise<Buffer> {
  const owners = [...new Set(c.writeLists(CHUNKS_NS, hash).flat())];
  const known = await c.health.downSet();
  const rest = c.walk(CHUNKS_NS, hash).filter((n) => !owners.includes(n));
  const order = [...owners.filter((n) => !known.has(n)), ...rest.filter((n) => !known.has(n)), ...owners.filter((n) => known.has(n)), ...rest.filter((n) => known.has(n))];
  const { bytes, passed } = await fetchGoodChunk(c.transport, hash, order, (n) => c.peer(n));
  for (const p of passed) if (p.why === 'damaged') c.log.warn('a replica holds a damaged copy of a chunk', { node: p.node, hash });
  if (bytes) return bytes;
  throw new RingstoreError(ErrorCode.CHUNK_UNAVAILABLE, `no live replica could return chunk ${hash} (${passed.map((p) => `${p.node}: ${p.why}`).join('; ')})`, { details: { chunk: hash } });
}

/** One failure per node, the first (a stand-in's failure is recorded under its own name, an owner's before its slot gives up). */
function firstPerNode(failed: readonly ReplicaFailure[]): ReplicaFailure[] {
  const seen = new Set<string>();
  return failed.filter((f) => !seen.has(f.node) && seen.add(f.node));
}
