// Files: upload (multipart POST or raw PUT), download with reconciliation,
// versioned delete. Concurrent versions answer 300 with their list; a write
// carrying the context of a read supersedes exactly what that read returned.
import { dotId } from '../../clock/dvv.js';
import { checkPreconditions, deleteFile, noSuchFile as missing, putFile, readFile, tagMatches, versionBody, versionsTag, type FileRead } from '../../coordinator/files.js';
import { authorize, type BucketAccess } from '../../coordinator/access.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { Sibling } from '../../protocol/messages.js';
import { validateFileName } from '../../storage/names.js';
import { writeAnswer } from '../answers.js';
import { readMultipart, readRawBody } from '../body.js';
import { decodeContext, encodeContext } from '../../clock/context-token.js';
import { CONTEXT_HEADER } from '../respond.js';
import { sendJson } from '../respond.js';
import type { Route, RouteArgs } from '../router.js';
import { lockToken, parseLockToken } from './locks.js';

async function store(args: RouteArgs, access: BucketAccess, file: string, body: Buffer, context: string | undefined, contentType: string | undefined, token: number | undefined): Promise<void> {
  const { cluster, res, bucket } = args;
  cluster.requireMember();
  const given = decodeContext(cluster.contextKey, context);
  const read = await checkPreconditions(cluster, bucket, file, preconditions(args), access.record);
  const outcome = await putFile(cluster, bucket, file, body, given ?? read, contentType, token, access.record);
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, file, size: body.length }), { 'x-context': encodeContext(cluster.contextKey, outcome.state.context) });
}

/** POST /buckets/<bucket>/files, multipart form-data: the file part's filename is the file id. */
export const uploadFormRoute: Route = async (args) => {
  // A machine that is not a member says so first (its reads of the bucket would fail for other reasons).
  args.cluster.requireMember();
  const access = await authorize(args.cluster, args.bucket, args.user, 'write');
  const upload = await readMultipart(args.req, args.cluster.config.maxObjectBytes);
  const context = upload.fields.context ?? header(args, CONTEXT_HEADER);
  // The lock token in the X-Lock-Token header, or a lock_token form field.
  const token = lockToken(args) ?? parseLockToken(upload.fields.lock_token);
  await store(args, access, upload.fileName, upload.body, context, upload.contentType, token);
};

/** PUT /buckets/<bucket>/<file>: the request body is the file. */
export const putFileRoute: Route = async (args) => {
  validateFileName(args.file);
  args.cluster.requireMember();
  const access = await authorize(args.cluster, args.bucket, args.user, 'write');
  const body = await readRawBody(args.req, args.cluster.config.maxObjectBytes);
  await store(args, access, args.file, body, header(args, CONTEXT_HEADER), header(args, 'content-type'), lockToken(args));
};

