// read: this node's state of one key, with the bodies asked for. The state is
// its own replica merged with any hinted copy it holds for a down owner, so a
// read through the extended preference list finds data written under a hint.
// A coordinator asks one replica for bodies and the others for state only.
import { dotId, sameDot, sync } from '../../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { bodyBudget } from '../../protocol/codec.js';
import { bodyLength, type BodyRef, type KeyState, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { hasBody, type Store } from '../../storage/store.js';
import type { NodeContext } from '../context.js';
import { validateKey } from '../namespace.js';

interface Copy {
  store: Store;
  state: KeyState;
}

export async function handleRead(ctx: NodeContext, m: MessageOf<'read'>): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  for (let attempt = 0; ; attempt++) {
    const copies = m.hint ? await hintedCopy(ctx, m.hint, m.ns, m.key) : await readCopies(ctx, m.ns, m.key);
    const state = copies.reduce<KeyState | null>((acc, c) => (acc ? (sync(acc, c.state) as KeyState) : c.state), null);
    try {
      const { refs, bodies } = await loadBodies(m, state, copies, bodyBudget(ctx.config.maxFrameBytes));
      return { reply: { type: 'read_reply', state, bodies: refs }, bodies };
    } catch (err) {
      // A concurrent write dropped a sibling between reading the manifest and its blob: read again.
      if (attempt < 2 && err instanceof RingstoreError && err.code === ErrorCode.NO_SUCH_VERSION) continue;
      throw err;
    }
  }
}

export async function readCopies(ctx: NodeContext, ns: string, key: string): Promise<Copy[]> {
  const copies: Copy[] = [];
  const own = await ctx.store.read(ns, key);
  if (own) copies.push({ store: ctx.store, state: own });
  for (const owner of ctx.hints.holders(ns, key)) {
    const store = ctx.hints.store(owner);
    const state = await store.read(ns, key);
    if (state) copies.push({ store, state });
  }
  return copies;
}

/** Only the copy held for one owner: what hinted handoff delivers to it. */
async function hintedCopy(ctx: NodeContext, owner: string, ns: string, key: string): Promise<Copy[]> {
  if (!ctx.hints.holders(ns, key).includes(owner)) return [];
  const store = ctx.hints.store(owner);
  const state = await store.read(ns, key);
  return state ? [{ store, state }] : [];
}

/** The bodies asked for, as many as fit in one frame (the coordinator asks again for the rest). */
async function loadBodies(m: MessageOf<'read'>, state: KeyState | null, copies: Copy[], budget: number): Promise<{ refs: BodyRef[]; bodies: Buffer[] }> {
  const refs: BodyRef[] = [];
  const bodies: Buffer[] = [];
  if (!state || m.bodies === 'none') return { refs, bodies };
  const wanted = m.bodies === 'all' ? null : new Set(m.bodies);
  let total = 0;
  for (const s of state.siblings) {
    const id = dotId(s.dot);
    if (!hasBody(s) || (wanted && !wanted.has(id))) continue;
    if (total + bodyLength(s) > budget && refs.length > 0) break;
    total += bodyLength(s);
    const copy = copies.find((c) => c.state.siblings.some((o) => sameDot(o.dot, s.dot)));
    if (!copy) continue;
    const b = await copy.store.readBody(m.ns, m.key, s);
    refs.push({ dot: id, size: b.length });
    bodies.push(b);
  }
  return { refs, bodies };
}
