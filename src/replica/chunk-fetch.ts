// A chunk's bytes from the first of some nodes that holds a good copy (its
// bytes hash to its name): what a coordinator's download and a scheduler's
// chunk scrub both need. Why each node was passed over is returned with the
// bytes, for an error that names them.
import type { PeerAddress, Transport } from '../net/transport.js';
import { sha256Hex } from '../storage/chunks.js';

export async function fetchGoodChunk(
  transport: Transport,
  hash: string,
  nodes: readonly string[],
  address: (node: string) => PeerAddress,
): Promise<{ bytes: Buffer | null; passed: Array<{ node: string; why: string }> }> {
  const passed: Array<{ node: string; why: string }> = [];
  for (const node of nodes) {
    try {
      const { reply, body } = await transport.request(address(node), { type: 'chunk_get', hash });
      if (reply.size === null) passed.push({ node, why: 'not held' });
      else if (sha256Hex(body) !== hash) passed.push({ node, why: 'damaged' });
      else return { bytes: body, passed };
    } catch (err) {
      passed.push({ node, why: (err as Error).message });
    }
  }
  return { bytes: null, passed };
}
