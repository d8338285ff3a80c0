// /buckets and /buckets/<bucket>: create, delete and list buckets, list a bucket's files.
import { authorize, describeAcl, parseAcl, setAcl } from '../../coordinator/access.js';
import { createBucket, deleteBucket, listBuckets } from '../../coordinator/buckets.js';
import { DEFAULT_PAGE, MAX_PAGE, listFiles, type ListQuery } from '../../coordinator/listing.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { writeAnswer } from '../answers.js';
import { readJsonObject } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

/** GET /buckets: the buckets open to all and those the caller owns (others' private buckets are not named). */
export const listBucketsRoute: Route = async ({ cluster, res, user }) => {
  const buckets = (await listBuckets(cluster)).filter((b) => b.owner === null || b.owner === user);
  sendJson(res, 200, { success: true, buckets });
};

/** POST or PUT /buckets/<bucket>: created, owned by the caller if it sent a token (private), else open to all. */
export const createBucketRoute: Route = async ({ cluster, res, bucket, user }) => {
  cluster.requireMember();
  const { created, outcome } = await createBucket(cluster, bucket, user);
  if (!outcome) {
    sendJson(res, 200, { success: true, coordinator: cluster.self, bucket, created: false, message: `bucket ${bucket} already exists` });
    return;
  }
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, created, owner: user }));
};

/** DELETE /buckets/<bucket>: by its owner (anyone for a bucket open to all). */
export const deleteBucketRoute: Route = async ({ cluster, res, bucket, user }) => {
  cluster.requireMember();
  await authorize(cluster, bucket, user, 'owner');
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
export const listFilesRoute: Route = async ({ cluster, res, bucket, query, user }) => {
  const q = listQuery(query);
  const { record } = await authorize(cluster, bucket, user, 'read');
  const page = await listFiles(cluster, bucket, q, record);
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

/** GET /buckets/<bucket>/acl: the owner and the access list (the owner only; a bucket open to all has neither). */
export const getAclRoute: Route = async ({ cluster, res, bucket, user }) => {
  const { owner, acl } = await describeAcl(cluster, bucket, user);
  sendJson(res, 200, { success: true, bucket, owner, open: owner === null, ...(acl ?? {}) });
};

/** PUT /buckets/<bucket>/acl {"public": "none" | "read", "users": {"<name>": "read" | "write"}}: the owner shares the bucket. */
export const putAclRoute: Route = async ({ cluster, req, res, bucket, user }) => {
  const acl = parseAcl(await readJsonObject(req, 256 * 1024, '{"public": "read", "users": {"bob": "write"}}'));
  cluster.requireMember();
  const { owner } = await setAcl(cluster, bucket, user, acl);
  sendJson(res, 200, { success: true, bucket, owner, ...acl });
};
