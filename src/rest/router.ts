// Which route a request takes. Paths keep the original store's shape:
//   /buckets/<bucket>, /buckets/<bucket>/files (multipart upload),
//   /buckets/<bucket>/<file...> (the file name is the rest of the path, decoded).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from '../coordinator/cluster.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import { validateBucketName } from '../storage/names.js';
import { createBucketRoute, deleteBucketRoute, getAclRoute, listBucketsRoute, listFilesRoute, putAclRoute } from './routes/buckets.js';
import { clusterRoute, healthRoute } from './routes/cluster.js';
import { deleteFileRoute, getFileRoute, putFileRoute, uploadFormRoute } from './routes/files.js';
import { acquireLockRoute, describeLockRoute, releaseLockRoute, renewLockRoute } from './routes/locks.js';
import { joinMemberRoute, layoutRoute, leaveMemberRoute } from './routes/members.js';
import { metricsRoute } from './routes/metrics.js';
import { uiAssetRoute, uiOverviewRoute } from './routes/ui.js';
import { commitRoute, readRoute } from './routes/transactions.js';
import { logInRoute, logOutRoute, signUpRoute } from './routes/users.js';
import type { Metrics } from './metrics.js';

export interface RouteArgs {
  cluster: Cluster;
  metrics: Metrics;
  req: IncomingMessage;
  res: ServerResponse;
  bucket: string;
  file: string;
  query: URLSearchParams;
  /** The user whose token the request carries (null: anonymous). */
  user: string | null;
  /** That token (for logout). */
  token: string | null;
}

export type Route = (args: RouteArgs) => Promise<void>;

type Table = Partial<Record<string, Route>>;

const tables = {
  health: { GET: healthRoute },
  users: { POST: signUpRoute },
  login: { POST: logInRoute },
  logout: { POST: logOutRoute },
  acl: { GET: getAclRoute, PUT: putAclRoute },
  cluster: { GET: clusterRoute },
  members: { POST: joinMemberRoute },
  layout: { GET: layoutRoute },
  member: { DELETE: leaveMemberRoute },
  buckets: { GET: listBucketsRoute },
  bucket: { GET: listFilesRoute, POST: createBucketRoute, PUT: createBucketRoute, DELETE: deleteBucketRoute },
  upload: { POST: uploadFormRoute },
  file: { GET: getFileRoute, HEAD: getFileRoute, PUT: putFileRoute, DELETE: deleteFileRoute },
  lock: { POST: acquireLockRoute, PUT: renewLockRoute, DELETE: releaseLockRoute, GET: describeLockRoute },
  metrics: { GET: metricsRoute },
  transactions: { POST: commitRoute },
  transactionsRead: { POST: readRoute },
  ui: { GET: uiAssetRoute, HEAD: uiAssetRoute },
  uiOverview: { GET: uiOverviewRoute },
} satisfies Record<string, Table>;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RingstoreError(ErrorCode.BAD_REQUEST, `the ${what} in the path is not valid percent-encoded UTF-8`);
  }
}

export interface Match {
  route: Route;
  /** The route's pattern, for metrics: /buckets/:bucket/:file rather than each file's path. */
  name: string;
  bucket: string;
  file: string;
  query: URLSearchParams;
  /** Served without a token even when the config requires one (sign-up, login, /health). */
  anonymous: boolean;
}

/** What a cluster whose config says auth.required still serves to a caller without a token. */
const ANONYMOUS = new Set(['POST /users', 'POST /login', 'GET /health']);

export function match(method: string, url: string): Match {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  let table: Table;
  let name = path;
  let bucket = '';
  let file = '';
  if (path === '/health') table = tables.health;
  else if (path === '/users') table = tables.users;
  else if (path === '/login') table = tables.login;
  else if (path === '/logout') table = tables.logout;
  else if (path === '/cluster') table = tables.cluster;
  else if (path === '/cluster/members' || path === '/cluster/members/') table = tables.members;
  else if (path === '/cluster/layout') table = tables.layout;
  else if (path.startsWith('/cluster/members/')) {
    table = tables.member;
    name = '/cluster/members/:id';
    file = decode(path.slice('/cluster/members/'.length), 'member id');
  }
  else if (path === '/metrics') table = tables.metrics;
  else if (path === '/transactions') table = tables.transactions;
  else if (path === '/transactions/read') table = tables.transactionsRead;
  else if (path === '/ui/api/overview') table = tables.uiOverview;
  else if (path === '/ui' || path.startsWith('/ui/')) {
    table = tables.ui;
    name = '/ui';
    file = path.slice('/ui/'.length);
  } else if (path === '/buckets' || path === '/buckets/') {
    table = tables.buckets;
    name = '/buckets';
  } else if (path.startsWith('/buckets/')) {
    const rest = path.slice('/buckets/'.length);
    const slash = rest.indexOf('/');
    bucket = decode(slash < 0 ? rest : rest.slice(0, slash), 'bucket name');
    const rawFile = slash < 0 ? '' : rest.slice(slash + 1);
    validateBucketName(bucket);
    if (rawFile === '') {
      table = tables.bucket;
      name = '/buckets/:bucket';
    } else if (rawFile === 'acl') {
      // The bucket's access list (a file called "acl" is reached as %61cl).
      table = tables.acl;
      name = '/buckets/:bucket/acl';
    } else if (rawFile.endsWith('/lock') && rawFile.length > '/lock'.length) {
      // <file>/lock is the file's lock (a file whose name ends in "/lock" is reached with the slash as %2F).
      file = decode(rawFile.slice(0, -'/lock'.length), 'file name');
      table = tables.lock;
      name = '/buckets/:bucket/:file/lock';
    } else {
      file = decode(rawFile, 'file name');
      // POST .../files is the original's upload; any other method on it addresses a file called "files".
      const upload = rawFile === 'files' && method === 'POST';
      table = upload ? tables.upload : tables.file;
      name = upload ? '/buckets/:bucket/files' : '/buckets/:bucket/:file';
    }
  } else {
    throw new RingstoreError(ErrorCode.NOT_FOUND, `no such endpoint: ${path.slice(0, 200)}`);
  }
  const route = table[method];
  if (!route) {
    throw new RingstoreError(ErrorCode.METHOD_NOT_ALLOWED, `${method} is not supported here; use ${Object.keys(table).join(', ')}`, {
      details: { allow: Object.keys(table) },
    });
  }
  return { route, name, bucket, file, query, anonymous: ANONYMOUS.has(`${method} ${name}`) };
}
