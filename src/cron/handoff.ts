// Hinted handoff (Dynamo 4.6). Each tick: every hinted replica this machine
// holds is offered to its owner, merged there by dotted version vectors (never
// overwriting anything newer), and once the owner has acknowledged, this
// machine's socket server drops the copy if it has not changed since. Then
// hinted.json is rewritten from what is left.
import { dotId } from '../clock/dvv.js';
import { HintStores } from '../node/hints.js';
import { deliverState } from '../coordinator/replicas.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { hasBody } from '../storage/store.js';
import { HINTED_JSON, writeState, type HintEntry } from './files.js';
import { peerAddress, type SchedulerContext } from './context.js';

const PARALLEL = 16;

export async function handoffRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string> {
  let delivered = 0;
  let failed = 0;
  const remaining: HintEntry[] = [];
  // Readers (no identity): only this machine's socket server writes hint stores.
  const hints = new HintStores(ctx.nodeDir, null, ctx.log, {});
  for (const owner of await hints.owners()) {
    if (!ctx.view.nodes.includes(owner)) continue;
    const store = hints.store(owner);
    const keys: Array<{ ns: string; key: string }> = [];
    for (const ns of await store.namespaces()) for (const e of await store.list(ns)) keys.push({ ns, key: e.key });
    let ownerFailed = false;
    const deliver = async (ns: string, key: string): Promise<void> => {
      const state = await store.read(ns, key);
      if (!state) return;
      if (ownerFailed || signal.aborted) {
        remaining.push(entry(owner, ns, key, state));
        return;
      }
      try {
        const bodyOf = async (dot: string): Promise<Buffer | undefined> => {
          const s = state.siblings.find((x) => dotId(x.dot) === dot);
          return s && hasBody(s) ? store.readBody(ns, key, s) : undefined;
        };
        // Small contents go with the first offer (one round trip); large ones only once the owner says it lacks them.
        const withBodies = state.siblings.filter(hasBody);
        const small = withBodies.reduce((n, s) => n + s.size, 0) <= 1024 * 1024;
        const initial = small ? withBodies.map((s) => dotId(s.dot)) : [];
        await deliverState(ctx.transport, peerAddress(ctx, owner), ctx.config.maxFrameBytes, { ns, key, state }, bodyOf, initial);
        const drop = await ctx.transport.request(peerAddress(ctx, ctx.self), { type: 'hint_drop', owner, ns, key, state });
        if (drop.reply.dropped) delivered++;
        else remaining.push(entry(owner, ns, key, (await store.read(ns, key)) ?? state));
      } catch (err) {
        // The owner is still away: keep its hints for the next tick, and do not wait on it again this tick.
        ownerFailed = true;
        failed++;
        remaining.push(entry(owner, ns, key, state));
        ctx.log.debug('handoff failed', { owner, ns, key, error: (err as Error).message });
      }
    };
    for (let i = 0; i < keys.length; i += PARALLEL) {
      await Promise.all(keys.slice(i, i + PARALLEL).map(({ ns, key }) => deliver(ns, key)));
    }
  }
  await writeState(ctx.nodeDir, HINTED_JSON, remaining);
  if (delivered > 0) ctx.log.info('hinted handoff', { delivered, remaining: remaining.length });
  return `delivered ${delivered}, remaining ${remaining.length}${failed ? `, ${failed} owner(s) unreachable` : ''}`;
}

function entry(owner: string, ns: string, key: string, state: { siblings: Array<{ dot: readonly [string, number]; ts: number }> }): HintEntry {
  const newest = state.siblings.reduce<{ dot: readonly [string, number]; ts: number } | null>((m, s) => (!m || s.ts > m.ts ? s : m), null);
  const when = newest?.ts ?? Date.now();
  return {
    owner,
    bucket: ns === BUCKETS_NS ? key : ns,
    file: ns === BUCKETS_NS ? null : key,
    version: newest ? dotId(newest.dot) : '',
    versions: state.siblings.map((s) => dotId(s.dot)),
    when: new Date(when).toISOString(),
  };
}
