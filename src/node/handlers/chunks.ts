// chunk_put, chunk_get, chunk_has: the chunks of large files (storage/chunks.ts).
// A chunk is immutable and named by its hash, so none of these needs a version
// or an epoch: a put is idempotent, and a get returns the bytes or says none.
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { HandlerResult } from '../../net/transport.js';
import type { MessageOf } from '../../protocol/messages.js';
import type { NodeContext } from '../context.js';

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
