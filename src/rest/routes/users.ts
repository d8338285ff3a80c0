// /users, /login, /logout: sign up, log in for a token, revoke it. See
// coordinator/users.ts for how users and tokens are kept in the cluster.
import { logIn, logOut, signUp, validateCredentials } from '../../coordinator/users.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import { readJsonObject } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route } from '../router.js';

const MAX_BODY = 16 * 1024;
const EXAMPLE = '{"username": "alice", "password": "correct horse"}';

/** POST /users {"username", "password"}: 201, or 409 if the name is taken. */
export const signUpRoute: Route = async ({ cluster, req, res }) => {
  const { username, password } = validateCredentials(await readJsonObject(req, MAX_BODY, EXAMPLE));
  cluster.requireMember();
  if ((await signUp(cluster, username, password)) === 'taken') {
    throw new RingstoreError(ErrorCode.USER_EXISTS, `the user name ${username} is taken`, { details: { username } });
  }
  sendJson(res, 201, { success: true, username });
};

/** POST /login {"username", "password"}: {"token", "expires_at"} (epoch milliseconds, as a lock's); 401 without saying which part was wrong. */
export const logInRoute: Route = async ({ cluster, req, res }) => {
  const body = await readJsonObject(req, MAX_BODY, EXAMPLE);
  let creds: { username: string; password: string };
  try {
    creds = validateCredentials(body);
  } catch {
    // A name or password that could never have signed up is simply wrong: no hint which.
    throw new RingstoreError(ErrorCode.UNAUTHENTICATED, 'wrong username or password');
  }
  cluster.requireMember();
  const { token, expiresAt } = await logIn(cluster, creds.username, creds.password);
  sendJson(res, 200, { success: true, username: creds.username, token, expires_at: expiresAt });
};

/** POST /logout with the token (Authorization: Bearer): revoked on every node from now on. */
export const logOutRoute: Route = async ({ cluster, res, token, user }) => {
  if (token === null || user === null) throw new RingstoreError(ErrorCode.UNAUTHENTICATED, 'send the token to revoke as Authorization: Bearer <token>');
  cluster.requireMember();
  await logOut(cluster, token);
  sendJson(res, 200, { success: true, username: user, logged_out: true });
};
