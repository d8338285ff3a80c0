// The storage layer on the machine's real disk, opened as the socket server
// opens it (production runtime), for unit tests and micro-benchmarks. One
// writer is one process: its identity, journal and stores share one Volume
// (the journal's replay and the stores share their name indexes through it).
import { silentLogger, type Logger } from '../../src/log.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { Identity } from '../../src/storage/identity.js';
import { Journal, type JournalOptions } from '../../src/storage/journal.js';
import { Store, type StorageEnv, type StoreOptions, type StoreWriter } from '../../src/storage/store.js';
import { Volume } from '../../src/storage/volume.js';

/** What one process's stores share; a new one per simulated process start. */
export function storageEnv(): StorageEnv {
  return { vol: new Volume(nodeRuntime.disk, nodeRuntime.random), clock: nodeRuntime.clock, random: nodeRuntime.random };
}

export interface TestWriter extends StoreWriter {
  env: StorageEnv;
}

/** A node's identity and journal on dir, as a starting socket server opens them (the journal is replayed). */
export async function openWriter(dir: string, node = 'n1', opts: JournalOptions = {}, log: Logger = silentLogger()): Promise<TestWriter> {
  const env = storageEnv();
  const identity = await Identity.open(env.vol, env.random, env.clock, dir, node);
  const journal = await Journal.open(env.vol, nodeRuntime.timers, dir, log, opts);
  return { env, identity, journal };
}

/** A store of the process of `writer` (or, with null, a reader of a process of its own). */
export function newStore(root: string, writer: TestWriter | null, log: Logger, opts: StoreOptions = {}, env: StorageEnv = writer?.env ?? storageEnv()): Store {
  return new Store(env, root, writer, log, opts);
}
