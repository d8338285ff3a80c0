// Users and their login tokens (issue 14), kept in the cluster itself: each
// user and each token is a compare-and-set register (cas.ts, Paxos among the
// N owners of its key), so any node can check them while one is down, and two
// sign-ups of one name race for one register: exactly one wins.
//  - A user's register holds its scrypt hash and salt, never the password.
//  - A token is 32 random bytes given to the client once; its register is
//    named by the token's SHA-256, so what the disks hold cannot be used to
//    log in. It holds the user and the expiry; a logout marks it revoked.
// Checking a token reads its register from a majority of owners (paxos_read,
// which writes nothing), so a logout answered on one node holds on every node
// from then on.
import { createHash, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ErrorCode, RingstoreError } from '../errors.js';
import { compareAndSet, readRegister, tooFewOwners } from './cas.js';
import type { Cluster } from './cluster.js';

export const USERS_NS = '$users';
export const TOKENS_NS = '$tokens';
const USER_SPACE = 'user:$users';
const TOKEN_SPACE = 'token:$tokens';

/** scrypt's cost: 2^15 x 8 x 128 bytes = 32 MiB of memory per hash (OWASP's minimum is 2^17 at r=8 with p=1, or this N with p=3). */
export const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

interface UserRecord {
  name: string;
  salt: string;
  hash: string;
  scrypt: { N: number; r: number; p: number; keylen: number };
  created: number;
}

interface TokenRecord {
  user: string;
  issued: number;
  expires: number;
  revoked?: number;
}

function scrypt(password: string, salt: Buffer, params: UserRecord['scrypt']): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM };
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, params.keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export function validateCredentials(body: unknown): { username: string; password: string } {
  const b = (body ?? {}) as { username?: unknown; password?: unknown };
  if (typeof b.username !== 'string' || !USER_NAME.test(b.username)) {
    throw new RingstoreError(ErrorCode.INVALID_USER_NAME, 'a username is 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit');
  }
  const length = typeof b.password === 'string' ? [...b.password].length : 0;
  if (typeof b.password !== 'string' || length < MIN_PASSWORD || length > MAX_PASSWORD) {
    throw new RingstoreError(ErrorCode.INVALID_PASSWORD, `a password is a string of ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  }
  return { username: b.username, password: b.password };
}

async function readUser(c: Cluster, name: string): Promise<UserRecord | null> {
  const r = await readRegister(c, USER_SPACE, { ns: USERS_NS, key: name });
  if (r.answered < r.majority) throw tooFewOwners(`user ${name}`, r);
  return isUser(r.value) ? r.value : null;
}

function isUser(v: unknown): v is UserRecord {
  return typeof v === 'object' && v !== null && typeof (v as UserRecord).hash === 'string' && typeof (v as UserRecord).salt === 'string';
}

/** Sign up: 'created', or 'taken' when the name has a user (one that won the same race included). */
export async function signUp(c: Cluster, username: string, password: string): Promise<'created' | 'taken'> {
  // A name already taken is refused from a read, which changes nothing on any disk.
  if ((await readUser(c, username)) !== null) return 'taken';
  const salt = c.rt.random.bytes(16);
  const hash = await scrypt(password, salt, SCRYPT);
  const record: UserRecord = { name: username, salt: salt.toString('base64'), hash: hash.toString('base64'), scrypt: { ...SCRYPT }, created: c.rt.clock.now() };
  return compareAndSet(c, USER_SPACE, { ns: USERS_NS, key: username }, (current) => (current !== null ? { result: 'taken' as const } : { write: record, result: 'created' as const }));
}

/** A password checked against a user's record; a missing user costs the same scrypt, so time does not tell the two apart. */
async function passwordMatches(user: UserRecord | null, password: string): Promise<boolean> {
  const params = user?.scrypt ?? SCRYPT;
  const salt = user ? Buffer.from(user.salt, 'base64') : Buffer.alloc(16);
  const key = await scrypt(password, salt, params);
  if (!user) return false;
  const want = Buffer.from(user.hash, 'base64');
  return want.length === key.length && timingSafeEqual(want, key);
}

const tokenKey = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

function badLogin(): RingstoreError {
  return new RingstoreError(ErrorCode.UNAUTHENTICATED, 'wrong username or password');
}

/** Log in: a new token for the user, valid for auth.tokenTtlMs. */
export async function logIn(c: Cluster, username: string, password: string): Promise<{ token: string; expiresAt: number }> {
  const user = await readUser(c, username);
  if (!(await passwordMatches(user, password))) throw badLogin();
  const token = `rst_${c.rt.random.bytes(32).toString('base64url')}`;
  const now = c.rt.clock.now();
  const record: TokenRecord = { user: username, issued: now, expires: now + c.config.auth.tokenTtlMs };
  await compareAndSet(c, TOKEN_SPACE, { ns: TOKENS_NS, key: tokenKey(token) }, (current) => {
    if (current !== null) throw new RingstoreError(ErrorCode.INTERNAL, 'a fresh token collided with an issued one');
    return { write: record, result: undefined };
  });
  return { token, expiresAt: record.expires };
}

function isToken(v: unknown): v is TokenRecord {
  return typeof v === 'object' && v !== null && typeof (v as TokenRecord).user === 'string' && typeof (v as TokenRecord).expires === 'number';
}

function refused(why: 'unknown' | 'expired' | 'revoked'): RingstoreError {
  const message = { unknown: 'the token is not one this cluster issued', expired: 'the token has expired: log in again', revoked: 'the token was revoked (logged out): log in again' }[why];
  return new RingstoreError(ErrorCode.UNAUTHENTICATED, message, { details: { reason: why } });
}

const TOKEN_SHAPE = /^rst_[A-Za-z0-9_-]{43}$/;

/** The user a token stands for, checked against its register at a majority of owners; 401 if it does not stand for one now. */
export async function userOfToken(c: Cluster, token: string): Promise<string> {
  if (!TOKEN_SHAPE.test(token)) throw refused('unknown');
  const r = await readRegister(c, TOKEN_SPACE, { ns: TOKENS_NS, key: tokenKey(token) });
  if (r.answered < r.majority) throw tooFewOwners('the token', r);
  if (!isToken(r.value)) throw refused('unknown');
  if (r.value.revoked !== undefined) throw refused('revoked');
  if (r.value.expires <= c.rt.clock.now()) throw refused('expired');
  return r.value.user;
}

/** Log out: the token is revoked on every node from the moment this answers. */
export async function logOut(c: Cluster, token: string): Promise<void> {
  if (!TOKEN_SHAPE.test(token)) throw refused('unknown');
  const now = c.rt.clock.now();
  await compareAndSet(c, TOKEN_SPACE, { ns: TOKENS_NS, key: tokenKey(token) }, (current) => {
    if (!isToken(current)) throw refused('unknown');
    if (current.revoked !== undefined) return { result: undefined };
    if (current.expires <= now) throw refused('expired');
    return { write: { ...current, revoked: now }, result: undefined };
  });
}
