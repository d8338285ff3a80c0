// /cluster/members: add a machine to the cluster (POST {"id", "host", "port",
// "restPort"}) or remove one (DELETE /cluster/members/<id>), on any member's
// REST port. Both answer 202 with the new epoch once it is agreed: partitions
// then move in the background, which GET /cluster shows (transfers, settled).
import { changeMembership, type Change } from '../../coordinator/membership.js';
import { ErrorCode, RingstoreError } from '../../errors.js';
import type { MemberSpec, MembershipRecord } from '../../ring/membership.js';
import { readRawBody } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route, RouteArgs } from '../router.js';

const MAX_BODY = 16 * 1024;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A host name or an IPv4/IPv6 address, as nodes.json takes it. */
const HOST = /^[A-Za-z0-9.:_-]{1,255}$/;

function bad(message: string): RingstoreError {
  return new RingstoreError(ErrorCode.BAD_REQUEST, message);
}

function port(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw bad(`"${name}" must be a port number (1-65535), not ${JSON.stringify(v)}`);
  return v;
}

/** The member a join names, checked field by field so that the error says which is wrong. */
export function parseMember(body: unknown): MemberSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('send a JSON object: {"id", "host", "port", "restPort"}');
  const b = body as Record<string, unknown>;
  if (typeof b.id !== 'string' || !NODE_ID.test(b.id)) throw bad(`"id" must be a node id (letters, digits, _ and -, at most 64), not ${JSON.stringify(b.id)}`);
  if (typeof b.host !== 'string' || !HOST.test(b.host)) throw bad(`"host" must be a host name or address, not ${JSON.stringify(b.host)}`);
  const p = port(b.port, 'port');
  const rp = port(b.restPort ?? b.rest_port, 'restPort');
  if (p === rp) throw bad('"port" and "restPort" must differ');
  const unknown = Object.keys(b).filter((k) => !['id', 'host', 'port', 'restPort', 'rest_port'].includes(k));
  if (unknown.length > 0) throw bad(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  return { id: b.id, host: b.host, port: p, restPort: rp };
}

async function answer(args: RouteArgs, change: Change): Promise<void> {
  const record = await changeMembership(args.cluster, change);
  sendJson(args.res, 202, { success: true, epoch: record.epoch, members: record.members.map((m) => m.id), change: 'join' in change ? { join: change.join.id } : change, ...summary(record) });
}

function summary(record: MembershipRecord): { settled: boolean } {
  return { settled: record.layouts.length === 1 };
}

export const joinMemberRoute: Route = async (args) => {
  const raw = await readRawBody(args.req, MAX_BODY);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad('the body is not JSON: send {"id", "host", "port", "restPort"}');
  }
  await answer(args, { join: parseMember(body) });
};

export const leaveMemberRoute: Route = async (args) => {
  const id = args.file;
  if (!NODE_ID.test(id)) throw bad(`not a node id: ${JSON.stringify(id.slice(0, 80))}`);
  await answer(args, { leave: id });
};

/** GET /cluster/layout: the newest layout (which members hold each partition's replicas) and the live ones. */
export const layoutRoute: Route = async ({ cluster, res }) => {
  await cluster.health.current();
  const rec = cluster.membership.record;
  const newest = rec.layouts.at(-1) as MembershipRecord['layouts'][number];
  sendJson(res, 200, {
    success: true,
    epoch: rec.epoch,
    live_layouts: rec.layouts.map((l) => l.epoch),
    layout: { partitions: rec.partitions, n: rec.n, members: rec.members.map((m) => m.id).sort(), replicas: newest.replicas },
  });
};
