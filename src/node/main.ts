// Entry point of a machine's socket server: ringstore-node --id node1 [--config nodes.json]
import { parseEntry, runProcess } from '../runtime/process.js';
import { startNode } from './server.js';

runProcess('node', async () => {
  const env = await parseEntry('node', 'Runs the socket server that stores this machine\'s replicas.');
  const running = await startNode(env);
  return { stop: running.stop, log: env.log };
});
