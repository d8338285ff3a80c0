// The file operations as a client sees them, whatever carries the request (the
// REST app, the simulator's clients): write a file, read it seen through its
// bucket's record, fetch a version's bytes, delete it with a tombstone.
import { createHash } from 'node:crypto';
import { dotId } from '../clock/dvv.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import { bodyLength, type KeyState, type Sibling, type VersionVectorWire } from '../protocol/messages.js';
import { liveUids, visible } from '../replica/records.js';
import { validateFileName } from '../storage/names.js';
import { noSuchBucket, readBucket, repairBucketRecord } from './buckets.js';
import type { Cluster } from './cluster.js';
import { checkLock } from './locks.js';
import { holdersOf, readQuorum, type QuorumRead } from './read.js';
import { fetchBodies } from './replicas.js';
import { writeKey, type ChunkedFile, type WriteOutcome } from './write.js';

/**
 * Write a file's new version; with a context it supersedes exactly what that
 * context saw. A locked file takes it only with the holder's token.
 */
export async function putFile(c: Cluster, bucket: string, file: string, body: Buffer, context: VersionVectorWire | null, contentType?: string, lockToken?: number, bucketRecord?: KeyState, chunked?: ChunkedFile): Promise<WriteOutcome> {
  validateFileName(file);
  await checkLock(c, bucket, file, lockToken);
  return writeKey(c, { ns: bucket, key: file, context, deleted: false, body, contentType, bucketRecord, chunked }, repairBucketRecord(c));
}

export interface FileRead {
  read: QuorumRead;
  /** The versions a reader may see: none of an ended incarnation of the bucket, one per client write. */
  siblings: Sibling[];
}

/**
 * A file's state at read quorum, seen through its bucket's record (read in
 * parallel, unless the caller has it): versions of an ended incarnation of the
 * bucket are not shown, and a bucket that does not exist is an error of its own.
 */
export async function readFile(c: Cluster, bucket: string, file: string, bodies: boolean, bucketRecord?: KeyState, strict = false): Promise<FileRead> {
  validateFileName(file);
  const [read, record] = await Promise.all([readQuorum(c, bucket, file, { bodies, strict }), bucketRecord ?? readBucket(c, bucket).then((r) => r.merged)]);
  if (liveUids(record).size === 0) throw noSuchBucket(bucket);
  return { read, siblings: visible(record, read.merged.siblings) };
}

/** The bytes of one version found by readFile: from the read, else from a replica that holds it. */
export async function versionBody(c: Cluster, bucket: string, file: string, read: QuorumRead, version: Sibling): Promise<Buffer> {
  if (bodyLength(version) === 0) return Buffer.alloc(0);
  const id = dotId(version.dot);
  const body = read.bodies.get(id) ?? (await fetchBodies(c, bucket, file, [id], holdersOf(read.answers, id))).get(id);
  if (body === undefined) throw new RingstoreError(ErrorCode.QUORUM_NOT_REACHED, `no replica that answered could return the content of ${file}`);
  return body;
}

export function noSuchFile(bucket: string, file: string): RingstoreError {
  return new RingstoreError(ErrorCode.NO_SUCH_FILE, `file ${file} does not exist in bucket ${bucket}`, { details: { bucket, file } });
}

/** Delete with a tombstone (so a stale replica cannot bring the file back); without a context, of what a quorum sees. */
export async function deleteFile(c: Cluster, bucket: string, file: string, context: VersionVectorWire | null, lockToken?: number, bucketRecord?: KeyState): Promise<WriteOutcome> {
  validateFileName(file);
  await checkLock(c, bucket, file, lockToken);
  if (context === null) {
    const { read, siblings } = await readFile(c, bucket, file, false, bucketRecord);
    if (siblings.every((s) => s.deleted)) throw noSuchFile(bucket, file);
    context = read.merged.context;
  }
  return writeKey(c, { ns: bucket, key: file, context, deleted: true, body: Buffer.alloc(0), bucketRecord }, repairBucketRecord(c));
}

/**
 * A file's entity tag (HTTP's ETag): a digest of the set of versions a reader
 * sees, not of the bytes, so that every write or delete changes it, a rewrite
 * of the same bytes included. For one version (a GET of ?version=<id>) it is
 * that version's own tag, which never changes.
 */
export function versionsTag(siblings: readonly Sibling[]): string {
  const ids = siblings.map((s) => `${dotId(s.dot)}${s.deleted ? '-' : ''}`).sort();
  return `"${createHash('sha256').update(ids.join(',')).digest('base64url').slice(0, 27)}"`;
}

/**
 * Whether an If-Match or If-None-Match header names this tag: `*` names any
 * existing file (tag not null); weak tags (W/"…") compare by their opaque part.
 */
export function tagMatches(header: string, tag: string | null): boolean {
  if (tag === null) return false;
  const given = header.split(',').map((t) => t.trim().replace(/^W\//, ''));
  return given.some((t) => t === '*' || t === tag);
}

/**
 * The preconditions of a write (If-Match, If-None-Match), checked against the
 * file as a read quorum sees it now. Throws PRECONDITION_FAILED when one does
 * not hold; else the context of that read, so that the write supersedes
 * exactly the versions the client's tag named (a write that gets in between
 * becomes a sibling, it is not lost).
 */
export async function checkPreconditions(c: Cluster, bucket: string, file: string, pre: { ifMatch?: string | undefined; ifNoneMatch?: string | undefined }, bucketRecord?: KeyState): Promise<VersionVectorWire | null> {
  if (pre.ifMatch === undefined && pre.ifNoneMatch === undefined) return null;
  const { read, siblings } = await readFile(c, bucket, file, false, bucketRecord);
  const exists = siblings.some((s) => !s.deleted);
  const tag = exists ? versionsTag(siblings) : null;
  if (pre.ifMatch !== undefined && !tagMatches(pre.ifMatch, tag)) {
    throw new RingstoreError(ErrorCode.PRECONDITION_FAILED, exists ? `${file} changed since the version the client names (If-Match ${pre.ifMatch}; now ${tag})` : `${file} does not exist (If-Match ${pre.ifMatch})`, {
      details: { bucket, file, etag: tag },
    });
  }
  if (pre.ifNoneMatch !== undefined && tagMatches(pre.ifNoneMatch, tag)) {
    throw new RingstoreError(ErrorCode.PRECONDITION_FAILED, pre.ifNoneMatch.trim() === '*' ? `${file} exists already (If-None-Match *)` : `${file} is still the version the client names (If-None-Match ${pre.ifNoneMatch})`, {
      details: { bucket, file, etag: tag },
    });
  }
  return read.merged.context;
}
