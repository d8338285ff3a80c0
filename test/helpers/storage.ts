// The storage layer on the machine's real disk, opened as the socket server
// opens it (production runtime), for unit tests and micro-benchmarks.
import type { Logger } from '../../src/log.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { Identity } from '../../src/storage/identity.js';
import { Journal, type JournalOptions } from '../../src/storage/journal.js';
import { Store, type StorageEnv, type StoreOptions, type StoreWriter } from '../../src/storage/store.js';
import { Volume } from '../../src/storage/volume.js';

/** What one process's stores share; a new one per simulated process start. */
export function storageEnv(): StorageEnv {
  return { vol: new Volume(nodeRuntime.disk, nodeRuntime.random), clock: nodeRuntime.clock, random: nodeRuntime.random };
}

export function openIdentity(dir: string, node: string, env = storageEnv()): Promise<Identity> {
  return Identity.open(env.vol, env.random, env.clock, dir, node);
}

export function openJournal(dir: string, log: Logger, opts: JournalOptions = {}, env = storageEnv()): Promise<Journal> {
  return Journal.open(env.vol, nodeRuntime.timers, dir, log, opts);
}

export function newStore(root: string, writer: StoreWriter | null, log: Logger, opts: StoreOptions = {}, env = storageEnv()): Store {
  return new Store(env, root, writer, log, opts);
}
