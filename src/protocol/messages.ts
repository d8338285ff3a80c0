// Every message the socket port speaks: one discriminated union keyed on `type`,
// defined once as a schema so that the type and the validator cannot drift.
// A message's file content never travels inside the JSON: it follows it in the
// same frame as raw bytes, described by `bodies` (see codec.ts).
import { z } from 'zod';
import { CHUNK_REF_BYTES } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';

export const PROTOCOL_VERSION = 1;

/** The namespace of bucket records, replicated to every node. Not a valid bucket name, so it cannot collide. */
export const BUCKETS_NS = '$buckets';
/** The pseudo-namespace that places the chunks of large files on the ring, by their hash (never stored as keys). */
export const CHUNKS_NS = '$chunks';

/** "<node id>.<incarnation>": also part of file names on disk, so nothing else is accepted. */
export const ACTOR = /^[A-Za-z0-9_-]{1,64}\.[a-z0-9]{1,32}$/;
const actor = z.string().regex(ACTOR, 'an actor is <node id>.<incarnation>');
/** Counters stay far below 2^53, so arithmetic on them is exact. */
export const MAX_COUNTER = 2 ** 48;
const counter = z.number().int().min(0).max(MAX_COUNTER);
export const dotSchema = z.tuple([actor, counter.min(1)]).readonly();
export const vectorSchema = z
  .record(actor, counter)
  .refine((v) => Object.keys(v).length <= 1024, 'a version vector has at most 1024 actors');
export type VersionVectorWire = z.infer<typeof vectorSchema>;

const chunkedSchema = z.object({ bytes: z.number().int().min(1), count: z.number().int().min(1) });
/** A version written by a transaction: its id and every file it wrote (docs/transactions.md), for read-atomic reads. */
export const txnMetaSchema = z.object({
  id: z.string().min(1).max(64),
  files: z.array(z.object({ bucket: z.string().min(1).max(63), file: z.string().min(1).max(1024) })).min(1).max(1000),
});
export type TxnMeta = z.infer<typeof txnMetaSchema>;

/**
 * The actor of a transaction's versions: each file's version of transaction T
 * has the dot (txn.<T>, 1), whoever writes it (its coordinator, or a recoverer
 * after it died), with the same context. So a second write of it is the same
 * version, and one made after a later write superseded it is superseded too
 * (that later write's clock covers the dot), instead of coming back.
 */
export function txnActor(txn: string): string {
  return `txn.${txn.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 32) || '0'}`;
}
export type Chunked = z.infer<typeof chunkedSchema>;
/** A chunk's name: its SHA-256, hex. */
export const chunkHash = z.string().regex(/^[0-9a-f]{64}$/, 'a chunk is named by its SHA-256, 64 hex digits');

export const siblingSchema = z.object({
  dot: dotSchema,
  /** A tombstone: the version that says "deleted". */
  deleted: z.boolean().optional(),
  size: z.number().int().min(0),
  /** MD5 of the content, hex; empty for tombstones and bucket records. */
  etag: z.string().max(64),
  /** When the coordinating replica stored it, ms since the epoch. */
  ts: z.number(),
  /** Content type given at upload. */
  type: z.string().max(256).optional(),
  /** The client request that wrote it: a retried mint can store one write twice, and readers count it once. */
  wid: z.string().max(64).optional(),
  /** This version's causal past: the context it was written with, i.e. the versions it supersedes (its own dot is `dot`). Versions stored before 2026-12 also merged in their own dot. */
  clock: vectorSchema.optional(),
  /** The bucket incarnation this version belongs to (for a bucket record: the incarnation it creates). */
  uid: z.string().max(64).optional(),
  /** A bucket record: the user that created the bucket and owns it (none: a bucket open to all). */
  owner: z.string().max(64).optional(),
  /**
   * A file stored in chunks (larger than the cluster's chunkBytes): the body
   * kept with this version is the list of its chunks' SHA-256 digests, 32
   * bytes each, in order; every chunk but the last holds `bytes`. `size` and
   * `etag` are the whole file's.
   */
  chunked: chunkedSchema.optional(),
  /** Written by a transaction (POST /transactions): which, and what else it wrote. */
  txn: txnMetaSchema.optional(),
});
export type Sibling = z.infer<typeof siblingSchema>;

