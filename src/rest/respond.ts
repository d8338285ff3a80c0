// Writing HTTP answers. Errors become {"success": false, "error": {code, message}}
// here and nowhere else, with the status their code maps to.
import type { ServerResponse } from 'node:http';
import { asRingstoreError } from '../errors.js';

/** The header that carries a causal context both ways (the form field is `context`). */
export const CONTEXT_HEADER = 'x-context';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): number {
  const e = asRingstoreError(err);
  const status = e.status;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const error: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.details) Object.assign(error, e.details);
  const headers: Record<string, string> = {};
  if (status === 503) headers['retry-after'] = '1';
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="ringstore"';
  sendJson(res, status, { success: false, error }, headers);
  return status;
}
