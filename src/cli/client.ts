// The CLI's HTTP client: any node's REST port can serve a request, so when the
// chosen endpoint does not answer, the next node of the config is tried.
import { ErrorCode, RingstoreError } from '../errors.js';

export class CliError extends Error {
  constructor(
    message: string,
    /** 1: the server said no, or no server answered; 2: usage. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export interface CallOptions {
  body?: () => Buffer | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Size of the body, for Content-Length when it is a stream. */
  length?: number;
}

export class Client {
  private current = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
    private readonly onFailover: (from: string, to: string, why: string) => void = () => undefined,
    /** Sent with every request (the login's Authorization). */
    private readonly defaultHeaders: Record<string, string> = {},
  ) {
    if (endpoints.length === 0) throw new CliError('no endpoint: give --endpoint or a nodes.json with nodes', 2);
  }

  get endpoint(): string {
    return this.endpoints[this.current] as string;
  }

  /** Send to the current endpoint; on a connection failure move to the next one. HTTP answers are returned as they are. */
  async request(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
    const tried: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const base = this.endpoint;
      try {
        const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
        if (opts.length !== undefined) headers['content-length'] = String(opts.length);
        const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' };
        if (opts.body) {
          init.body = opts.body();
          if (init.body instanceof ReadableStream) init.duplex = 'half';
        }
        return await fetch(`${base}${path}`, init);
      } catch (err) {
        const why = describe(err);
        tried.push(`${base} (${why})`);
        const next = this.endpoints[(this.current + 1) % this.endpoints.length] as string;
        if (i + 1 < this.endpoints.length) this.onFailover(base, next, why);
        this.current = (this.current + 1) % this.endpoints.length;
      }
    }
    throw new CliError(`no node answered: ${tried.join('; ')}`);
  }

  /** Request and parse a JSON answer; a non-2xx answer becomes a CliError with the server's message. */
  async json(method: string, path: string, opts: CallOptions = {}, accept: number[] = []): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError(`${this.endpoint} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok && !accept.includes(res.status)) throw serverError(res.status, body);
    return { status: res.status, body, headers: res.headers };
  }
}

export function serverError(status: number, body: any): CliError {
  const e = body?.error;
  const err = new CliError(e?.message ? `${e.message} (${status} ${e.code})` : `the server answered ${status}`);
  (err as CliError & { body?: unknown }).body = body;
  return err;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((err as Error).name === 'TimeoutError') return 'timed out';
  return (err as Error).message;
}

export function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof RingstoreError && err.code === ErrorCode.CONFIG) return new CliError(err.message, 2);
  return new CliError((err as Error).message);
}
