// What a bucket or file may be called, and how a file name becomes a path on
// disk. Bucket names follow S3's rules, so they are safe folder names as they
// are; file names are arbitrary UTF-8 and are never used as paths: a file is
// stored under the SHA-256 of its name, which cannot traverse.
import { createHash } from 'node:crypto';
import { ErrorCode, RingstoreError } from '../errors.js';

export const MAX_FILE_NAME_BYTES = 1024;

const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The reason a bucket name is refused, or null when it is valid. */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'bucket names are 3 to 63 characters long';
  if (!BUCKET_CHARS.test(name)) {
    return 'bucket names use only lowercase letters, digits, dots and hyphens, and begin and end with a letter or digit';
  }
  if (name.includes('..')) return 'bucket names must not contain two adjacent dots';
  if (IPV4.test(name)) return 'bucket names must not look like an IP address';
  return null;
}

export function validateBucketName(name: string): string {
  const problem = bucketNameProblem(name);
  if (problem) throw new RingstoreError(ErrorCode.INVALID_BUCKET_NAME, `invalid bucket name ${JSON.stringify(name)}: ${problem}`);
  return name;
}

export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'file names must not be empty';
  if (!name.isWellFormed()) return 'file names must be valid UTF-8';
  if (name.includes('\0')) return 'file names must not contain NUL';
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `file names are at most ${MAX_FILE_NAME_BYTES} bytes of UTF-8`;
  return null;
}

export function validateFileName(name: string): string {
  const problem = fileNameProblem(name);
  if (problem) {
    const shown = name.length > 80 ? `${JSON.stringify(name.slice(0, 80))}…` : JSON.stringify(name);
    throw new RingstoreError(ErrorCode.INVALID_FILE_NAME, `invalid file name ${shown}: ${problem}`);
  }
  return name;
}

/** The on-disk stem of a file: hex SHA-256 of its UTF-8 name. */
export function fileStem(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex');
}
