// What every part of one machine's ringstore is given: the runtime (clock,
// timers, random source, disk, network), the config, which member it is, the
// current membership, the cluster secret and a logger. The three processes of
// a machine each build one (src/*/main.ts); the simulator builds one per
// simulated machine.
import type { ClusterConfig } from './config.js';
import type { Logger } from './log.js';
import { transportOptions, type TransportOptions } from './net/transport.js';
import type { MemberSpec, Membership } from './ring/membership.js';
import type { Runtime } from './runtime/runtime.js';
import type { TlsFiles } from './runtime/tls.js';

export interface NodeEnv {
  rt: Runtime;
  config: ClusterConfig;
  /** This machine. */
  self: MemberSpec;
  membership: Membership;
  secret: Buffer;
  log: Logger;
  /** Everything this machine keeps lives under this folder. */
  dir: string;
  /** This machine's TLS certificate, key and the cluster's CA, when the config turns TLS on (then the REST port serves HTTPS). */
  tls?: TlsFiles | null;
  /** Log lines this process could not write (its log sink counts them); none in a simulation. */
  logDropped?: () => number;
}

export function envTransportOptions(env: NodeEnv): TransportOptions {
  return transportOptions(env.config, env.self.id, env.secret, env.log);
}
