// list: every key of a namespace this node holds, with its state: its own
// replicas merged with the hinted copies it keeps for down owners.
import { sync } from '../../clock/dvv.js';
import { BUCKETS_NS, type KeyState, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { validateBucketName } from '../../storage/names.js';
import type { NodeContext } from '../context.js';

export async function handleList(ctx: NodeContext, m: MessageOf<'list'>): Promise<HandlerResult> {
  if (m.ns === BUCKETS_NS) return { reply: { type: 'list_reply', entries: ctx.buckets.entries() } };
  validateBucketName(m.ns);
  const byKey = new Map<string, KeyState>();
  for (const e of await ctx.store.list(m.ns)) byKey.set(e.key, e.state);
  for (const { owner, key } of ctx.hints.keysIn(m.ns)) {
    const state = await ctx.hints.store(owner).read(m.ns, key);
    if (!state) continue;
    const cur = byKey.get(key);
    byKey.set(key, cur ? (sync(cur, state) as KeyState) : state);
  }
  return { reply: { type: 'list_reply', entries: [...byKey].map(([key, state]) => ({ key, state })) } };
}
