// Entry point of a machine's socket server: ringstore-node --id node1 [--config nodes.json]
import { parseEntry, runProcess } from '../entry.js';
import { startNode } from './server.js';

runProcess('node', async () => {
  const { config, node, log } = await parseEntry('node', 'Runs the socket server that stores this machine\'s replicas.');
  const running = await startNode(config, node, log);
  return { stop: running.stop, log };
});
