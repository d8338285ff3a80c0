// partition_keys: the keys this node holds of some partitions, with their
// states, for the scheduler of a machine that takes those partitions over in a
// membership change (cron/transfer.ts). partition_drop: the copies of
// partitions this node owns in no live layout, once their new owners have them.
// Both walk the namespaces and their sorted names from a cursor, so that a
// page costs what it scans and a walk resumes where it stopped.
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import { BUCKETS_NS, type KeyState, type MessageOf } from '../../protocol/messages.js';
import { objectKey, partitionOf } from '../../ring/hash.js';
import { LEAVES, placeOf, rootOf } from '../../replica/merkle.js';
import type { NodeContext } from '../context.js';

/** Names looked at per page at most, matching or not: a page of a small partition in a big store stays short. */
const SCAN_PER_PAGE = 20_000;

interface Cursor {
  ns: string;
  key: string;
}

function parseCursor(after: string | undefined): Cursor | null {
  if (after === undefined) return null;
  try {
    const [ns, key] = JSON.parse(after) as [unknown, unknown];
    if (typeof ns === 'string' && typeof key === 'string') return { ns, key };
  } catch {
    // below
  }
  throw new RingstoreError(ErrorCode.BAD_MESSAGE, 'partition_keys: `after` is not a cursor this node gave');
}

/** The keys of `partitions` (of Q) after the cursor: up to `limit` matches, scanning at most SCAN_PER_PAGE names. */
async function scan(ctx: NodeContext, partitions: readonly number[], after: string | undefined, limit: number, leaves?: readonly number[]): Promise<{ found: Array<{ ns: string; key: string }>; next: string | null }> {
  const q = ctx.membership.record.partitions;
  const wanted = new Set(partitions);
  const inLeaves = leaves ? new Set(leaves) : null;
  const matches = (ns: string, key: string): boolean => {
    if (!inLeaves) return wanted.has(partitionOf(objectKey(ns, key), q));
    const { partition, leaf } = placeOf(ns, key, q);
    return wanted.has(partition) && inLeaves.has(partition * LEAVES + leaf);
  };
  const cursor = parseCursor(after);
  const spaces = (await ctx.store.namespaces()).filter((ns) => ns !== BUCKETS_NS && (!cursor || ns >= cursor.ns)).sort();
  const found: Array<{ ns: string; key: string }> = [];
  let scanned = 0;
  for (const ns of spaces) {
    let from = cursor && ns === cursor.ns ? cursor.key : undefined;
    for (;;) {
      const { keys, truncated } = ctx.store.names(ns, from, Math.min(1000, SCAN_PER_PAGE - scanned + 1));
      for (const key of keys) {
        scanned++;
        if (matches(ns, key)) found.push({ ns, key });
        if (found.length >= limit || scanned >= SCAN_PER_PAGE) return { found, next: JSON.stringify([ns, key]) };
      }
      if (!truncated || keys.length === 0) break;
      from = keys.at(-1);
    }
  }
  return { found, next: null };
}

export async function handlePartitionKeys(ctx: NodeContext, m: MessageOf<'partition_keys'>): Promise<HandlerResult> {
  const { found, next } = await scan(ctx, m.partitions, m.after, m.limit, m.leaves);
  const entries: Array<{ ns: string; key: string; state: KeyState }> = [];
  for (const { ns, key } of found) {
    const state = await ctx.store.read(ns, key);
    if (state) entries.push({ ns, key, state });
  }
  return { reply: { type: 'partition_keys_reply', entries, next } };
}

export async function handlePartitionDrop(ctx: NodeContext, m: MessageOf<'partition_drop'>): Promise<HandlerResult> {
  const rec = ctx.membership.record;
  if (rec.epoch < m.epoch) throw new RingstoreError(ErrorCode.STALE_EPOCH, `${ctx.identity.node} holds epoch ${rec.epoch}, older than ${m.epoch}: it drops nothing until it has that one`, { details: { epoch: rec.epoch } });
  // Only partitions this node owns in no live layout, whatever the caller believes.
  const self = ctx.identity.node;
  const owned = new Set<number>();
  for (const l of rec.layouts) l.replicas.forEach((list, p) => list.includes(self) && owned.add(p));
  const partitions = m.partitions.filter((p) => !owned.has(p));
  let dropped = 0;
  let after: string | undefined;
  for (;;) {
    const { found, next } = await scan(ctx, partitions, after, Math.min(1000, m.limit - dropped));
    for (const { ns, key } of found) if (await ctx.store.drop(ns, key)) dropped++;
    if (next === null) return { reply: { type: 'partition_drop_reply', dropped, more: false } };
    if (dropped >= m.limit) return { reply: { type: 'partition_drop_reply', dropped, more: true } };
    after = next;
  }
}

/** This node's Merkle trees of some partitions, from its own replicas (not hinted copies), as kept by ctx.merkle. */
export function handleMerkle(ctx: NodeContext, m: MessageOf<'merkle'>): Promise<HandlerResult> {
  const { merkle } = ctx;
  if (merkle.q !== ctx.membership.record.partitions) {
    throw new RingstoreError(ErrorCode.CONFIG, `this node keeps Merkle trees over ${merkle.q} partitions, its membership has ${ctx.membership.record.partitions}`);
  }
  if (!merkle.ready) {
    throw new RingstoreError(ErrorCode.OVERLOADED, `${ctx.identity.node} is still building its Merkle trees (${merkle.progress} keys so far): anti-entropy with it waits for a later round`);
  }
  const trees = m.partitions.map((partition) => {
    const leaves = merkle.leavesOf(partition);
    return { partition, root: rootOf(leaves), leaves };
  });
  return Promise.resolve({ reply: { type: 'merkle_reply', trees } });
}
