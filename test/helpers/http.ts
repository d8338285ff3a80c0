// Small REST client helpers for tests: the calls a user makes with curl or Postman.
export interface JsonAnswer {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(method: string, url: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<JsonAnswer> {
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
