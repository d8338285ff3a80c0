// sync: merge another replica's state of a key into this one's (replication,
// read repair, handoff). If a sibling this replica must keep has no body here
// and none was sent, nothing changes and the reply lists what is missing.
import { equalStates } from '../../clock/dvv.js';
import { splitBodies } from '../../protocol/codec.js';
import { BUCKETS_NS, type MessageOf } from '../../protocol/messages.js';
import type { HandlerResult } from '../../net/transport.js';
import { failpoint } from '../../runtime/failpoint.js';
import { admitWrite, targetStore, type NodeContext } from '../context.js';
import { validateKey } from '../namespace.js';
import { applyBucketRecord } from './records.js';

export async function handleSync(ctx: NodeContext, m: MessageOf<'sync'>, body: Buffer): Promise<HandlerResult> {
  validateKey(m.ns, m.key);
  return admitWrite(ctx, m.epoch, () => sync(ctx, m, body));
}

async function sync(ctx: NodeContext, m: MessageOf<'sync'>, body: Buffer): Promise<HandlerResult> {
  const parts = splitBodies(m.bodies, body);
  const bodies = new Map<string, Buffer>();
  m.bodies.forEach((ref, i) => bodies.set(ref.dot, parts[i] as Buffer));
  const hinted = m.hint !== undefined && m.hint !== ctx.identity.node;
  const { state, changed, missing } = await targetStore(ctx, m.hint).sync(m.ns, m.key, m.state, bodies);
  if (hinted) {
    if (changed) ctx.hints.mark(m.hint as string, m.ns, m.key);
  } else if (m.ns === BUCKETS_NS) {
    // Also when nothing changed here: a record whose files were written by a change that then failed
    // (a disk error half-way) is on disk but not yet in the registry.
    const known = ctx.buckets.get(m.key);
    if (changed || !known || !equalStates(known, state)) await applyBucketRecord(ctx, m.key, state);
  }
  // Tests kill a participant of a transaction here too: a transaction's version stored, not yet answered.
  if (changed && missing.length === 0 && m.state.siblings.some((x) => x.txn !== undefined)) failpoint('node.txn-apply');
  return { reply: { type: 'sync_reply', state, missing } };
}
