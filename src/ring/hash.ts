// The stable hash that places keys on the ring: the first 32 bits of MD5, as
// the Dynamo paper does. Stable across processes, machines and versions.
import { createHash } from 'node:crypto';

export function ringHash(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}

/** Which of q partitions a ring key falls in: its hash scaled onto [0, q). */
export function partitionOf(ringKey: string, q: number): number {
  return partitionOfHash(ringHash(ringKey), q);
}

/** Which of q partitions a hash falls in: partition i covers [i*2^32/q, (i+1)*2^32/q). */
export function partitionOfHash(hash: number, q: number): number {
  return Math.floor((hash * q) / 2 ** 32);
}

/** The ring key of a file: bucket and name, separated by a byte no bucket name has. */
export function objectKey(bucket: string, file: string): string {
  return `${bucket}/${file}`;
}

/**
 * Where a Paxos register lives on the ring: a space `<kind>:<bucket>` keeps its
 * registers with the bucket's files (a lock with the file it locks); a space
 * with no bucket is not on the ring (the membership register: every member).
 */
export function registerKey(space: string, key: string): string | null {
  const at = space.indexOf(':');
  return at < 0 ? null : objectKey(space.slice(at + 1), key);
}
