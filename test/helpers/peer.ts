// Talking to a node's socket port from a test, as another node would.
import { TcpTransport } from '../../src/net/tcp.js';
import { silentLogger } from '../../src/log.js';
import type { KeyState } from '../../src/protocol/messages.js';
import type { NodeEntry } from './cluster.js';

export function peerClient(t: { teardown(fn: () => unknown): void }): TcpTransport {
  const tr = new TcpTransport({ self: 'test', maxFrameBytes: 1 << 26, requestTimeoutMs: 3000, connectTimeoutMs: 1000, log: silentLogger() });
  t.teardown(() => tr.close());
  return tr;
}

export async function replicaState(tr: TcpTransport, node: NodeEntry, bucket: string, file: string): Promise<KeyState | null> {
  const { reply } = await tr.request({ id: node.id, host: node.host, port: node.port }, { type: 'read', ns: bucket, key: file, bodies: 'none' });
  return reply.state;
}