function header(args: RouteArgs, name: string): string | undefined {
  const v = args.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function preconditions(args: RouteArgs): { ifMatch: string | undefined; ifNoneMatch: string | undefined } {
  return { ifMatch: header(args, 'if-match'), ifNoneMatch: header(args, 'if-none-match') };
}

function noSuchFile(args: RouteArgs): RingstoreError {
  return missing(args.bucket, args.file);
}

function describe(s: Sibling): Record<string, unknown> {
  return {
    version: dotId(s.dot),
    clock: s.clock ?? {},
    size: s.size,
    etag: s.etag,
    deleted: s.deleted === true,
    last_modified: new Date(s.ts).toISOString(),
    ...(s.type ? { content_type: s.type } : {}),
  };
}

/** GET (and HEAD) /buckets/<bucket>/<file>[?version=<id>] */
export const getFileRoute: Route = async (args) => {
  const { cluster, res, bucket, file, query } = args;
  validateFileName(file);
  const { record } = await authorize(cluster, bucket, args.user, 'read');
  const { read, siblings }: FileRead = await readFile(cluster, bucket, file, true, record);
  args.metrics.siblingsRead(siblings.filter((s) => !s.deleted).length);
  const context = encodeContext(cluster.contextKey, read.merged.context);
  const ifNoneMatch = header(args, 'if-none-match');
  const wanted = query.get('version');
  let chosen: Sibling | undefined;
  if (wanted !== null) {
    chosen = siblings.find((s) => dotId(s.dot) === wanted);
    if (!chosen || chosen.deleted) {
      if (siblings.every((s) => s.deleted)) throw noSuchFile(args);
      throw new RingstoreError(ErrorCode.NO_SUCH_VERSION, `${file} has no version ${wanted}; its versions are ${siblings.map((s) => dotId(s.dot)).join(', ')}`, {
        details: { versions: siblings.map((s) => dotId(s.dot)) },
      });
    }
  } else {
    if (siblings.length === 0 || siblings.every((s) => s.deleted)) throw noSuchFile(args);
    if (siblings.length > 1) {
      const etag = versionsTag(siblings);
      if (ifNoneMatch !== undefined && tagMatches(ifNoneMatch, etag)) return notModified(args, etag, context);
      sendJson(
        res,
        300,
        { success: true, bucket, file, message: `${file} has ${siblings.length} concurrent versions: fetch one with ?version=<id>, then write the resolution with this context`, siblings: siblings.map(describe), context },
        { 'x-context': context, etag },
      );
      return;
    }
    chosen = siblings[0] as Sibling;
  }
  const id = dotId(chosen.dot);
  // Asked for one version: that version's tag; else the tag of the whole set (here of one), which changes
  // with any write.
  const etag = versionsTag(wanted !== null ? [chosen] : siblings);
  if (ifNoneMatch !== undefined && tagMatches(ifNoneMatch, etag)) return notModified(args, etag, context, id);
  const bytes = await versionBody(cluster, bucket, file, read, chosen);
  const headers: Record<string, string | number> = {
    'content-type': chosen.type ?? 'application/octet-stream',
    'content-length': bytes.length,
    'accept-ranges': 'bytes',
    etag,
    'content-md5': Buffer.from(chosen.etag, 'hex').toString('base64'),
    'last-modified': new Date(chosen.ts).toUTCString(),
    'x-context': context,
    'x-version': id,
    'x-siblings': String(siblings.length),
  };
  const ifRange = header(args, 'if-range');
  const range = ifRange === undefined || tagMatches(ifRange, etag) ? byteRange(header(args, 'range'), bytes.length) : null;
  if (range === 'unsatisfiable') {
    res.setHeader('content-range', `bytes */${bytes.length}`);
    throw new RingstoreError(ErrorCode.RANGE_NOT_SATISFIABLE, `${file} has ${bytes.length} bytes: the range ${header(args, 'range')} starts past its end`);
  }
  if (range) {
    const part = bytes.subarray(range.start, range.end + 1);
    res.writeHead(206, { ...headers, 'content-length': part.length, 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}` });
    res.end(args.req.method === 'HEAD' ? undefined : part);
    return;
  }
  res.writeHead(200, headers);
  res.end(args.req.method === 'HEAD' ? undefined : bytes);
};

/**
 * One byte range of a Range header (RFC 9110 14.1.2: "bytes=a-b", "bytes=a-",
 * "bytes=-n"), clipped to the size; 'unsatisfiable' when it starts past the
 * end. Anything else (several ranges, another unit, a malformed one) is
 * ignored and the whole file is sent, as the RFC allows.
 */
export function byteRange(value: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (value === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** 304: the client's copy (If-None-Match) is the current one; no body. */
function notModified(args: RouteArgs, etag: string, context: string, version?: string): void {
  args.res.writeHead(304, { etag, 'x-context': context, ...(version ? { 'x-version': version } : {}) });
  args.res.end();
}

/** DELETE /buckets/<bucket>/<file>: writes a tombstone, so a stale replica cannot bring the file back. */
export const deleteFileRoute: Route = async (args) => {
  const { cluster, res, bucket, file } = args;
  cluster.requireMember();
  validateFileName(file);
  const { record } = await authorize(cluster, bucket, args.user, 'write');
  const given = decodeContext(cluster.contextKey, header(args, CONTEXT_HEADER));
  const read = await checkPreconditions(cluster, bucket, file, preconditions(args), record);
  const outcome = await deleteFile(cluster, bucket, file, given ?? read, lockToken(args), record);
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, file, deleted: true }));
};
