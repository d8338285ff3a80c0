// Files: upload (multipart POST or raw PUT), download with reconciliation,
// versioned delete. Concurrent versions answer 300 with their list; a write
// carrying the context of a read supersedes exactly what that read returned.
import { dotId } from '../../clock/dvv.js';
import { fetchChunk } from '../../coordinator/chunks.js';
import { checkPreconditions, deleteFile, noSuchFile as missing, putFile, readFile, tagMatches, versionBody, versionsTag, type FileRead } from '../../coordinator/files.js';
import { authorize, type BucketAccess } from '../../coordinator/access.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { Sibling } from '../../protocol/messages.js';
import { validateFileName } from '../../storage/names.js';
import { writeAnswer } from '../answers.js';
import { readMultipart, tooLarge } from '../body.js';
import { chunkNames } from '../../storage/chunks.js';
import { receiveFile, type Received } from '../upload.js';
import { decodeContext, encodeContext } from '../../clock/context-token.js';
import { CONTEXT_HEADER } from '../respond.js';
import { sendJson } from '../respond.js';
import type { Route, RouteArgs } from '../router.js';
import { lockToken, parseLockToken } from './locks.js';

/**
 * Write the version an upload brought: a small file whole, a large one as the
 * list of its chunks (stored already). The preconditions are checked after the
 * body has come, just before the version is written.
 */
async function store(args: RouteArgs, access: BucketAccess, file: string, got: Received, context: string | undefined, contentType: string | undefined, token: number | undefined): Promise<void> {
  const { cluster, res, bucket } = args;
  cluster.requireMember();
  const given = decodeContext(cluster.contextKey, context);
  const read = await checkPreconditions(cluster, bucket, file, preconditions(args), access.record);
  const body = got.kind === 'whole' ? got.body : got.list;
  const chunked = got.kind === 'chunked' ? { bytes: got.bytes, count: got.count, size: got.size, etag: got.etag } : undefined;
  const outcome = await putFile(cluster, bucket, file, body, given ?? read, contentType, token, access.record, chunked);
  sendJson(res, 200, writeAnswer(cluster, outcome, { bucket, file, size: got.size, ...(chunked ? { chunks: chunked.count } : {}) }), { 'x-context': encodeContext(cluster.contextKey, outcome.state.context) });
}

/** POST /buckets/<bucket>/files, multipart form-data: the file part's filename is the file id. */
export const uploadFormRoute: Route = async (args) => {
  // A machine that is not a member says so first (its reads of the bucket would fail for other reasons).
  args.cluster.requireMember();
  const access = await authorize(args.cluster, args.bucket, args.user, 'write');
  const limit = args.cluster.config.maxObjectBytes;
  const upload = await readMultipart(args.req, limit, (stream) => receiveFile(args.cluster, stream, limit));
  validateFileName(upload.fileName);
  const context = upload.fields.context ?? header(args, CONTEXT_HEADER);
  // The lock token in the X-Lock-Token header, or a lock_token form field.
  const token = lockToken(args) ?? parseLockToken(upload.fields.lock_token);
  await store(args, access, upload.fileName, upload.file, context, upload.contentType, token);
};

/** PUT /buckets/<bucket>/<file>: the request body is the file. */
export const putFileRoute: Route = async (args) => {
  validateFileName(args.file);
  args.cluster.requireMember();
  const access = await authorize(args.cluster, args.bucket, args.user, 'write');
  const limit = args.cluster.config.maxObjectBytes;
  const declared = Number(args.req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const got = await receiveFile(args.cluster, args.req, limit);
  await store(args, access, args.file, got, header(args, CONTEXT_HEADER), header(args, 'content-type'), lockToken(args));
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
  const head = args.req.method === 'HEAD';
  // A chunked file's body here is its chunk list; HEAD of one reads nothing more.
  const bytes = chosen.chunked && head ? Buffer.alloc(0) : await versionBody(cluster, bucket, file, read, chosen);
  const size = chosen.size;
  const headers: Record<string, string | number> = {
    'content-type': chosen.type ?? 'application/octet-stream',
    'content-length': size,
    'accept-ranges': 'bytes',
    etag,
    'content-md5': Buffer.from(chosen.etag, 'hex').toString('base64'),
    'last-modified': new Date(chosen.ts).toUTCString(),
    'x-context': context,
    'x-version': id,
    'x-siblings': String(siblings.length),
  };
  const ifRange = header(args, 'if-range');
  const range = ifRange === undefined || tagMatches(ifRange, etag) ? byteRange(header(args, 'range'), size) : null;
  if (range === 'unsatisfiable') {
    res.setHeader('content-range', `bytes */${size}`);
    throw new RingstoreError(ErrorCode.RANGE_NOT_SATISFIABLE, `${file} has ${size} bytes: the range ${header(args, 'range')} starts past its end`);
  }
  const [status, start, end] = range ? [206, range.start, range.end] : [200, 0, size - 1];
  const answer = range ? { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` } : headers;
  if (chosen.chunked && !head && size > 0) return sendChunks(args, chunkNames(bytes), chosen.chunked.bytes, start, end, status, answer);
  res.writeHead(status, answer);
  res.end(head ? undefined : range ? bytes.subarray(start, end + 1) : bytes);
};

/** Chunks fetched ahead of the one being sent, so that the next is here when the client takes it. */
const READ_AHEAD = 2;

/**
 * Send bytes [start, end] of a chunked file: its chunks in order, each fetched
 * from a live replica (READ_AHEAD ahead) and written as the client takes them,
 * so that a download holds a few chunks, never the file. The first chunk is
 * fetched before the status is sent, so that a file none of whose replicas
 * can serve it gets a clean 503; a chunk lost later cuts the response short
 * (its Content-Length then tells the client it is incomplete).
 */
async function sendChunks(args: RouteArgs, names: readonly string[], chunkBytes: number, start: number, end: number, status: number, headers: Record<string, string | number>): Promise<void> {
  const { cluster, res } = args;
  const first = Math.floor(start / chunkBytes);
  const last = Math.floor(end / chunkBytes);
  if (last >= names.length) throw new RingstoreError(ErrorCode.INTERNAL, `the chunk list of ${args.file} is shorter than its size says`);
  const fetches = new Map<number, Promise<Buffer>>();
  const fetchAt = (i: number): Promise<Buffer> => {
    let p = fetches.get(i);
    if (!p) {
      p = fetchChunk(cluster, names[i] as string);
      p.catch(() => undefined); // awaited in turn; a client gone before then must not leave it unhandled
      fetches.set(i, p);
    }
    return p;
  };
  for (let i = first; i <= last; i++) {
    for (let j = i; j <= Math.min(last, i + READ_AHEAD); j++) void fetchAt(j);
    let chunk: Buffer;
    try {
      chunk = await fetchAt(i);
    } catch (err) {
      if (i === first) throw err;
      cluster.log.warn('a download was cut short: a chunk could not be fetched', { bucket: args.bucket, file: args.file, error: (err as Error).message });
      res.destroy();
      return;
    }
    fetches.delete(i);
    if (i === first) res.writeHead(status, headers);
    const from = i === first ? start - i * chunkBytes : 0;
    const to = i === last ? end - i * chunkBytes + 1 : chunk.length;
    if (to > chunk.length) {
      cluster.log.warn('a chunk is shorter than its place in the file', { file: args.file, chunk: names[i] });
      res.destroy();
      return;
    }
    if (!res.write(chunk.subarray(from, to))) await drained(res);
    if (res.destroyed) return;
  }
  res.end();
}

/** Until the response can take more, or is gone. */
function drained(res: RouteArgs['res']): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

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
