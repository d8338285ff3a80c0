// Hinted handoff (Dynamo 4.6). Each tick: every hinted replica this machine's
// socket server holds (asked a page at a time with `hints`) is offered to its
// owner, merged there by dotted version vectors (never overwriting anything
// newer), and once the owner has acknowledged, the socket server drops the
// copy if it has not changed since (`hint_drop`). Then hinted.json is
// rewritten from what is left.
import { dotId } from '../clock/dvv.js';
import { BUCKETS_NS, CHUNKS_NS, bodyLength, type KeyState } from '../protocol/messages.js';
import { collectBodies, deliverState } from '../replica/deliver.js';
import { hasBody } from '../storage/layout.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';
import { HINTED_JSON, writeState, type HintEntry } from './files.js';
import { peerAddress, type SchedulerContext } from './context.js';

const PAGE = 256;
const PARALLEL = 16;
/** Contents up to this size go with the first offer (one round trip); larger ones once the owner says it lacks them. */
const EAGER_BYTES = 1024 * 1024;

interface Hinted {
  owner: string;
  ns: string;
  key: string;
  state: KeyState;
}

export async function handoffRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string> {
  let delivered = 0;
  let failed = 0;
  const remaining: HintEntry[] = [];
  const unreachable = new Set<string>();
  const self = peerAddress(ctx, ctx.self);

  const deliver = async (h: Hinted): Promise<void> => {
    if (unreachable.has(h.owner) || signal.aborted) return void remaining.push(entry(ctx, h));
    try {
      // Bodies come from the hinted copy held for this owner, through our socket server.
      const bodies = new Map<string, Buffer>();
      const fetch = async (want: 'all' | string[]): Promise<void> => {
        const { reply, body } = await ctx.transport.request(self, { type: 'read', ns: h.ns, key: h.key, bodies: want, hint: h.owner });
        for (const [d, b] of collectBodies(reply.bodies, body)) bodies.set(d, b);
      };
      const bodyOf = async (dot: string): Promise<Buffer | undefined> => {
        if (!bodies.has(dot)) await fetch([dot]);
        return bodies.get(dot);
      };
      const withBodies = h.state.siblings.filter(hasBody);
      const eager = withBodies.reduce((n, s) => n + bodyLength(s), 0) <= EAGER_BYTES;
      if (eager && withBodies.length > 0) await fetch('all');
      const initial = eager ? withBodies.map((s) => dotId(s.dot)) : [];
      // A hint for a machine that has left goes to the key's owners in the newest layout instead.
      const to = targets(ctx, h);
      if (to === null) throw new Error(`${h.owner} is not a member as far as this node knows yet`);
      for (const target of to) {
        await deliverState(ctx.transport, peerAddress(ctx, target), ctx.config.maxFrameBytes, { ns: h.ns, key: h.key, state: h.state }, bodyOf, initial);
      }
      const drop = await ctx.transport.request(self, { type: 'hint_drop', owner: h.owner, ns: h.ns, key: h.key, state: h.state });
      if (drop.reply.dropped) {
        delivered++;
        ctx.counters.hintsDelivered++;
      }
      else remaining.push(entry(ctx, h)); // written again since it was listed: the next tick delivers that too
    } catch (err) {
      // The owner is still away: keep its hints for the next tick, and do not wait on it again this tick.
      unreachable.add(h.owner);
      failed++;
      remaining.push(entry(ctx, h));
      ctx.log.debug('handoff failed', { owner: h.owner, ns: h.ns, key: h.key, error: (err as Error).message });
    }
  };

  let after: string | undefined;
  do {
    const { reply } = await ctx.transport.request(self, { type: 'hints', limit: PAGE, ...(after !== undefined ? { after } : {}) });
    const page = reply.entries;
    for (let i = 0; i < page.length; i += PARALLEL) await Promise.all(page.slice(i, i + PARALLEL).map(deliver));
    after = reply.next ?? undefined;
  } while (after !== undefined);
  const unwritten = await writeState(ctx, HINTED_JSON, remaining);
  const chunks = await handoffChunks(ctx, signal, unreachable);
  if (delivered > 0 || chunks.delivered > 0) ctx.log.info('hinted handoff', { delivered, remaining: remaining.length, chunksDelivered: chunks.delivered, chunksRemaining: chunks.remaining });
  const ofChunks = chunks.delivered + chunks.remaining > 0 ? `; chunks delivered ${chunks.delivered}, remaining ${chunks.remaining}` : '';
  return `delivered ${delivered}, remaining ${remaining.length}${failed ? `, ${failed} owner(s) unreachable` : ''}${ofChunks}${unwritten ? `; ${unwritten}` : ''}`;
}

