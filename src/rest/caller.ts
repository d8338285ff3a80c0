// Who is calling: the user of the request's token (Authorization: Bearer), or
// nobody. A token that is wrong, expired or revoked is a 401 wherever it is
// sent, never a silent fall back to anonymous; no token at all is anonymous,
// unless the config says auth.required (then only sign-up, login and /health
// answer without one).
import type { IncomingMessage } from 'node:http';
import type { Cluster } from '../coordinator/cluster.js';
import { userOfToken } from '../coordinator/users.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Match } from './router.js';

export function unauthenticated(): RingstoreError {
  return new RingstoreError(ErrorCode.UNAUTHENTICATED, 'this cluster requires a token: log in (POST /login) and send it as Authorization: Bearer <token>');
}

export async function caller(cluster: Cluster, req: IncomingMessage, m: Match): Promise<{ user: string | null; token: string | null }> {
  // Sign-up, login and /health take no identity: a stale token sent with them is no reason to refuse.
  if (m.anonymous) return { user: null, token: null };
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === '') {
    if (cluster.config.auth.required) throw unauthenticated();
    return { user: null, token: null };
  }
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (!bearer) throw new RingstoreError(ErrorCode.UNAUTHENTICATED, 'the Authorization header must be Bearer <token> (from POST /login)');
  const token = bearer[1] as string;
  return { user: await userOfToken(cluster, token), token };
}
