// The cluster's configuration: one nodes.json copied to every machine. Every entry
// point loads it (runtime/process.ts); optional keys get their defaults here and only here.
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCode, RingstoreError } from './errors.js';

const MiB = 1024 * 1024;
const TiB = 1024 * 1024 * MiB;

/** One chunk's reference in a chunked file's list: its SHA-256 digest. */
export const CHUNK_REF_BYTES = 32;

/** Bytes of the chunk list of the largest file: 32 per chunk (a SHA-256). */
export function chunkListBytes(fileBytes: number, chunkBytes: number): number {
  return Math.ceil(fileBytes / chunkBytes) * CHUNK_REF_BYTES;
}

export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const nodeSpec = z.object({
  id: z.string().regex(NODE_ID, 'node ids are 1-64 characters of A-Z a-z 0-9 _ -'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  restPort: z.number().int().min(1).max(65535),
});

const configSchema = z.object({
  replication: z
    .object({
      n: z.number().int().min(1).default(3),
      r: z.number().int().min(1).default(2),
      w: z.number().int().min(1).default(2),
    })
    .default({ n: 3, r: 2, w: 2 }),
  dataDir: z.string().min(1).default('data'),
  nodes: z.array(nodeSpec).min(1),
  /** Q of the Dynamo paper's strategy 3: the hash space is cut into this many equal partitions. */
  ringSize: z.number().int().min(1).max(65536).default(256),
  timeouts: z
    .object({
      /** A replica that has not answered a request within this is counted as failed. */
      requestMs: z.number().int().min(10).default(2000),
      connectMs: z.number().int().min(10).default(1000),
      /** After W acknowledgements, how long a write waits for the other replicas before answering without them. */
      writeGraceMs: z.number().int().min(0).default(20),
    })
    .default({ requestMs: 2000, connectMs: 1000, writeGraceMs: 20 }),
  /** Largest file accepted (413 TOO_LARGE beyond). */
  maxObjectBytes: z.number().int().min(1).default(TiB),
  /** Files larger than this are stored as chunks of this size, content-addressed and spread over the ring. */
  chunkBytes: z.number().int().min(4096).max(64 * MiB).default(4 * MiB),
  /** Largest frame accepted on the socket port; must hold a chunk, or a small file, plus its message. */
  maxFrameBytes: z.number().int().min(1024).optional(),
  siblings: z
    .object({ warn: z.number().int().min(1).default(25), max: z.number().int().min(1).default(100) })
    .default({ warn: 25, max: 100 }),
  gossip: z
    .object({
      /** node-cron schedules in whole seconds: 1000 to 59000, a multiple of 1000. */
      intervalMs: z.number().int().min(1000).max(59000).multipleOf(1000).default(1000),
      failureTimeoutMs: z.number().int().min(100).default(5000),
    })
    .default({ intervalMs: 1000, failureTimeoutMs: 5000 }),
  /** Partitions moving to new owners after a membership change: at most this many bytes a second per receiving machine. */
  transfer: z.object({ bytesPerSec: z.number().int().min(1024).default(64 * MiB) }).default({ bytesPerSec: 64 * MiB }),
  /** Anti-entropy (Merkle trees per partition, Dynamo 4.7): how often each machine compares its partitions with their other replicas. */
  antiEntropy: z.object({ intervalMs: z.number().int().min(1000).default(600_000) }).default({ intervalMs: 600_000 }),
  /** The chunk scrub (cron/chunk-scrub.ts): every chunk of every large file held here checked, and copied back to owners that lost it. */
  chunkScrub: z.object({ intervalMs: z.number().int().min(1000).default(30_000) }).default({ intervalMs: 30_000 }),
  /**
   * Collection of chunks no version references (cron/chunk-gc.ts): how often, and how long a chunk must have
   * been neither written nor touched by an upload under way before it may go.
   */
  chunkGc: z
    .object({ intervalMs: z.number().int().min(1000).default(600_000), graceMs: z.number().int().min(0).default(3_600_000) })
    .default({ intervalMs: 600_000, graceMs: 3_600_000 }),
  /**
   * Transactions (POST /transactions, docs/transactions.md): files and content bytes one may write (each
   * file's content rides in its intent, a Paxos register of at most 256 KiB), and how long an intent may stay
   * undecided before anyone settles it from the transaction record.
   */
  transactions: z
    .object({
      maxFiles: z.number().int().min(1).max(64).default(64),
      maxFileBytes: z.number().int().min(0).max(128 * 1024).default(64 * 1024),
      maxBytes: z.number().int().min(0).default(1024 * 1024),
      timeoutMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  /** Users and tokens (issue 14): whether every call needs a token, and how long a login's token lasts. */
  auth: z
    .object({
      required: z.boolean().default(false),
      tokenTtlMs: z.number().int().min(1000).default(24 * 3600_000),
    })
    .prefault({}),
  /** TLS on every REST and socket port: this node's certificate and key, and the cluster's CA that peers are checked against. */
  tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1), caFile: z.string().min(1) }).optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** The cluster secret, inline; or the name of an environment variable, or a file (relative to this config), holding it. */
  secret: z.string().min(16).optional(),
  secretEnv: z.string().min(1).optional(),
  secretFile: z.string().min(1).optional(),
  /** Every limit of the socket port and the REST app, with its default here and only here. */
  limits: z
    .object({
      /** A connection must complete the handshake within this. */
      handshakeTimeoutMs: z.number().int().min(50).default(2000),
      /** At most this many connections may be waiting to authenticate; a new one evicts the oldest. */
      maxUnauthenticated: z.number().int().min(1).default(64),
      /** An authenticated connection with no traffic for this long is closed (peers reconnect on demand). */
      idleTimeoutMs: z.number().int().min(1000).default(300_000),
      /** Requests one connection may have in flight; past it the node stops reading from that connection. */
      maxInFlightPerConnection: z.number().int().min(1).default(256),
      /** Body bytes of the requests in flight on one connection (chunks of large files, mostly); past it, the same. */
      maxInFlightBytesPerConnection: z.number().int().min(1024 * 1024).default(32 * 1024 * 1024),
      /** Largest request head (request line and headers) the REST app accepts. */
      maxHeaderBytes: z.number().int().min(1024).default(16 * 1024),
      /** A client must send its whole request head within this (slow-loris). */
      headersTimeoutMs: z.number().int().min(100).default(10_000),
      /** A client must send its whole request within this (0: no bound on the whole; the rate below bounds a body). */
      requestTimeoutMs: z.number().int().min(0).default(0),
      /**
       * A request body (REST) or a frame (socket port) must come in at least this fast, on average over the
       * last minBodyRateWindowMs; slower, the request is answered 408 REQUEST_TIMEOUT and the connection closed
       * (0: no floor).
       */
      minBodyBytesPerSecond: z.number().int().min(0).default(16 * 1024),
      minBodyRateWindowMs: z.number().int().min(200).default(10_000),
      /** Requests one REST app serves at once; more are answered 503 with Retry-After. */
      maxConcurrentRequests: z.number().int().min(1).default(512),
    })
    .prefault({}),
});

