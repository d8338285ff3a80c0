// /buckets/<bucket>/<file>/lock: take (POST), renew (PUT), release (DELETE)
// and look at (GET) a file's lock. See coordinator/locks.ts for the leases,
// fencing tokens and the FIFO queue.
import { authorize } from '../../coordinator/access.js';
import { acquireLock, DEFAULT_TTL_MS, describeLock, MAX_TTL_MS, MAX_WAIT_MS, releaseLock, renewLock, type Grant } from '../../coordinator/locks.js';
import { ErrorCode, RingstoreError, asRingstoreError } from '../../errors.js';
import { validateFileName } from '../../storage/names.js';
import { readJsonObject } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route, RouteArgs } from '../router.js';

export const LOCK_TOKEN_HEADER = 'x-lock-token';
const MAX_BODY = 16 * 1024;

/** The lock token a request carries (X-Lock-Token), if any. */
export function lockToken(args: Pick<RouteArgs, 'req'>): number | undefined {
  const raw = args.req.headers[LOCK_TOKEN_HEADER];
  return parseLockToken(Array.isArray(raw) ? raw[0] : raw);
}

export function parseLockToken(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(v.trim())) throw new RingstoreError(ErrorCode.BAD_REQUEST, `X-Lock-Token must be a fencing token (a positive integer), not ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v.trim());
}

function requireToken(args: RouteArgs): number {
  const t = lockToken(args);
  if (t === undefined) throw new RingstoreError(ErrorCode.BAD_REQUEST, 'send the fencing token of the grant in X-Lock-Token');
  return t;
}

/** ttl_ms and wait_ms, from a JSON body or the query string. */
async function lockOptions(args: RouteArgs): Promise<{ ttlMs?: number; waitMs?: number }> {
  const body = await readJsonObject(args.req, MAX_BODY, '{"ttl_ms": 30000, "wait_ms": 5000}');
  const pick = (name: string, min: number, max: number): number | undefined => {
    const v = body[name] ?? args.query.get(name) ?? undefined;
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new RingstoreError(ErrorCode.BAD_REQUEST, `${name} must be an integer number of milliseconds from ${min} to ${max}`);
    }
    return n;
  };
  return { ttlMs: pick('ttl_ms', 1, MAX_TTL_MS), waitMs: pick('wait_ms', 0, MAX_WAIT_MS) };
}

function granted(args: RouteArgs, g: Grant, extra: Record<string, unknown> = {}): void {
  sendJson(args.res, 200, {
    success: true,
    coordinator: args.cluster.self,
    bucket: args.bucket,
    file: args.file,
    fencing_token: g.fencing,
    expires_at: g.expiresAt,
    ttl_ms: g.ttlMs,
    ...extra,
  });
}

/** POST …/lock {"ttl_ms", "wait_ms"}: 200 with the grant, or 409 with the place in the queue when wait_ms ran out. */
export const acquireLockRoute: Route = async (args) => {
  const { cluster, bucket, file, req, res } = args;
  validateFileName(file);
  const opts = await lockOptions(args);
  await authorize(cluster, bucket, args.user, 'write');
  // The client that stops waiting (closes the connection) leaves the queue.
  let gone = false;
  res.on('close', () => (gone = !res.writableFinished));
  req.on('aborted', () => (gone = true));
  try {
    granted(args, await acquireLock(cluster, bucket, file, { ttlMs: opts.ttlMs ?? DEFAULT_TTL_MS, waitMs: opts.waitMs ?? 0 }, () => gone));
  } catch (err) {
    const e = asRingstoreError(err);
    const position = e.code === ErrorCode.CONFLICT ? e.details?.queue_position : undefined;
    if (typeof position !== 'number') throw err;
    sendJson(res, 409, { success: false, error: { code: e.code, message: e.message }, queue_position: position });
  }
};

/** PUT …/lock with X-Lock-Token [{"ttl_ms"}]: the holder extends its lease. */
export const renewLockRoute: Route = async (args) => {
  validateFileName(args.file);
  const token = requireToken(args);
  const opts = await lockOptions(args);
  await authorize(args.cluster, args.bucket, args.user, 'write');
  granted(args, await renewLock(args.cluster, args.bucket, args.file, token, opts.ttlMs), { renewed: true });
};

/** DELETE …/lock with X-Lock-Token: the holder lets go; the first waiter gets the lock at once. */
export const releaseLockRoute: Route = async (args) => {
  validateFileName(args.file);
  const token = requireToken(args);
  await authorize(args.cluster, args.bucket, args.user, 'write');
  const { next } = await releaseLock(args.cluster, args.bucket, args.file, token);
  sendJson(args.res, 200, { success: true, coordinator: args.cluster.self, bucket: args.bucket, file: args.file, released: true, handed_over: next !== null });
};

/** GET …/lock: whether the file is locked, until when, and how many wait. */
export const describeLockRoute: Route = async (args) => {
  validateFileName(args.file);
  await authorize(args.cluster, args.bucket, args.user, 'read');
  sendJson(args.res, 200, { success: true, bucket: args.bucket, file: args.file, ...(await describeLock(args.cluster, args.bucket, args.file)) });
};
