// POST /transactions: several files written all or nothing; POST
// /transactions/read: files read so that a committed transaction is seen whole
// or not at all. The protocol is in coordinator/transactions.ts and
// docs/transactions.md.
import { dotId } from '../../clock/dvv.js';
import { decodeContext, encodeContext } from '../../clock/context-token.js';
import { authorize } from '../../coordinator/access.js';
import { commitTransaction, readAtomic, type AtomicFile, type FileRef, type TxnOp } from '../../coordinator/transactions.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { validateBucketName } from '../../storage/names.js';
import { writeAnswer } from '../answers.js';
import { readJsonObject } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

const bad = (message: string): RingstoreError => new RingstoreError(ErrorCode.BAD_REQUEST, message);

function fileRef(x: unknown, where: string): FileRef {
  const o = x as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw bad(`${where} must be an object with "bucket" and "file"`);
  if (typeof o.bucket !== 'string' || typeof o.file !== 'string') throw bad(`${where} needs "bucket" and "file" (strings)`);
  validateBucketName(o.bucket);
  return { bucket: o.bucket, file: o.file };
}

function parseOp(x: unknown, i: number, contextKey: Buffer): TxnOp {
  const where = `ops[${i}]`;
  const ref = fileRef(x, where);
  const o = x as Record<string, unknown>;
  if (o.op !== 'put' && o.op !== 'delete') throw bad(`${where}.op must be "put" or "delete"`);
  let content = Buffer.alloc(0);
  if (o.op === 'put') {
    if (typeof o.content_base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.content_base64) || o.content_base64.length % 4 !== 0) {
      throw bad(`${where}.content_base64 must be the file's bytes in base64`);
    }
    content = Buffer.from(o.content_base64, 'base64');
  }
  if (o.context !== undefined && o.context !== null && typeof o.context !== 'string') throw bad(`${where}.context must be the context string a read returned`);
  return { op: o.op, ...ref, content, context: decodeContext(contextKey, (o.context as string | null | undefined) ?? null) };
}

/** POST /transactions {"ops": [...]}: 200 with each file's write answer, 409 TXN_CONFLICT with nothing written. */
export const commitRoute: Route = async (args) => {
  const { cluster, req, res } = args;
  const t = cluster.config.transactions;
  // Base64 is 4/3 of the bytes; names, contexts and JSON take the rest.
  const body = await readJsonObject(req, Math.ceil((t.maxBytes * 4) / 3) + t.maxFiles * 4096 + 4096, '{"ops": [{"op": "put", "bucket": "b", "file": "f", "content_base64": "aGk="}]}');
  if (!Array.isArray(body.ops)) throw bad('the body needs "ops": a list of {"op": "put" | "delete", "bucket", "file", "content_base64", "context"?}');
  const ops = body.ops.map((x, i) => parseOp(x, i, cluster.contextKey));
  for (const b of new Set(ops.map((o) => o.bucket))) await authorize(cluster, b, args.user, 'write');
  const done = await commitTransaction(cluster, ops);
  const pending = done.results.filter((r) => !r.outcome).map((r) => ({ bucket: r.bucket, file: r.file }));
  sendJson(res, 200, {
    success: true,
    coordinator: cluster.self,
    txn: done.txn,
    // In the order the client gave its ops.
    results: ops.map((o) => {
      const r = done.results.find((x) => x.bucket === o.bucket && x.file === o.file);
      return r?.outcome ? { op: o.op, ...writeAnswer(cluster, r.outcome, { bucket: o.bucket, file: o.file }) } : { op: o.op, bucket: o.bucket, file: o.file, pending: true };
    }),
    // Committed, but not yet written to W replicas: recovery writes them from their intents.
    ...(pending.length ? { pending } : {}),
  });
};

function describe(cluster: Parameters<Route>[0]['cluster'], f: AtomicFile): Record<string, unknown> {
  const live = f.versions.filter((v) => !v.deleted);
  const one = (v: AtomicFile['versions'][number]): Record<string, unknown> => ({
    version: v.sibling ? dotId(v.sibling.dot) : null,
    content_base64: v.body.toString('base64'),
    txn: v.txn,
  });
  return {
    bucket: f.bucket,
    file: f.file,
    exists: live.length > 0,
    ...(live.length === 1 ? one(live[0] as AtomicFile['versions'][number]) : {}),
    ...(live.length > 1 ? { siblings: live.map(one) } : {}),
    context: encodeContext(cluster.contextKey, f.read.read.merged.context),
  };
}

/** POST /transactions/read {"files": [{"bucket", "file"}]}: the files, read atomically. */
export const readRoute: Route = async (args) => {
  const { cluster, req, res } = args;
  const body = await readJsonObject(req, cluster.config.transactions.maxFiles * 4096 + 4096, '{"files": [{"bucket": "b", "file": "f"}]}');
  if (!Array.isArray(body.files) || body.files.length === 0) throw bad('the body needs "files": a list of {"bucket", "file"}');
  if (body.files.length > cluster.config.transactions.maxFiles) throw new RingstoreError(ErrorCode.TOO_LARGE, `a read-atomic read takes at most ${cluster.config.transactions.maxFiles} files`);
  const refs = body.files.map((x, i) => fileRef(x, `files[${i}]`));
  for (const b of new Set(refs.map((r) => r.bucket))) await authorize(cluster, b, args.user, 'read');
  const files = await readAtomic(cluster, refs);
  sendJson(res, 200, { success: true, coordinator: cluster.self, files: files.map((f) => describe(cluster, f)) });
};
