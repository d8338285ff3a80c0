// The bucket records this node holds, kept in memory: every node has every
// record, so "does this bucket exist" is answered without a disk read. A
// record is a versioned key of its own (namespace $buckets): creating a bucket
// writes a sibling naming a new incarnation uid, deleting writes a tombstone.
import type { KeyState } from '../protocol/messages.js';

export function liveUids(state: KeyState | null | undefined): Set<string> {
  const out = new Set<string>();
  for (const s of state?.siblings ?? []) if (!s.deleted && s.uid) out.add(s.uid);
  return out;
}

export class BucketRegistry {
  private readonly records = new Map<string, KeyState>();

  get(bucket: string): KeyState | undefined {
    return this.records.get(bucket);
  }

  exists(bucket: string): boolean {
    return liveUids(this.records.get(bucket)).size > 0;
  }

  /** The incarnation a new file version in this bucket belongs to. */
  currentUid(bucket: string): string | undefined {
    return [...liveUids(this.records.get(bucket))].sort()[0];
  }

  /**
   * Record a bucket's new state. Returns true when an incarnation this node
   * held has ended (deleted, or replaced by a re-creation): its files must go.
   */
  apply(bucket: string, state: KeyState): boolean {
    const before = liveUids(this.records.get(bucket));
    this.records.set(bucket, state);
    const after = liveUids(state);
    for (const uid of before) if (!after.has(uid)) return true;
    return false;
  }

  entries(): Array<{ key: string; state: KeyState }> {
    return [...this.records].map(([key, state]) => ({ key, state }));
  }
}