export type NodeSpec = z.infer<typeof nodeSpec>;
export interface ClusterConfig extends Omit<z.infer<typeof configSchema>, 'maxFrameBytes'> {
  /** Absolute path of the file this was loaded from. */
  file: string;
  maxFrameBytes: number;
}

export const DEFAULT_CONFIG_FILE = 'nodes.json';

export function parseConfig(raw: unknown, file: string): ClusterConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new RingstoreError(ErrorCode.CONFIG, `invalid config ${file}: ${issues}`);
  }
  const c = parsed.data;
  const fail = (m: string): never => {
    throw new RingstoreError(ErrorCode.CONFIG, `invalid config ${file}: ${m}`);
  };
  const { n, r, w } = c.replication;
  if (n > c.nodes.length) fail(`replication.n (${n}) is larger than the number of nodes (${c.nodes.length})`);
  if (r > n || w > n) fail(`replication.r and replication.w must not exceed n (${n})`);
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  for (const node of c.nodes) {
    if (ids.has(node.id)) fail(`node id ${node.id} appears twice`);
    ids.add(node.id);
    for (const p of [node.port, node.restPort]) {
      const ep = `${node.host}:${p}`;
      if (endpoints.has(ep)) fail(`port ${ep} is used twice`);
      endpoints.add(ep);
    }
  }
  if (c.ringSize < c.nodes.length) fail(`ringSize (${c.ringSize}) must be at least the number of nodes`);
  // A frame carries a small file or a chunk (at most chunkBytes), or a large file's chunk list. By default
  // also a file of up to 64 MiB stored whole, as versions before chunking did, so that those stay readable.
  const carried = Math.max(Math.min(c.chunkBytes, c.maxObjectBytes), chunkListBytes(c.maxObjectBytes, c.chunkBytes));
  const maxFrameBytes = c.maxFrameBytes ?? Math.max(carried, 64 * MiB) + 4 * MiB;
  if (maxFrameBytes < carried + 64 * 1024) fail(`maxFrameBytes must be at least ${carried + 64 * 1024} (a frame holds a chunk or a chunk list, and its message)`);
  const dataDir = isAbsolute(c.dataDir) ? c.dataDir : resolve(dirname(file), c.dataDir);
  if (c.limits.requestTimeoutMs > 0 && c.limits.headersTimeoutMs > c.limits.requestTimeoutMs) fail('limits.headersTimeoutMs must not exceed limits.requestTimeoutMs');
  return { ...c, dataDir, maxFrameBytes, file };
}

