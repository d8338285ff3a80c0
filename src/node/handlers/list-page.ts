// list_page: a page of a bucket's keys on this node, its own replicas merged
// with the hinted copies it keeps for down owners (see replica/pages.ts).
import { sync } from '../../clock/dvv.js';
import type { HandlerResult } from '../../net/transport.js';
import type { KeyState, MessageOf } from '../../protocol/messages.js';
import { mergePages, type Page } from '../../replica/pages.js';
import { validateBucketName } from '../../storage/names.js';
import type { NodeContext } from '../context.js';

export async function handleListPage(ctx: NodeContext, m: MessageOf<'list_page'>): Promise<HandlerResult> {
  validateBucketName(m.ns);
  const q = { after: m.after, prefix: m.prefix, delimiter: m.delimiter, limit: m.limit };
  const pages: Array<Page<KeyState>> = [await ctx.store.page(m.ns, q)];
  for (const owner of new Set(ctx.hints.keysIn(m.ns).map((h) => h.owner))) pages.push(await ctx.hints.store(owner).page(m.ns, q));
  const merged = mergePages(pages, m.limit);
  const items = merged.items.map((i) => {
    if ('prefix' in i) return i;
    const incomplete = ctx.incomplete.of(m.ns, i.key);
    return { key: i.key, state: i.states.reduce((a, b) => sync(a, b) as KeyState), ...(incomplete ? { incomplete } : {}) };
  });
  return { reply: { type: 'list_page_reply', items, truncated: merged.truncated } };
}
