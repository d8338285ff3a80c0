// A page of a bucket's files. Each file lives on N of the nodes, so every node
// is asked for its page (list_page: a range scan of its name index) and the
// pages are merged (replica/pages.ts); (nodes - N + R) answers give every file
// at least R of its replicas, so a page is an R-quorum read like any other:
// each file's states are merged by version, its stale replicas among those
// that answered are repaired, and a listing works with a node down.
import { dotId, equalStates } from '../clock/dvv.js';
import type { KeyState } from '../protocol/messages.js';
import { mergePages } from '../replica/pages.js';
import { liveUids, visible } from '../replica/records.js';
import { noSuchBucket, readBucket } from './buckets.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';
import { mergeStates, quorumError, readRepair } from './read.js';
import { listPageReplica, type ReplicaRead } from './replicas.js';

export interface FileInfo {
  name: string;
  size: number;
  etag: string;
  last_modified: string;
  siblings: number;
  clock: KeyState['context'];
  /** Every chunk of every version shown is on W of its owners, as far as the scrub of any answering replica found (small files: always). */
  complete: boolean;
}

export interface ListQuery {
  after?: string | undefined;
  prefix?: string | undefined;
  delimiter?: string | undefined;
  limit: number;
}

export interface FilePage {
  files: FileInfo[];
  /** With a delimiter: the common prefixes of the names beyond it (S3's CommonPrefixes). */
  prefixes: string[];
  /** Pass as `after` for the next page; null after the last. */
  next: string | null;
  truncated: boolean;
}

export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;
/** Keys of a page repaired in the background, at most: a listing must not turn into a flood of writes. */
const REPAIRS_PER_PAGE = 64;

export async function listFiles(c: Cluster, bucket: string, q: ListQuery, bucketRecord?: KeyState): Promise<FilePage> {
  const record = bucketRecord ?? (await readBucket(c, bucket)).merged;
  if (liveUids(record).size === 0) throw noSuchBucket(bucket);
  // Members, and those leaving whose data has not moved yet.
  const targets = c.membership.everyone;
  const need = Math.min(targets.length, Math.max(1, targets.length - c.n + c.r));
  // The first `need` answers: every file acknowledged on W replicas is in at least one of them (W + R > N),
  // and a slow node (a pause, a cold cache) does not hold the page up.
  const q0 = await quorum(targets, need, (node) => listPageReplica(c, node, bucket, q));
  if (q0.ok.length < need) throw quorumError(`listing of ${bucket}`, need, q0.ok.map((a) => a.node), q0.failed);
  const merged = mergePages(q0.ok.map((a) => a.value), q.limit);
  const files: FileInfo[] = [];
  const prefixes: string[] = [];
  let repairs = 0;
  // Each answering node's states by key, looked up once per listed key (not a scan of its page per key).
  const byNode = q0.ok.map((p) => ({ node: p.node, states: new Map(p.value.items.flatMap((i) => ('key' in i ? [[i.key, i.state] as const] : []))) }));
  // Versions any answering replica's scrub found missing chunks, by key (few: only large files, rarely).
  const incomplete = new Map<string, Set<string>>();
  for (const p of q0.ok) {
    for (const i of p.value.items) {
      if (!('key' in i) || !i.incomplete) continue;
      const s = incomplete.get(i.key) ?? new Set<string>();
      for (const d of i.incomplete) s.add(d);
      incomplete.set(i.key, s);
    }
  }
  for (const item of merged.items) {
    if ('prefix' in item) {
      prefixes.push(item.prefix);
      continue;
    }
    const state = mergeStates(item.states);
    // Versions of an ended incarnation of the bucket are not shown, even on a replica that has not yet purged them.
    const current = visible(record, state.siblings);
    const live = current.filter((s) => !s.deleted);
    if (live.length > 0) {
      const newest = live.reduce((a, b) => (b.ts > a.ts ? b : a));
      const missing = incomplete.get(item.key);
      const complete = !missing || !live.some((s) => missing.has(dotId(s.dot)));
      files.push({ name: item.key, size: newest.size, etag: newest.etag, last_modified: new Date(newest.ts).toISOString(), siblings: current.length, clock: state.context, complete });
    }
    if (repairs < REPAIRS_PER_PAGE) repairs += repairListed(c, bucket, item.key, byNode, state);
  }
  const last = merged.items.at(-1);
  const next = merged.truncated && last ? ('prefix' in last ? last.prefix : last.key) : null;
  return { files, prefixes, next, truncated: merged.truncated };
}

/** Read repair of one listed key: the owners that answered with a state other than the merged one get it. */
function repairListed(c: Cluster, bucket: string, key: string, pages: ReadonlyArray<{ node: string; states: ReadonlyMap<string, KeyState> }>, merged: KeyState): number {
  const owners = c.preferenceList(bucket, key);
  const answers = pages
    .filter((p) => owners.includes(p.node))
    .map((p) => ({ node: p.node, value: { state: p.states.get(key) ?? null, bodies: new Map() } as ReplicaRead }));
  const stale = answers.some((a) => a.value.state === null || !equalStates(a.value.state, merged));
  if (!stale) return 0;
  void readRepair(c, bucket, key, answers, new Map(), owners);
  return 1;
}
