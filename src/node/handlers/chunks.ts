// chunk_put, chunk_get, chunk_has: the chunks of large files (storage/chunks.ts).
// A chunk is immutable and named by its hash, so none of these needs a version
// or an epoch: a put is idempotent, and a get returns the bytes or says none.
import { dotId } from '../../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import { CHUNKS_NS, type KeyState, type MessageOf } from '../../protocol/messages.js';
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
  return Promise.resolve({ reply: { type: 'chunk_has_reply', present: ctx.chunks.has(m.hashes) } });
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
