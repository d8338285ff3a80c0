// /buckets and /buckets/<bucket>: create, delete and list buckets, list a bucket's files.
import { createBucket, deleteBucket, listBuckets } from '../../coordinator/buckets.js';
import { listFiles } from '../../coordinator/listing.js';
import { writeAnswer } from '../answers.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

export const listBucketsRoute: Route = async ({ cluster, res }) => {
  sendJson(res, 200, { success: true, buckets: await listBuckets(cluster) });
};

export const createBucketRoute: Route = async ({ cluster, res, bucket }) => {
  const { created, outcome } = await createBucket(cluster, bucket);
  if (!outcome) {
    sendJson(res, 200, { success: true, coordinator: cluster.self, bucket, created: false, message: `bucket ${bucket} already exists` });
    return;
  }
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, created }));
};

export const deleteBucketRoute: Route = async ({ cluster, res, bucket }) => {
  const outcome = await deleteBucket(cluster, bucket);
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, deleted: true }));
};

export const listFilesRoute: Route = async ({ cluster, res, bucket }) => {
  const files = await listFiles(cluster, bucket);
  sendJson(res, 200, { success: true, bucket, count: files.length, files });
};
