// Who may do what to a bucket (issue 14). A bucket created with a token
// belongs to that user (its record's live incarnation names the owner, fixed
// for the incarnation's life) and is private; one created without a token has
// no owner and is open to all, as the original store's buckets were. The
// owner shares it with an access list: public read, and read or write per
// user. The list is a compare-and-set register per bucket, tagged with the
// incarnation it was set for, so a bucket deleted and made again by someone
// else starts private, whatever the last one's list said.
import { ErrorCode, RingstoreError } from '../errors.js';
import type { KeyState } from '../protocol/messages.js';
import { currentUid } from '../replica/records.js';
import { noSuchBucket, readBucket } from './buckets.js';
import { compareAndSet, readRegister, tooFewOwners } from './cas.js';
import type { Cluster } from './cluster.js';
import { USER_NAME } from './users.js';

export type Access = 'read' | 'write' | 'owner';

export interface Acl {
  public: 'none' | 'read';
  users: Record<string, 'read' | 'write'>;
}

const ACL_NS = '$acl';
const ACL_SPACE = 'acl:$acl';
const MAX_ACL_USERS = 1000;
const PRIVATE: Acl = { public: 'none', users: {} };

export interface BucketAccess {
  /** The live incarnation (the one writes go to). */
  uid: string;
  owner: string | null;
  /** The bucket's record as a read quorum saw it: the operation that was let in uses it, rather than read it again. */
  record: KeyState;
}

/** The bucket's live incarnation and its owner; NO_SUCH_BUCKET if it has none. */
export async function bucketOwner(c: Cluster, bucket: string): Promise<BucketAccess> {
  const record = (await readBucket(c, bucket)).merged;
  const uid = currentUid(record);
  if (uid === undefined) throw noSuchBucket(bucket);
  const creating = record.siblings.find((s) => !s.deleted && s.uid === uid);
  return { uid, owner: creating?.owner ?? null, record };
}

async function readAcl(c: Cluster, bucket: string, uid: string): Promise<Acl> {
  const r = await readRegister(c, ACL_SPACE, { ns: ACL_NS, key: bucket });
  if (r.answered < r.majority) throw tooFewOwners(`the access list of ${bucket}`, r);
  const v = r.value as (Acl & { uid?: string }) | null;
  return v && v.uid === uid ? { public: v.public, users: v.users } : PRIVATE;
}

function allows(acl: Acl, user: string | null, need: Access): boolean {
  if (need === 'owner') return false;
  if (need === 'read' && acl.public === 'read') return true;
  const granted = user === null ? undefined : acl.users[user];
  return granted === 'write' || (granted === 'read' && need === 'read');
}

function forbidden(bucket: string, user: string | null, need: Access): RingstoreError {
  const who = user === null ? 'an anonymous caller (no token)' : `user ${user}`;
  const what = { read: 'read', write: 'write to', owner: 'change the access of' }[need];
  return new RingstoreError(ErrorCode.FORBIDDEN, `bucket ${bucket} is private: ${who} may not ${what} it`, { details: { bucket, ...(user ? { user } : {}) } });
}

/**
 * Check that `user` (null: anonymous) may do `need` to the bucket: 404 if it
 * does not exist, 403 if it is someone else's and not shared so. A bucket
 * open to all allows anything to anyone. Reads nothing but the bucket record
 * for the owner and open buckets.
 */
export async function authorize(c: Cluster, bucket: string, user: string | null, need: Access): Promise<BucketAccess> {
  const b = await bucketOwner(c, bucket);
  if (b.owner === null || user === b.owner) return b;
  if (need === 'owner' || !allows(await readAcl(c, bucket, b.uid), user, need)) throw forbidden(bucket, user, need);
  return b;
}

export function parseAcl(body: unknown): Acl {
  const bad = (m: string): never => {
    throw new RingstoreError(ErrorCode.BAD_REQUEST, `an access list is {"public": "none" | "read", "users": {"<name>": "read" | "write"}}: ${m}`);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('not a JSON object');
  const b = body as { public?: unknown; users?: unknown };
  for (const k of Object.keys(b)) if (k !== 'public' && k !== 'users') bad(`unknown field ${JSON.stringify(k)}`);
  const pub = b.public ?? 'none';
  if (pub !== 'none' && pub !== 'read') bad(`public is ${JSON.stringify(pub)}`);
  const users = b.users ?? {};
  if (typeof users !== 'object' || users === null || Array.isArray(users)) return bad('users is not an object');
  const entries = Object.entries(users);
  if (entries.length > MAX_ACL_USERS) bad(`more than ${MAX_ACL_USERS} users`);
  const out: Acl['users'] = {};
  for (const [name, level] of entries) {
    if (!USER_NAME.test(name)) bad(`${JSON.stringify(name)} is not a user name`);
    if (level !== 'read' && level !== 'write') bad(`${name}: ${JSON.stringify(level)} is not "read" or "write"`);
    out[name] = level as 'read' | 'write';
  }
  return { public: pub as Acl['public'], users: out };
}

/** The access list as the owner sees it (GET /buckets/<bucket>/acl). */
export async function describeAcl(c: Cluster, bucket: string, user: string | null): Promise<{ owner: string | null; acl: Acl | null }> {
  const b = await bucketOwner(c, bucket);
  if (b.owner === null) return { owner: null, acl: null };
  if (user !== b.owner) throw forbidden(bucket, user, 'owner');
  return { owner: b.owner, acl: await readAcl(c, bucket, b.uid) };
}

/** Set the access list (owner only), for the bucket's live incarnation. */
export async function setAcl(c: Cluster, bucket: string, user: string | null, acl: Acl): Promise<{ owner: string }> {
  const b = await authorize(c, bucket, user, 'owner');
  if (b.owner === null) throw new RingstoreError(ErrorCode.FORBIDDEN, `bucket ${bucket} was created without a token: it has no owner and is open to all, so it has no access list to change`, { details: { bucket } });
  await compareAndSet(c, ACL_SPACE, { ns: ACL_NS, key: bucket }, () => ({ write: { uid: b.uid, ...acl }, result: undefined }));
  return { owner: b.owner as string };
}
