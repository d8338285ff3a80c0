// A bucket's files. Each file lives on N of the nodes, so the listing asks every
// node and needs (nodes - N + 1) answers: any that many nodes hold every file.
import { liveUids, visible } from '../replica/records.js';
import type { KeyState } from '../protocol/messages.js';
import { noSuchBucket, readBucket } from './buckets.js';
import type { Cluster } from './cluster.js';
import { quorum } from './quorum.js';
import { mergeStates, quorumError } from './read.js';
import { listReplica } from './replicas.js';

export interface FileInfo {
  name: string;
  size: number;
  etag: string;
  last_modified: string;
  siblings: number;
  clock: KeyState['context'];
}

export async function listFiles(c: Cluster, bucket: string): Promise<FileInfo[]> {
  const record = (await readBucket(c, bucket)).merged;
  if (liveUids(record).size === 0) throw noSuchBucket(bucket);
  const targets = c.nodeIds;
  const need = Math.max(1, targets.length - c.n + 1);
  // Wait for every node (or its timeout): a listing from fewer may miss files that only the others hold.
  const q = await (await quorum(targets, targets.length, (node) => listReplica(c, node, bucket))).rest;
  if (q.ok.length < need) throw quorumError(`listing of ${bucket}`, need, q.ok.map((a) => a.node), q.failed);
  const byName = new Map<string, KeyState[]>();
  for (const a of q.ok) for (const e of a.value) byName.set(e.key, [...(byName.get(e.key) ?? []), e.state]);
  const out: FileInfo[] = [];
  for (const [name, states] of byName) {
    const merged = mergeStates(states);
    // Versions of an ended incarnation of the bucket are not shown, even on a replica that has not yet purged them.
    const current = visible(record, merged.siblings);
    const live = current.filter((s) => !s.deleted);
    if (live.length === 0) continue;
    const newest = live.reduce((a, b) => (b.ts > a.ts ? b : a));
    out.push({ name, size: newest.size, etag: newest.etag, last_modified: new Date(newest.ts).toISOString(), siblings: current.length, clock: merged.context });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
