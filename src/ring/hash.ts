// The stable hash that places keys on the ring: the first 32 bits of MD5, as
// the Dynamo paper does. Stable across processes, machines and versions.
import { createHash } from 'node:crypto';

export function ringHash(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}

/** The ring key of a file: bucket and name, separated by a byte no bucket name has. */
export function objectKey(bucket: string, file: string): string {
  return `${bucket}/${file}`;
}