export function nodeById(config: ClusterConfig, id: string): NodeSpec {
  const node = config.nodes.find((n) => n.id === id);
  if (!node) throw new RingstoreError(ErrorCode.CONFIG, `node ${id} is not in ${config.file} (known: ${config.nodes.map((n) => n.id).join(', ')})`);
  return node;
}

/**
 * This machine's address: from nodes.json if it is one of the seeds, else (a
 * machine that is to join a running cluster) from the command line's --host,
 * --port and --rest-port, which a seed may also give if they agree with the file.
 */
export function selfSpec(config: ClusterConfig, id: string, given: { host?: string | undefined; port?: number | undefined; restPort?: number | undefined }): NodeSpec {
  const seed = config.nodes.find((n) => n.id === id);
  if (seed) {
    const differs = (given.host !== undefined && given.host !== seed.host) || (given.port !== undefined && given.port !== seed.port) || (given.restPort !== undefined && given.restPort !== seed.restPort);
    if (differs) throw new RingstoreError(ErrorCode.CONFIG, `${id} is in ${config.file} with another address (${seed.host}:${seed.port}, REST ${seed.restPort})`);
    return seed;
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new RingstoreError(ErrorCode.CONFIG, `not a node id: ${JSON.stringify(id)}`);
  if (given.host === undefined || given.port === undefined || given.restPort === undefined) {
    throw new RingstoreError(ErrorCode.CONFIG, `node ${id} is not in ${config.file} (seeds: ${config.nodes.map((n) => n.id).join(', ')}): to start a machine that will join, give --host, --port and --rest-port`);
  }
  const taken = config.nodes.find((n) => n.host === given.host && (n.port === given.port || n.restPort === given.restPort || n.port === given.restPort || n.restPort === given.port));
  if (taken) throw new RingstoreError(ErrorCode.CONFIG, `${given.host}:${given.port} (REST ${given.restPort}) clashes with seed ${taken.id}`);
  return { id, host: given.host, port: given.port, restPort: given.restPort };
}

/** Everything a node keeps lives under this folder. */
export function nodeDir(config: ClusterConfig, id: string): string {
  return join(config.dataDir, id);
}

/** The file a start script generates the secret into when the config names none: beside the config. */
export function defaultSecretFile(config: ClusterConfig): string {
  return join(dirname(config.file), `${basename(config.file, '.json')}.secret`);
}
