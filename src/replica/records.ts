// Bucket records (namespace $buckets), held by every node. A record's live
// siblings are the bucket's current incarnations; each one's uid is the id of
// the version that created it (its dot), so any node can tell, from a record
// state alone, whether an incarnation has ended: its dot is covered by the
// record's context but no live sibling carries it. File versions carry the uid
// of the incarnation they were written in; those of an ended incarnation are
// hidden from reads and purged from disk. An incarnation a node has not heard
// of is never treated as ended.
import { covers, parseDotId } from '../clock/dvv.js';
import type { KeyState } from '../protocol/messages.js';

export function liveUids(state: KeyState | null | undefined): Set<string> {
  const out = new Set<string>();
  for (const s of state?.siblings ?? []) if (!s.deleted && s.uid) out.add(s.uid);
  return out;
}

/** The incarnation new writes go to when a record names several (concurrent creates): the least uid. */
export function currentUid(state: KeyState | null | undefined): string | undefined {
  return [...liveUids(state)].sort()[0];
}

/** Whether incarnation `uid` of a bucket is known to have ended, by this record state. */
export function incarnationEnded(state: KeyState | null | undefined, uid: string | undefined): boolean {
  if (!uid || !state) return false;
  if (liveUids(state).has(uid)) return false;
  const dot = parseDotId(uid);
  // Incarnation ids are dots; anything else is from an older store: ended if the record no longer names it.
  return dot ? covers(state.context, dot) : true;
}

/**
 * The versions a reader may see: not of an ended incarnation of the bucket,
 * and one version per client write (a mint retried after a timeout can store
 * the same write twice, under two dots; the context still covers both).
 */
export function visible<S extends { uid?: string | undefined; wid?: string | undefined }>(record: KeyState | null | undefined, siblings: readonly S[]): S[] {
  const seen = new Set<string>();
  return siblings.filter((s) => {
    if (incarnationEnded(record, s.uid)) return false;
    if (!s.wid) return true;
    if (seen.has(s.wid)) return false;
    seen.add(s.wid);
    return true;
  });
}