/**
 * The chunks of large files kept here for an owner that was down: each is
 * read from this machine's socket server and put on its owner (or, if the
 * owner has left, on the chunk's owners now), then the hint is dropped (and
 * the copy, unless this node owns the chunk). A chunk never changes, so there
 * is nothing to merge and a chunk delivered twice is one file.
 */
async function handoffChunks(ctx: SchedulerContext, signal: AbortSignal, unreachable: Set<string>): Promise<{ delivered: number; remaining: number }> {
  const self = peerAddress(ctx, ctx.self);
  let delivered = 0;
  let remaining = 0;
  let after: string | undefined;
  do {
    const { reply } = await ctx.transport.request(self, { type: 'chunk_hints', limit: PAGE, ...(after !== undefined ? { after } : {}) });
    for (const { owner, hash } of reply.entries) {
      const to = unreachable.has(owner) || signal.aborted ? null : targets(ctx, { owner, ns: CHUNKS_NS, key: hash });
      if (to === null) {
        remaining++;
        continue;
      }
      try {
        const got = await ctx.transport.request(self, { type: 'chunk_get', hash });
        if (got.reply.size !== null) for (const target of to) await ctx.transport.request(peerAddress(ctx, target), { type: 'chunk_put', hash, size: got.body.length }, [got.body]);
        // A hint whose chunk is gone (removed by hand) has nothing left to deliver: dropped too.
        await ctx.transport.request(self, { type: 'chunk_hint_drop', owner, hash });
        delivered++;
      } catch (err) {
        unreachable.add(owner);
        remaining++;
        ctx.log.debug('chunk handoff failed', { owner, hash, error: (err as Error).message });
      }
    }
    after = reply.next ?? undefined;
  } while (after !== undefined);
  return { delivered, remaining };
}

/**
 * Where a hinted copy goes: its owner; or, when the owner is no longer a member, the key's owners now
 * (bucket records: every member has them already, by bucket-sync). An owner missing from this node's
 * record may also have joined in an epoch this node has not heard of yet (a scheduler restarts from the
 * record on disk): it is taken to have left only once every member's heartbeat is in and none tells of a
 * newer epoch; until then null (kept for a later tick). The simulator found a joiner's hint given to the
 * old owners, and so never to the joiner, by a scheduler just restarted (seed 671 of a variant).
 */
function targets(ctx: SchedulerContext, h: Pick<Hinted, 'owner' | 'ns' | 'key'>): string[] | null {
  const m = ctx.env.membership;
  if (m.has(h.owner)) return [h.owner];
  if (!ctx.view.caughtUp(m.epoch)) return null;
  if (h.ns === BUCKETS_NS) return [];
  const newest = m.layouts.at(-1);
  if (!newest) return [];
  return new Ring({ version: newest.epoch, replicas: newest.replicas }).preferenceList(objectKey(h.ns, h.key));
}

function entry(ctx: SchedulerContext, h: Hinted): HintEntry {
  const newest = h.state.siblings.reduce<{ dot: readonly [string, number]; ts: number } | null>((m, s) => (!m || s.ts > m.ts ? s : m), null);
  const when = newest?.ts ?? ctx.rt.clock.now();
  return {
    owner: h.owner,
    bucket: h.ns === BUCKETS_NS ? h.key : h.ns,
    file: h.ns === BUCKETS_NS ? null : h.key,
    version: newest ? dotId(newest.dot) : '',
    versions: h.state.siblings.map((s) => dotId(s.dot)),
    when: new Date(when).toISOString(),
  };
}
