// Request bodies: raw (PUT) with a size limit, or multipart form-data (POST
// .../files, Postman's "form-data" with a File field) parsed by busboy.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { ErrorCode, RingstoreError } from '../errors.js';

export function tooLarge(limit: number): RingstoreError {
  return new RingstoreError(ErrorCode.TOO_LARGE, `the file is larger than the limit of ${limit} bytes (maxObjectBytes in the config)`);
}

export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A small JSON object body (empty: {}); `example` shows the caller what was expected. */
export async function readJsonObject(req: IncomingMessage, limit: number, example: string): Promise<Record<string, unknown>> {
  const text = (await readRawBody(req, limit)).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RingstoreError(ErrorCode.BAD_REQUEST, `the body must be JSON, such as ${example}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RingstoreError(ErrorCode.BAD_REQUEST, `the body must be a JSON object, such as ${example}`);
  return body as Record<string, unknown>;
}

export interface Upload<T> {
  fileName: string;
  contentType: string | undefined;
  /** What `consume` made of the file part's bytes. */
  file: T;
  fields: Record<string, string>;
}

/**
 * A multipart form-data body (Postman's form-data) with one file part, parsed
 * by busboy. The file part's bytes go to `consume` as they arrive, never
 * gathered here; the other fields are collected (they may come before or after
 * the file part, so the caller uses them once this resolves).
 */
export function readMultipart<T>(req: IncomingMessage, limit: number, consume: (stream: Readable) => Promise<T>): Promise<Upload<T>> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { fileSize: limit, files: 2, fields: 32, fieldSize: 64 * 1024, parts: 64 },
      });
    } catch (err) {
      reject(new RingstoreError(ErrorCode.BAD_REQUEST, `expected multipart/form-data with a file part: ${(err as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let upload: Promise<Omit<Upload<T>, 'fields'>> | null = null;
    let failure: RingstoreError | null = null;
    let files = 0;
    const fail = (e: RingstoreError): void => {
      failure ??= e;
    };
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (_field, stream, info) => {
      files++;
      if (files > 1) {
        stream.resume();
        return fail(new RingstoreError(ErrorCode.BAD_REQUEST, 'send one file per request'));
      }
      const fileName = info.filename;
      if (!fileName) {
        stream.resume();
        return fail(new RingstoreError(ErrorCode.BAD_REQUEST, 'the file part has no filename: it names the file'));
      }
      stream.on('limit', () => fail(tooLarge(limit)));
      const consumed = consume(stream).then((file) => ({ fileName, contentType: info.mimeType || undefined, file }));
      // The consumer failed (a chunk could not be stored): stop parsing, and let the server answer and drain.
      consumed.catch((err: unknown) => {
        req.unpipe(bb);
        reject(err);
      });
      upload = consumed;
    });
    bb.on('filesLimit', () => fail(new RingstoreError(ErrorCode.BAD_REQUEST, 'send one file per request')));
    bb.on('error', (err: Error) => {
      fail(new RingstoreError(ErrorCode.BAD_REQUEST, `malformed multipart body: ${err.message}`));
      reject(failure);
    });
    bb.on('close', () => {
      if (failure) return reject(failure);
      if (!upload) return reject(new RingstoreError(ErrorCode.BAD_REQUEST, 'no file part in the form: add a field of type File (Postman: Body, form-data)'));
      upload.then((u) => resolve({ ...u, fields }), reject);
    });
    req.pipe(bb);
  });
}