/** Bytes of the body stored with a version: the file, or the list of its chunks. */
export function bodyLength(s: Sibling): number {
  if (s.deleted) return 0;
  return s.chunked ? CHUNK_REF_BYTES * s.chunked.count : s.size;
}

export const stateSchema = z.object({
  context: vectorSchema,
  siblings: z.array(siblingSchema).max(10_000),
});
export type KeyState = z.infer<typeof stateSchema>;

const ns = z.string().min(1).max(63);
const nodeId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const diskStateSchema = z.enum(['ok', 'full', 'read-only']);
export type DiskState = z.infer<typeof diskStateSchema>;
export const diskInfoSchema = z.object({ state: diskStateSchema, free: z.number().min(0).nullable() });
export type DiskInfo = z.infer<typeof diskInfoSchema>;

export const antiEntropySchema = z.object({ lastRound: z.string().max(64).nullable(), repaired: z.number().int().min(0) });
/** A node's membership epochs and anti-entropy, as its heartbeat tells them (GET /cluster shows them). */
const peerEpochs = z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.object({ epoch: z.number().int().min(0), synced: z.number().int().min(0), ae: antiEntropySchema.optional() }));

export type PeerEpochs = z.infer<typeof peerEpochs>[string];

/** One row of a gossip table: a node's heartbeat. (generation, version) only grows while the node lives. */
export const heartbeatSchema = z.object({
  node: nodeId,
  /** When the node's socket server started, ms since the epoch: a restart starts a newer generation. */
  generation: z.number().int().min(0),
  /** Grows while that socket server runs. */
  version: z.number().int().min(0),
  /** How long ago, by the sender's clock, this heartbeat last advanced: ages are durations, so no clocks need agree. */
  age: z.number().int().min(0).max(1e10),
  /** The sender's verdict, for people reading the table; each machine decides for itself. */
  status: z.enum(['up', 'down']).optional(),
  /** The node's disk, as its socket server found it when it minted this heartbeat. */
  disk: diskInfoSchema.optional(),
  /**
   * The membership epoch the node's socket server has taken up: the one it holds, or an older one while
   * writes placed under that are still being stored (node/context.ts, InflightWrites). A peer that knows
   * an older one fetches the newer.
   */
  epoch: z.number().int().min(1).optional(),
  /** The newest epoch for which this node holds all its data (transfers done). See cron/transfer.ts. */
  synced: z.number().int().min(0).optional(),
  /** The node's last completed anti-entropy round (ISO 8601) and how many keys it repaired. */
  ae: antiEntropySchema.optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;


/** Whether heartbeat a is later than b: a newer generation (a restart), or a higher version of the same one. */
export function newer(a: Pick<Heartbeat, 'generation' | 'version'>, b: Pick<Heartbeat, 'generation' | 'version'>): boolean {
  return a.generation > b.generation || (a.generation === b.generation && a.version > b.version);
}

/** A node's status in one machine's view: `unknown` until that machine has heard from it. */
export const nodeStatusSchema = z.enum(['up', 'down', 'unknown']);
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

/** What one background worker of the scheduler is doing, for people and the REST app's /cluster. */
export const workerStatusSchema = z.object({
  name: z.string().max(64),
  state: z.enum(['idle', 'running', 'stopped']),
  runs: z.number().int().min(0),
  failures: z.number().int().min(0),
  lastStart: z.string().max(64).nullable(),
  lastMs: z.number().min(0).nullable(),
  lastResult: z.string().max(1024).nullable(),
  lastError: z.string().max(1024).nullable(),
});
export type WorkerStatus = z.infer<typeof workerStatusSchema>;
const count = z.number().int().min(0);
const statusMap = z.record(nodeId, nodeStatusSchema).refine((m) => Object.keys(m).length <= 1000, 'at most 1000 nodes');
/** One process of a machine as its supervisor sees it. */
export const supervisedSchema = z.object({
  role: z.string().max(32),
  pid: z.number().int().nullable(),
  /** Times it was started again after it exited on its own. */
  restarts: count,
  /** When it last started, ISO 8601. */
  since: z.string().max(64).nullable(),
  lastExit: z.object({ code: z.number().int().nullable(), signal: z.string().max(32).nullable(), at: z.string().max(64) }).nullable(),
});
export type Supervised = z.infer<typeof supervisedSchema>;

/** The partitions one machine is taking in from their old owners during a membership change. */
export const transferStatusSchema = z.object({
  epoch: z.number().int().min(0),
  /** Partitions (times their sources) still to copy, and copied. */
  pending: z.number().int().min(0),
  done: z.number().int().min(0),
  keys: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
export type TransferStatus = z.infer<typeof transferStatusSchema>;

/** What the scheduler has done since it started, for the REST app's /metrics. */
export const schedulerCountersSchema = z.object({ gossipRounds: count, hintsDelivered: count, logDropped: count });
export type SchedulerCounters = z.infer<typeof schedulerCountersSchema>;
const key = z.string().min(1).max(4096);
const memberSpec = z.object({ id: nodeId, host: z.string().min(1).max(255), port: z.number().int().min(1).max(65535), restPort: z.number().int().min(1).max(65535) });
/** The membership as agreed and gossiped (ring/membership.ts). */
export const membershipRecordSchema = z.object({
  epoch: z.number().int().min(1),
  members: z.array(memberSpec).min(1).max(1000),
  leaving: z.array(memberSpec).max(1000),
  left: z.array(nodeId).max(1000).optional(),
  partitions: z.number().int().min(1).max(65536),
  n: z.number().int().min(1).max(64),
  layouts: z.array(z.object({ epoch: z.number().int().min(1), replicas: z.array(z.array(nodeId).max(64)).max(65536) })).min(1).max(64),
});
/** A Paxos space: what the registers are for, and (after a colon) the bucket, or the system namespace ($users), whose keys they follow. */
const space = z.string().regex(/^[a-z]{1,16}(:([a-z0-9.-]{3,63}|\$[a-z]{1,16}))?$/, 'a space is <kind>, <kind>:<bucket> or <kind>:$<namespace>');
const ballot = z.object({ n: z.number().int().min(0), actor: z.string().min(1).max(128) });
/** A register's value: any JSON, kept small (a lock record, a decision). */
const jsonValue = z.unknown().refine((v) => v !== undefined && JSON.stringify(v).length <= 256 * 1024, 'a register value is JSON of at most 256 KiB');
const writeId = z.string().min(1).max(64);
const proposal = z.object({ ballot, value: jsonValue, prev: writeId.nullable(), w: writeId });
const commitNote = z.object({ ballot, prev: writeId.nullable(), w: writeId });
const recentCommits = z.array(commitNote).max(64);
const paxosRecord = z.object({ space, key, state: z.object({ promised: ballot.nullable(), accepted: proposal.nullable(), committed: proposal.nullable(), recent: recentCommits.optional() }) });
const bodyRef = z.object({ dot: z.string().max(256), size: z.number().int().min(0) });
export type BodyRef = z.infer<typeof bodyRef>;

const base = { v: z.literal(PROTOCOL_VERSION), id: z.string().min(1).max(64), sender: z.string().min(1).max(64) };
const reply = { ...base, re: z.string().min(1).max(64) };

export const messageSchema = z.discriminatedUnion('type', [
  // Liveness and identity.
  z.object({ ...base, type: z.literal('ping') }),
  z.object({ ...reply, type: z.literal('pong'), node: z.string(), incarnation: z.string(), paxos: z.enum(['ready', 'recovering']).optional() }),

  // A replica's state of one key; with the bodies asked for ('all' live ones, or the listed dot ids).
  // With `hint`: only the hinted copy this node holds for that owner (hinted handoff reads it so).
  z.object({ ...base, type: z.literal('read'), ns, key, bodies: z.union([z.enum(['none', 'all']), z.array(z.string().max(256)).max(1000)]), hint: nodeId.optional() }),
  z.object({ ...reply, type: z.literal('read_reply'), state: stateSchema.nullable(), bodies: z.array(bodyRef) }),

  // A new version minted and stored on this replica (it coordinates the write): one body follows unless deleted.
  z.object({
    ...base,
    type: z.literal('update'),
    ns,
    key,
    context: vectorSchema,
    deleted: z.boolean(),
    size: z.number().int().min(0),
    contentType: z.string().max(256).optional(),
    uid: z.string().max(64).optional(),
    /** A bucket record: the user creating the bucket. */
    owner: z.string().max(64).optional(),
    /** Sloppy quorum: store apart, as a hinted replica for this owner. */
    hint: nodeId.optional(),
    /** Id of the client's write, the same on every mint attempt. */
    wid: z.string().max(64).optional(),
    /** The coordinator's membership epoch: a replica that knows a newer one refuses (STALE_EPOCH). */
    epoch: z.number().int().min(1).optional(),
    /** A chunked file: the body is its chunk list, and the file's size and MD5 are given. */
    chunked: chunkedSchema.extend({ size: z.number().int().min(0), etag: z.string().regex(/^[0-9a-f]{32}$/) }).optional(),
    /** A transaction's write: kept on the version (docs/transactions.md). */
    txn: txnMetaSchema.optional(),
  }),
  z.object({ ...reply, type: z.literal('update_reply'), state: stateSchema, dot: dotSchema }),

  // Chunks of large files, named by their SHA-256 (content-addressed: a put of a chunk held already is a no-op).
  // With `hint`: kept for that owner, which gets it by hinted handoff.
  z.object({ ...base, type: z.literal('chunk_put'), hash: chunkHash, size: z.number().int().min(1), hint: nodeId.optional() }),
  z.object({ ...reply, type: z.literal('chunk_put_reply') }),
  z.object({ ...base, type: z.literal('chunk_get'), hash: chunkHash }),
  z.object({ ...reply, type: z.literal('chunk_get_reply'), size: z.number().int().min(0).nullable() }),
  z.object({ ...base, type: z.literal('chunk_has'), hashes: z.array(chunkHash).max(10_000), touch: z.boolean().optional() }),
  z.object({ ...reply, type: z.literal('chunk_has_reply'), present: z.array(z.boolean()) }),
  // The chunks this node keeps for other owners (hinted handoff), a page at a time; and the end of one such hint.
  z.object({ ...base, type: z.literal('chunk_hints'), after: z.string().max(200).optional(), limit: z.number().int().min(1).max(10_000) }),
  z.object({ ...reply, type: z.literal('chunk_hints_reply'), entries: z.array(z.object({ owner: nodeId, hash: chunkHash })), next: z.string().max(200).nullable() }),
  z.object({ ...base, type: z.literal('chunk_hint_drop'), owner: nodeId, hash: chunkHash }),
  z.object({ ...reply, type: z.literal('chunk_hint_drop_reply'), removed: z.boolean() }),
  // The chunk scrub: the keys of this node with a version in chunks, a page at a time in (bucket, name) order
  // after a cursor; and what it found of one version (every chunk on W of its owners, or not).
  z.object({ ...base, type: z.literal('chunked_files'), after: z.tuple([ns, key]).optional(), limit: z.number().int().min(1).max(1000) }),
  z.object({ ...reply, type: z.literal('chunked_files_reply'), entries: z.array(z.object({ ns, key, state: stateSchema })), next: z.tuple([ns, key]).nullable() }),
  z.object({ ...base, type: z.literal('chunk_report'), ns, key, dot: z.string().max(256), complete: z.boolean() }),
  z.object({ ...reply, type: z.literal('chunk_report_reply') }),
  // Collecting unreferenced chunks (cron/chunk-gc.ts): this node's chunks untouched for graceMs; which of some
  // chunks a version held here references; and the removal of chunks found unreferenced (each if still old).
  z.object({ ...base, type: z.literal('chunk_gc_candidates'), graceMs: z.number().int().min(0), limit: z.number().int().min(1).max(10_000) }),
  z.object({ ...reply, type: z.literal('chunk_gc_candidates_reply'), hashes: z.array(chunkHash) }),
  z.object({ ...base, type: z.literal('chunk_refs'), hashes: z.array(chunkHash).max(10_000) }),
  z.object({ ...reply, type: z.literal('chunk_refs_reply'), referenced: z.array(z.boolean()) }),
  z.object({ ...base, type: z.literal('chunk_collect'), hashes: z.array(chunkHash).max(10_000), graceMs: z.number().int().min(0) }),
  z.object({ ...reply, type: z.literal('chunk_collect_reply'), removed: z.number().int().min(0) }),

  // Merge another replica's state into this one's (replication, read repair, handoff).
  z.object({ ...base, type: z.literal('sync'), ns, key, state: stateSchema, bodies: z.array(bodyRef), hint: nodeId.optional(), epoch: z.number().int().min(1).optional() }),
  z.object({ ...reply, type: z.literal('sync_reply'), state: stateSchema.nullable(), missing: z.array(z.string()) }),

  // Every key of a namespace with its state (bucket records, which every node holds).
  z.object({ ...base, type: z.literal('list'), ns }),
  z.object({ ...reply, type: z.literal('list_reply'), entries: z.array(z.object({ key, state: stateSchema })) }),

  // A page of a bucket's keys this node holds (its own and hinted copies), in byte order of the names after
  // `after`, under `prefix`, names beyond `delimiter` folded into common prefixes.
  z.object({
    ...base,
    type: z.literal('list_page'),
    ns,
    after: z.string().max(4096).optional(),
    prefix: z.string().max(4096).optional(),
    delimiter: z.string().min(1).max(256).optional(),
    limit: z.number().int().min(1).max(10_000),
  }),
  z.object({
    ...reply,
    type: z.literal('list_page_reply'),
    /** `incomplete`: versions this node knows to miss chunks (dot ids), as its scheduler's chunk scrub found them. */
    items: z.array(z.union([z.object({ key, state: stateSchema, incomplete: z.array(z.string().max(256)).max(10_000).optional() }), z.object({ prefix: z.string().max(4096) })])).max(20_000),
    /** More items follow the last one. */
    truncated: z.boolean(),
  }),

  // Moving partitions (membership change): the keys this node holds of the given partitions (of Q), with their
  // states, a page at a time in (namespace, key) order after a cursor. The new owner reads bodies with `read`.
  // `leaves`: only keys in these Merkle leaves (partition * 64 + leaf), for anti-entropy.
  z.object({
    ...base,
    type: z.literal('partition_keys'),
    partitions: z.array(z.number().int().min(0).max(65535)).max(65536),
    leaves: z.array(z.number().int().min(0)).max(1 << 22).optional(),
    after: z.string().max(10_000).optional(),
    limit: z.number().int().min(1).max(10_000),
  }),
  // Anti-entropy (Dynamo 4.7): this node's Merkle trees of some partitions over (key, version context), see replica/merkle.ts.
  z.object({ ...base, type: z.literal('merkle'), partitions: z.array(z.number().int().min(0).max(65535)).max(65536) }),
  z.object({ ...reply, type: z.literal('merkle_reply'), trees: z.array(z.object({ partition: z.number().int().min(0), root: z.string().max(64), leaves: z.array(z.string().max(64)).max(1024) })) }),
  z.object({ ...reply, type: z.literal('partition_keys_reply'), entries: z.array(z.object({ ns, key, state: stateSchema })), next: z.string().nullable() }),
  // An old owner drops its copies of partitions it owns in no live layout (their new owners have them all).
  z.object({ ...base, type: z.literal('partition_drop'), partitions: z.array(z.number().int().min(0).max(65535)).max(65536), epoch: z.number().int().min(1), limit: z.number().int().min(1).max(100_000) }),
  z.object({ ...reply, type: z.literal('partition_drop_reply'), dropped: count, more: z.boolean() }),

  // Gossip (Dynamo 4.8): heartbeat tables. The node's scheduler pushes its view and pulls what peers sent.
  z.object({ ...base, type: z.literal('gossip'), table: z.array(heartbeatSchema).max(1000) }),
  z.object({ ...reply, type: z.literal('gossip_reply'), table: z.array(heartbeatSchema) }),

  // The machine's scheduler hands its socket server its view after each gossip round; the REST app asks for it.
  // Processes share state through these messages, never by reading each other's files.
  z.object({
    ...base,
    type: z.literal('view_push'),
    statuses: statusMap,
    /** Each node's disk, from its latest heartbeat. */
    disks: z.record(nodeId, diskInfoSchema),
    workers: z.array(workerStatusSchema).max(64),
    counters: schedulerCountersSchema,
    /** The partitions this machine is taking in (see cron/transfer.ts), and the newest epoch whose data it holds. */
    transfers: transferStatusSchema.optional(),
    synced: z.number().int().min(0).optional(),
    ae: antiEntropySchema.optional(),
    /** Each node's membership epochs from its heartbeat: held, acknowledged, synced. */
    epochs: peerEpochs.optional(),
  }),
  z.object({ ...reply, type: z.literal('view_push_reply') }),
  z.object({ ...base, type: z.literal('view') }),
  z.object({
    ...reply,
    type: z.literal('view_reply'),
    /** null until the scheduler has pushed a view since this socket server started. */
    statuses: statusMap.nullable(),
    /** How long ago the scheduler pushed it (ms); null with no view. */
    ageMs: z.number().min(0).nullable(),
    disks: z.record(nodeId, diskInfoSchema),
    workers: z.array(workerStatusSchema),
    counters: schedulerCountersSchema,
    /** This machine's processes as its supervisor last reported them; null without a supervisor. */
    processes: z.array(supervisedSchema).nullable(),
    /** The membership epoch this socket server holds: a process that knows an older one asks for the record. */
    epoch: z.number().int().min(1).optional(),
    /** How many layouts are live in it: fewer once a move is done (the record is trimmed, the epoch stays). */
    live: z.number().int().min(1).optional(),
    transfers: transferStatusSchema.optional(),
    epochs: peerEpochs.optional(),
  }),

  // Membership (ring/membership.ts): a node's record, asked for by a peer or process that knows an older epoch;
  // and a newer record handed to a node, which keeps it (on disk first) if it is newer than its own.
  z.object({ ...base, type: z.literal('membership_get') }),
  z.object({ ...reply, type: z.literal('membership_get_reply'), record: membershipRecordSchema }),
  z.object({ ...base, type: z.literal('membership_put'), record: membershipRecordSchema }),
  z.object({ ...reply, type: z.literal('membership_put_reply'), epoch: z.number().int().min(1) }),

  // The machine's supervisor tells its socket server which processes run and how often they were restarted.
  z.object({ ...base, type: z.literal('supervisor_report'), processes: z.array(supervisedSchema).max(16) }),
  z.object({ ...reply, type: z.literal('supervisor_report_reply') }),

  // The socket server's own figures, for the REST app's /metrics and dashboard.
  z.object({ ...base, type: z.literal('stats') }),
  z.object({
    ...reply,
    type: z.literal('stats_reply'),
    journal: z.object({ changes: count, syncs: count, checkpoints: count }),
    /** Hinted copies held, by owner. */
    hints: z.record(nodeId, count),
    /** Log lines the socket server could not write. */
    logDropped: count,
  }),

  // Paxos, one decree per round, on a key's N owners (Cassandra's lightweight transactions): a compare-and-set
  // register per key of a space (a lock table, transaction decisions). See coordinator/cas.ts.
  // `epoch`: the membership epoch the proposer chose the acceptors under (registers placed by key); an acceptor
  // that holds a newer one refuses (STALE_EPOCH), as a replica refuses a write.
  z.object({ ...base, type: z.literal('paxos_prepare'), space, key, ballot, epoch: z.number().int().min(0).optional() }),
  z.object({ ...reply, type: z.literal('paxos_prepare_reply'), ok: z.boolean(), promised: ballot.nullable(), accepted: proposal.nullable(), committed: proposal.nullable(), recent: recentCommits }),
  // `base`: the committed proposal it follows (its prev), committed here too if this acceptor missed it.
  z.object({ ...base, type: z.literal('paxos_accept'), space, key, proposal, base: proposal.nullable() }),
  z.object({ ...reply, type: z.literal('paxos_accept_reply'), ok: z.boolean(), promised: ballot.nullable() }),
  z.object({ ...base, type: z.literal('paxos_commit'), space, key, proposal }),
  z.object({ ...reply, type: z.literal('paxos_commit_reply') }),
  // The last committed value (and an accepted one past it), without a promise: what a write checks a lock with.
  // A recovering acceptor (paxos_adopt) answers what it has, and says it may lack some.
  z.object({ ...base, type: z.literal('paxos_read'), space, key }),
  z.object({ ...reply, type: z.literal('paxos_read_reply'), accepted: proposal.nullable(), committed: proposal.nullable(), recovering: z.boolean().optional() }),
  // A node that started on an empty disk takes part in Paxos only once it has every peer's acceptor state
  // (it may have promised or accepted something before its disk was lost): its scheduler pages through each
  // peer's records (paxos_dump) and hands them to its node (paxos_adopt), then says it is complete.
  z.object({ ...base, type: z.literal('paxos_dump'), after: z.string().max(128).optional(), limit: z.number().int().min(1).max(1000) }),
  z.object({ ...reply, type: z.literal('paxos_dump_reply'), records: z.array(paxosRecord).max(1000), next: z.string().max(128).nullable() }),
  // `merge`: also on a node that is not recovering (a new owner taking in the registers of partitions it gained).
  z.object({ ...base, type: z.literal('paxos_adopt'), records: z.array(paxosRecord).max(1000), complete: z.boolean(), merge: z.boolean().optional() }),
  z.object({ ...reply, type: z.literal('paxos_adopt_reply'), recovering: z.boolean() }),
  // Answered when the key's committed ballot is no longer `committed`, or after waitMs: a waiting lock request wakes on it.
  z.object({ ...base, type: z.literal('paxos_watch'), space, key, committed: ballot.nullable(), waitMs: z.number().int().min(0).max(30_000) }),
  z.object({ ...reply, type: z.literal('paxos_watch_reply'), changed: z.boolean() }),

  // Hinted handoff: the hinted copies this node holds, a page at a time in (owner, ns, key) order, after a cursor.
  z.object({ ...base, type: z.literal('hints'), after: z.string().max(10_000).optional(), limit: z.number().int().min(1).max(10_000) }),
  z.object({
    ...reply,
    type: z.literal('hints_reply'),
    entries: z.array(z.object({ owner: nodeId, ns, key, state: stateSchema })),
    /** The cursor of the next page, or null after the last. */
    next: z.string().nullable(),
  }),
  // Hinted handoff: the scheduler delivered a hinted replica; drop it if it has not changed since.
  z.object({ ...base, type: z.literal('hint_drop'), owner: nodeId, ns, key, state: stateSchema }),
  z.object({ ...reply, type: z.literal('hint_drop_reply'), dropped: z.boolean() }),

  z.object({ ...reply, type: z.literal('error'), code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
]);

export type Message = z.infer<typeof messageSchema>;
export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** The fields a caller supplies; v, id and sender are filled in by the transport. */
export type Outgoing<T extends MessageType> = MessageOf<T> extends infer M ? (M extends unknown ? Omit<M, 'v' | 'id' | 'sender'> : never) : never;

export const REQUEST_TYPES = ['ping', 'read', 'update', 'sync', 'list', 'list_page', 'gossip', 'view_push', 'view', 'stats', 'supervisor_report', 'membership_get', 'membership_put', 'partition_keys', 'partition_drop', 'merkle', 'paxos_prepare', 'paxos_accept', 'paxos_commit', 'paxos_read', 'paxos_watch', 'paxos_dump', 'paxos_adopt', 'hints', 'hint_drop', 'chunk_put', 'chunk_get', 'chunk_has', 'chunk_hints', 'chunk_hint_drop', 'chunked_files', 'chunk_report', 'chunk_gc_candidates', 'chunk_refs', 'chunk_collect'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/** Which reply answers which request. */
export interface ReplyTo {
  ping: 'pong';
  read: 'read_reply';
  update: 'update_reply';
  sync: 'sync_reply';
  list: 'list_reply';
  list_page: 'list_page_reply';
  gossip: 'gossip_reply';
  view_push: 'view_push_reply';
  view: 'view_reply';
  stats: 'stats_reply';
  supervisor_report: 'supervisor_report_reply';
  membership_get: 'membership_get_reply';
  membership_put: 'membership_put_reply';
  partition_keys: 'partition_keys_reply';
  partition_drop: 'partition_drop_reply';
  merkle: 'merkle_reply';
  paxos_prepare: 'paxos_prepare_reply';
  paxos_accept: 'paxos_accept_reply';
  paxos_commit: 'paxos_commit_reply';
  paxos_read: 'paxos_read_reply';
  paxos_watch: 'paxos_watch_reply';
  paxos_dump: 'paxos_dump_reply';
  paxos_adopt: 'paxos_adopt_reply';
  hints: 'hints_reply';
  hint_drop: 'hint_drop_reply';
  chunk_put: 'chunk_put_reply';
  chunk_get: 'chunk_get_reply';
  chunk_has: 'chunk_has_reply';
  chunk_hints: 'chunk_hints_reply';
  chunk_hint_drop: 'chunk_hint_drop_reply';
  chunked_files: 'chunked_files_reply';
  chunk_report: 'chunk_report_reply';
  chunk_gc_candidates: 'chunk_gc_candidates_reply';
  chunk_refs: 'chunk_refs_reply';
  chunk_collect: 'chunk_collect_reply';
}
export type Request = MessageOf<RequestType>;
export type Reply = Exclude<Message, Request>;

export function isRequest(m: Message): m is Request {
  return (REQUEST_TYPES as readonly string[]).includes(m.type);
}

/** Check a decoded JSON value against the schema; a clear BAD_MESSAGE otherwise. */
export function validateMessage(raw: unknown): Message {
  const parsed = messageSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
  const first = parsed.error.issues[0];
  // An unknown type would list every known one: name what came instead, and keep the message short.
  const detail = first?.code === 'invalid_union' && first.path.join('.') === 'type' ? `no such message type (${typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `not a name but ${type === null ? 'null' : typeof type}`})` : (first?.message ?? 'invalid');
  const where = first ? `${first.path.join('.').slice(0, 100) || '(message)'}: ${detail.slice(0, 300)}` : 'invalid';
  const what = typeof type === 'string' ? `message of type ${JSON.stringify(type.slice(0, 40))}` : 'message';
  throw new RingstoreError(ErrorCode.BAD_MESSAGE, `invalid ${what}: ${where}`);
}

/** The sum of the sizes of a message's bodies: what must follow the JSON in its frame. */
export function declaredBodyBytes(m: Message): number {
  switch (m.type) {
    case 'update':
      return m.deleted ? 0 : m.size;
    case 'read_reply':
    case 'sync':
      return m.bodies.reduce((sum, b) => sum + b.size, 0);
    case 'chunk_put':
      return m.size;
    case 'chunk_get_reply':
      return m.size ?? 0;
    case 'ping':
    case 'pong':
    case 'read':
    case 'update_reply':
    case 'sync_reply':
    case 'list':
    case 'list_reply':
    case 'list_page':
    case 'list_page_reply':
    case 'gossip':
    case 'gossip_reply':
    case 'view_push':
    case 'view_push_reply':
    case 'view':
    case 'view_reply':
    case 'stats':
    case 'stats_reply':
    case 'supervisor_report':
    case 'supervisor_report_reply':
    case 'membership_get':
    case 'membership_get_reply':
    case 'membership_put':
    case 'membership_put_reply':
    case 'partition_keys':
    case 'partition_keys_reply':
    case 'partition_drop':
    case 'partition_drop_reply':
    case 'merkle':
    case 'merkle_reply':
    case 'paxos_prepare':
    case 'paxos_prepare_reply':
    case 'paxos_accept':
    case 'paxos_accept_reply':
    case 'paxos_commit':
    case 'paxos_commit_reply':
    case 'paxos_read':
    case 'paxos_read_reply':
    case 'paxos_watch':
    case 'paxos_watch_reply':
    case 'paxos_dump':
    case 'paxos_dump_reply':
    case 'paxos_adopt':
    case 'paxos_adopt_reply':
    case 'hints':
    case 'hints_reply':
    case 'hint_drop':
    case 'hint_drop_reply':
    case 'chunk_put_reply':
    case 'chunk_get':
    case 'chunk_has':
    case 'chunk_has_reply':
    case 'chunk_hints':
    case 'chunk_hints_reply':
    case 'chunk_hint_drop':
    case 'chunk_hint_drop_reply':
    case 'chunked_files':
    case 'chunked_files_reply':
    case 'chunk_report':
    case 'chunk_report_reply':
    case 'chunk_gc_candidates':
    case 'chunk_gc_candidates_reply':
    case 'chunk_refs':
    case 'chunk_refs_reply':
    case 'chunk_collect':
    case 'chunk_collect_reply':
    case 'error':
      return 0;
    default: {
      const unexpected: never = m;
      throw new Error(`unexpected message ${JSON.stringify(unexpected)}`);
    }
  }
}

// The handshake that opens every connection (before any message above is
// accepted): the server challenges, the client proves it knows the cluster
// secret, the server proves it too. Every later frame carries a MAC under a key
// bound to this connection (see net/auth.ts).
const nonce = z.string().regex(/^[0-9a-f]{32}$/);
const mac = z.string().regex(/^[0-9a-f]{64}$/);
export const handshakeSchema = z.discriminatedUnion('type', [
  z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('challenge'), node: nodeId, nonce }),
  z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('auth'), node: nodeId, nonce, mac }),
  z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('welcome'), mac }),
]);
export type Handshake = z.infer<typeof handshakeSchema>;

export function validateHandshake(raw: unknown, type: Handshake['type']): Handshake {
  const parsed = handshakeSchema.safeParse(raw);
  if (!parsed.success || parsed.data.type !== type) {
    throw new RingstoreError(ErrorCode.UNAUTHENTICATED, `expected a valid ${type} frame to open the connection`);
  }
  return parsed.data;
}
