// read: this replica's state of one key, with the bodies asked for. A coordinator
// asks one replica for bodies and the others for their state only (digests).
import { dotId } from '../../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { BodyRef, KeyState, MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { hasBody } from '../../storage/store.js';
import type { NodeContext } from '../context.js';
import { validateKey } from '../namespace.js';

export async function handleRead(ctx: NodeContext, m: MessageOf<'read'>): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  for (let attempt = 0; ; attempt++) {
    const state = await ctx.store.read(m.ns, m.key);
    try {
      const { refs, bodies } = await loadBodies(ctx, m, state);
      return { reply: { type: 'read_reply', state, bodies: refs }, bodies };
    } catch (err) {
      // A concurrent write dropped a sibling between reading the manifest and its blob: read again.
      if (attempt < 2 && err instanceof RingstoreError && err.code === ErrorCode.NO_SUCH_VERSION) continue;
      throw err;
    }
  }
}

async function loadBodies(ctx: NodeContext, m: MessageOf<'read'>, state: KeyState | null): Promise<{ refs: BodyRef[]; bodies: Buffer[] }> {
  const refs: BodyRef[] = [];
  const bodies: Buffer[] = [];
  if (!state || m.bodies === 'none') return { refs, bodies };
  const wanted = m.bodies === 'all' ? null : new Set(m.bodies);
  for (const s of state.siblings) {
    const id = dotId(s.dot);
    if (!hasBody(s) || (wanted && !wanted.has(id))) continue;
    const b = await ctx.store.readBody(m.ns, m.key, s);
    refs.push({ dot: id, size: b.length });
    bodies.push(b);
  }
  return { refs, bodies };
}
