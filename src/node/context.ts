// What every socket handler of a node is given: its storage and its view of
// the buckets. Handlers get this object, never globals, so tests can build one.
import type { ClusterConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Identity } from '../storage/identity.js';
import type { Store } from '../storage/store.js';
import type { BucketRegistry } from './buckets.js';

export interface NodeContext {
  config: ClusterConfig;
  identity: Identity;
  store: Store;
  buckets: BucketRegistry;
  log: Logger;
}
