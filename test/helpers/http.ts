import http from 'node:http';
// Small REST client helpers for tests: the calls a user makes with curl or Postman.
export interface JsonAnswer {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(method: string, url: string, body?: string | Buffer | FormData, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const res = await fetch(url, { method, body: body ?? null, headers, redirect: 'manual' });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

/** Upload as Postman does: multipart form-data with a File field whose filename names the file. */
export function upload(base: string, bucket: string, name: string, content: string | Buffer, fields: Record<string, string> = {}): Promise<JsonAnswer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([content]), name);
  return call('POST', `${base}/buckets/${bucket}/files`, form);
}

export function put(base: string, bucket: string, name: string, content: string | Buffer, context?: string): Promise<JsonAnswer> {
  return call('PUT', `${base}/buckets/${bucket}/${encodeURIComponent(name)}`, content, context ? { 'x-context': context } : {});
}

export async function get(base: string, bucket: string, name: string, query = ''): Promise<{ status: number; headers: Headers; body: Buffer; json: any }> {
  const res = await fetch(`${base}/buckets/${bucket}/${encodeURIComponent(name)}${query}`, { redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  let json: unknown = null;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) json = JSON.parse(body.toString('utf8'));
  return { status: res.status, headers: res.headers, body, json };
}

/** A request with the path sent exactly as given (fetch would normalise '..' and '%2e%2e'). */
export function rawRequest(base: string, method: string, path: string, body?: string | Buffer): Promise<JsonAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
