// Talking to a node's socket port from a test, as another node would: it
// authenticates with the test cluster's secret as one of its members.
import { PipeTransport } from '../../src/net/client.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { silentLogger } from '../../src/log.js';
import type { KeyState } from '../../src/protocol/messages.js';
import { TEST_SECRET, type NodeEntry } from './cluster.js';

export const TEST_LIMITS = { handshakeTimeoutMs: 2000, maxUnauthenticated: 64, idleTimeoutMs: 300_000, maxInFlightPerConnection: 256 };

export function peerClient(t: { teardown(fn: () => unknown): void }, as = 'node1', secret = TEST_SECRET): PipeTransport {
  const tr = new PipeTransport(nodeRuntime, {
    self: as,
    secret: Buffer.from(secret),
    maxFrameBytes: 1 << 26,
    requestTimeoutMs: 3000,
    connectTimeoutMs: 1000,
    limits: TEST_LIMITS,
    log: silentLogger(),
  });
  t.teardown(() => tr.close());
  return tr;
}

export async function replicaState(tr: PipeTransport, node: NodeEntry, bucket: string, file: string): Promise<KeyState | null> {
  const { reply } = await tr.request({ id: node.id, host: node.host, port: node.port }, { type: 'read', ns: bucket, key: file, bodies: 'none' });
  return reply.state;
}
