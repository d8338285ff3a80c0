// chunk_put, chunk_get, chunk_has: the chunks of large files (storage/chunks.ts).
// A chunk is immutable and named by its hash, so none of these needs a version
// or an epoch: a put is idempotent, and a get returns the bytes or says none.
import { dotId } from '../../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import { CHUNKS_NS, type KeyState, type MessageOf } from '../../protocol/messages.js';
import { hasChunks } from '../../replica/chunked-files.js';
import { chunkNames } from '../../storage/chunks.js';
import type { Store } from '../../storage/store.js';
import { ownsInLiveLayout, type NodeContext } from '../context.js';

export async function handleChunkPut(ctx: NodeContext, m: MessageOf<'chunk_put'>, body: Buffer): Promise<HandlerResult> {
  if (body.length !== m.size) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `chunk_put: ${body.length} bytes came, the message says ${m.size}`);
  await ctx.chunks.put(m.hash, body, m.hint);
  ctx.disk.wrote();
  return { reply: { type: 'chunk_put_reply' } };
}

export async function handleChunkGet(ctx: NodeContext, m: MessageOf<'chunk_get'>): Promise<HandlerResult> {
  const bytes = await ctx.chunks.get(m.hash);
  return bytes ? { reply: { type: 'chunk_get_reply', size: bytes.length }, bodies: [bytes] } : { reply: { type: 'chunk_get_reply', size: null } };
}

export function handleChunkHas(ctx: NodeContext, m: MessageOf<'chunk_has'>): Promise<HandlerResult> {
  return Promise.resolve({ reply: { type: 'chunk_has_reply', present: ctx.chunks.has(m.hashes, m.touch === true) } });
}

export async function handleChunkHints(ctx: NodeContext, m: MessageOf<'chunk_hints'>): Promise<HandlerResult> {
  const { entries, next } = await ctx.chunks.hintPage(m.after, m.limit);
  return { reply: { type: 'chunk_hints_reply', entries, next } };
}

/** The owner has the chunk: the hint goes, and the copy with it unless this node owns the chunk in a live layout. */
export async function handleChunkHintDrop(ctx: NodeContext, m: MessageOf<'chunk_hint_drop'>): Promise<HandlerResult> {
  const removed = await ctx.chunks.dropHint(m.owner, m.hash, () => ownsInLiveLayout(ctx, CHUNKS_NS, m.hash));
  return { reply: { type: 'chunk_hint_drop_reply', removed } };
}

export async function handleChunkedFiles(ctx: NodeContext, m: MessageOf<'chunked_files'>): Promise<HandlerResult> {
  const { keys, next } = ctx.chunkedFiles.page(m.after, m.limit);
  const entries: Array<{ ns: string; key: string; state: KeyState }> = [];
  for (const [ns, key] of keys) {
    const state = ctx.store.peek(ns, key);
    if (state) entries.push({ ns, key, state });
  }
  return { reply: { type: 'chunked_files_reply', entries, next } };
}

export async function handleChunkReport(ctx: NodeContext, m: MessageOf<'chunk_report'>): Promise<HandlerResult> {
  const current = (ctx.store.peek(m.ns, m.key)?.siblings ?? []).map((s) => dotId(s.dot));
  await ctx.incomplete.report(m.ns, m.key, m.dot, m.complete, current);
  return { reply: { type: 'chunk_report_reply' } };
}

export async function handleChunkGcCandidates(ctx: NodeContext, m: MessageOf<'chunk_gc_candidates'>): Promise<HandlerResult> {
  return { reply: { type: 'chunk_gc_candidates_reply', hashes: await ctx.chunks.candidates(m.graceMs, m.limit) } };
}

/**
 * Which of the chunks any version held here names: a live version in chunks of
 * this node's store or of the hinted copies it keeps. Reads the chunk list of
 * every such version (the large files only).
 */
export async function handleChunkRefs(ctx: NodeContext, m: MessageOf<'chunk_refs'>): Promise<HandlerResult> {
  // The index of chunked files is complete only once the start-up walk has read every key: until then an
  // answer could miss a reference, and a chunk in use would be collected.
  if (!ctx.merkle.ready) throw new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${ctx.identity.node} is still reading its keys after a start (${ctx.merkle.progress} so far): it cannot yet say which chunks are in use`);
  const wanted = new Set(m.hashes);
  const named = new Set<string>();
  const scan = async (store: Store, ns: string, key: string, state: KeyState | null): Promise<void> => {
    for (const s of state?.siblings ?? []) {
      if (!s.chunked || s.deleted) continue;
      for (const h of chunkNames(await store.readBody(ns, key, s))) if (wanted.has(h)) named.add(h);
    }
  };
  let after: [string, string] | undefined;
  do {
    const { keys, next } = ctx.chunkedFiles.page(after, 1000);
    for (const [ns, key] of keys) await scan(ctx.store, ns, key, ctx.store.peek(ns, key));
    after = next ?? undefined;
  } while (after);
  let cursor: string | undefined;
  do {
    const { entries, next } = await ctx.hints.page(cursor, 1000);
    for (const e of entries) if (hasChunks(e.state)) await scan(ctx.hints.store(e.owner), e.ns, e.key, e.state);
    cursor = next ?? undefined;
  } while (cursor);
  return { reply: { type: 'chunk_refs_reply', referenced: m.hashes.map((h) => named.has(h)) } };
}

export async function handleChunkCollect(ctx: NodeContext, m: MessageOf<'chunk_collect'>): Promise<HandlerResult> {
  return { reply: { type: 'chunk_collect_reply', removed: await ctx.chunks.collect(m.hashes, m.graceMs) } };
}
