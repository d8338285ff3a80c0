// /buckets and /buckets/<bucket>: create, delete and list buckets, list a bucket's files.
import { createBucket, deleteBucket, listBuckets } from '../../coordinator/buckets.js';
import { DEFAULT_PAGE, MAX_PAGE, listFiles, type ListQuery } from '../../coordinator/listing.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { writeAnswer } from '../answers.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

export const listBucketsRoute: Route = async ({ cluster, res }) => {
  sendJson(res, 200, { success: true, buckets: await listBuckets(cluster) });
};

export const createBucketRoute: Route = async ({ cluster, res, bucket }) => {
  cluster.requireMember();
  const { created, outcome } = await createBucket(cluster, bucket);
  if (!outcome) {
    sendJson(res, 200, { success: true, coordinator: cluster.self, bucket, created: false, message: `bucket ${bucket} already exists` });
    return;
  }
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, created }));
};

export const deleteBucketRoute: Route = async ({ cluster, res, bucket }) => {
  cluster.requireMember();
  const outcome = await deleteBucket(cluster, bucket);
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, deleted: true }));
};

/**
 * GET /buckets/<bucket>[?limit=&after=&prefix=&delimiter=]: a page of its files
 * in byte order of their names (1000 by default, at most 10,000), each with its
 * size, etag, last modification, sibling count and clock; with a delimiter, the
 * common prefixes of the names beyond it. `next` is what to pass as `after`
 * for the next page (null after the last).
 */
export const listFilesRoute: Route = async ({ cluster, res, bucket, query }) => {
  const page = await listFiles(cluster, bucket, listQuery(query));
  sendJson(res, 200, {
    success: true,
    bucket,
    count: page.files.length,
    files: page.files,
    common_prefixes: page.prefixes,
    prefixes: page.prefixes,
    next: page.next,
    truncated: page.truncated,
  });
};

function listQuery(query: URLSearchParams): ListQuery {
  const raw = query.get('limit');
  const limit = raw === null || raw === '' ? DEFAULT_PAGE : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new RingstoreError(ErrorCode.BAD_REQUEST, `limit must be a whole number from 1 to ${MAX_PAGE} (got ${JSON.stringify(raw)})`, { details: { limit: raw } });
  }
  const text = (name: string, max: number): string | undefined => {
    const v = query.get(name);
    if (v === null || v === '') return undefined;
    if (Buffer.byteLength(v) > max) throw new RingstoreError(ErrorCode.BAD_REQUEST, `${name} is longer than ${max} bytes`);
    return v;
  };
  return { limit, after: text('after', 4096), prefix: text('prefix', 4096), delimiter: text('delimiter', 256) };
}
