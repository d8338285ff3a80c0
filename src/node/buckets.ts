// The bucket records a node holds, in memory (see ../replica/records.ts for
// what a record means).
import type { KeyState } from '../protocol/messages.js';
import { currentUid, liveUids } from '../replica/records.js';

export class BucketRegistry {
  private readonly records = new Map<string, KeyState>();

  get(bucket: string): KeyState | undefined {
    return this.records.get(bucket);
  }

  exists(bucket: string): boolean {
    return liveUids(this.records.get(bucket)).size > 0;
  }

  isLive(bucket: string, uid: string): boolean {
    return liveUids(this.records.get(bucket)).has(uid);
  }

  /** The incarnation a new file version in this bucket belongs to, when the coordinator does not say. */
  currentUid(bucket: string): string | undefined {
    return currentUid(this.records.get(bucket));
  }

  set(bucket: string, state: KeyState): void {
    this.records.set(bucket, state);
  }

  entries(): Array<{ key: string; state: KeyState }> {
    return [...this.records].map(([key, state]) => ({ key, state }));
  }
}
