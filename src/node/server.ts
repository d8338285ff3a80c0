// A storage node: the socket server that holds replicas. It owns the node's
// data dir and is the only process that writes into it.
import { envTransportOptions, type NodeEnv } from '../node-env.js';
import { listen } from '../net/server.js';
import type { RequestHandler } from '../net/transport.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import { BUCKETS_NS } from '../protocol/messages.js';
import { ChunkedFiles } from '../replica/chunked-files.js';
import { ChunkStore } from '../storage/chunks.js';
import { IncompleteVersions } from './incomplete.js';
import { Identity } from '../storage/identity.js';
import { Journal } from '../storage/journal.js';
import { MerkleIndex } from '../replica/merkle-index.js';
import { PaxosStore } from '../storage/paxos-store.js';
import { Store, type StorageEnv } from '../storage/store.js';
import { Volume } from '../storage/volume.js';
import { BucketRegistry } from './buckets.js';
import { DiskHealth } from './disk-health.js';
import { InflightWrites, type NodeContext } from './context.js';
import { dispatcher } from './dispatch.js';
import { purgeEnded } from './handlers/records.js';
import { GossipRelay } from './gossip-relay.js';
import { HintStores } from './hints.js';
import { MembershipKeeper } from './membership-keeper.js';
import { SchedulerView } from './scheduler-view.js';

/** What a machine outside the membership may ask of one that is not a member either: the join's ping and the record. */
const JOINING: ReadonlySet<string> = new Set(['ping', 'membership_get', 'membership_put']);

export interface RunningNode {
  ctx: NodeContext;
  port: number;
  stop(): Promise<void>;
}

export async function startNode(env: NodeEnv): Promise<RunningNode> {
  const { rt, config, self, log, dir } = env;
  const vol = new Volume(rt.disk, rt.random);
  const storage: StorageEnv = { vol, clock: rt.clock, random: rt.random };
  // Before the identity: whether this is an empty disk (whose Paxos acceptor must first recover) is judged by its absence.
  const paxos = new PaxosStore(vol, dir);
  await paxos.open();
  const identity = await Identity.open(vol, rt.random, rt.clock, dir, self.id);
  // The journal first: what a crash left in it is written into the stores' files before anything reads them.
  const journal = await Journal.open(vol, rt.timers, dir, log);
  const writer = { identity, journal };
  // Writes without a context are refused past siblings.max by the coordinator; writes with a
  // stale context may go past it, up to a hard cap that keeps every key readable.
  const chunkedFiles = new ChunkedFiles();
  const merkle = new MerkleIndex(env.membership.record.partitions, rt.timers, rt.clock, log, undefined, (ns, key, state) => chunkedFiles.track(ns, key, state));
  const store = new Store(storage, dir, writer, log, { siblingWarn: config.siblings.warn, siblingMax: 10 * config.siblings.max, observer: merkle });
  const chunks = new ChunkStore(vol, dir, rt.clock);
  const incomplete = new IncompleteVersions(vol, dir);
  await incomplete.load();
  const buckets = new BucketRegistry();
  for (const { key, state } of await store.list(BUCKETS_NS)) buckets.set(key, state);
  const hints = new HintStores(storage, dir, writer, log, { siblingWarn: config.siblings.warn, siblingMax: 10 * config.siblings.max, oneOffActors: true });
  const hinted = await hints.load();
  const disk = new DiskHealth(rt, self.id, dir, log);
  const keeper = new MembershipKeeper(vol, dir, env.membership, log);
  const schedulerView = new SchedulerView(rt.clock);
  await keeper.load();
  const inflight = new InflightWrites();
  const ctx: NodeContext = {
    config,
    membership: env.membership,
    keeper,
    identity,
    journal,
    store,
    chunks,
    chunkedFiles,
    incomplete,
    merkle,
    buckets,
    hints,
    gossip: new GossipRelay(self.id, rt.clock, identity.generation, () => ({ disk: { state: disk.state, free: disk.free }, epoch: inflight.takenUp(env.membership.epoch), ...(schedulerView.synced !== undefined ? { synced: schedulerView.synced } : {}), ...(schedulerView.ae ? { ae: schedulerView.ae } : {}) })),
    disk,
    schedulerView,
    logDropped: () => env.logDropped?.() ?? 0,
    paxos,
    inflight,
    timers: rt.timers,
    log,
  };
  // Peers that prove the cluster secret are let in when they are members of the epoch this node holds, or
  // ever were; a machine that is not a member itself (started to join, or left) lets in any of them, because
  // the member that adds it may have joined after the seeds it knows. From a peer outside its membership a
  // node answers only what joining needs: anything else could hand a stale coordinator state that has moved
  // on (the simulator found a register read served by a machine that had left, asked by one not yet added).
  // The refusal tells this node's epoch: a machine that left while it was down learns so from it at its
  // next gossip round, instead of going on as a member of the epoch it last held (simulator seed 3125).
  const admit = (id: string): boolean => id === self.id || env.membership.everKnew(id) || !env.membership.knows(self.id);
  const handle = dispatcher(ctx);
  const serve: RequestHandler = (m, body) => {
    if (m.sender !== self.id && !env.membership.knows(m.sender) && !JOINING.has(m.type)) {
      // As a refused connection was before: this machine takes no part in the asker's request.
      return Promise.reject(
        new RingstoreError(ErrorCode.PEER_UNAVAILABLE, `${self.id} takes no part: ${m.sender} is not a member of this cluster as ${self.id} knows it (epoch ${env.membership.epoch}); only ${[...JOINING].join(', ')} are answered`, {
          details: { notMember: true, epoch: env.membership.epoch },
        }),
      );
    }
    return handle(m, body);
  };
  // Every bucket's name index before serving (names.log only, never the manifests: about 2.5 s for a
  // bucket of a million files), so that no listing page after a restart waits for one to load.
  for (const ns of await store.namespaces()) store.count(ns);
  const listener = await listen(rt, { ...envTransportOptions(env), admit, host: self.host, port: self.port }, serve);
  // In the background, once serving: anti-entropy is refused here until the walk ends.
  merkle.start(store);
  // Free space for the heartbeat, and the probe that lifts a read-only state.
  void disk.check();
  const diskTimer = rt.timers.setInterval(() => void disk.check(), 2000, { background: true });
  // In the background, once serving: a purge cut short by a crash is finished (only incarnations known to
  // have ended are touched), and what a crash left behind (temporary files, orphan blobs) is removed.
  void (async () => {
    for (const { key } of buckets.entries()) await purgeEnded(ctx, key);
    const swept = (await store.sweep()) + (await chunks.sweep());
    if (swept > 0) log.info('start-up sweep', { removed: swept });
  })().catch((err: unknown) => log.warn('start-up purge or sweep failed', { error: (err as Error).message }));
  log.info('node listening', { host: self.host, port: listener.port, actor: identity.actor, hinted, buckets: buckets.entries().length });
  return {
    ctx,
    port: listener.port,
    stop: async () => {
      diskTimer.cancel();
      merkle.stop();
      await listener.close();
      await journal.close();
    },
  };
}
