// Which (namespace, key) pairs a node accepts: a file in a valid bucket, or a
// bucket record under $buckets. Checked before any path is built from them.
import { BUCKETS_NS } from '../protocol/messages.js';
import { validateBucketName, validateFileName } from '../storage/names.js';

export function validateKey(ns: string, key: string): void {
  if (ns === BUCKETS_NS) {
    validateBucketName(key);
  } else {
    validateBucketName(ns);
    validateFileName(key);
  }
}
