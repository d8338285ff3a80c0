// Entry point of a machine's REST app: ringstore-rest --id node1 [--config nodes.json]
import { Cluster } from '../coordinator/cluster.js';
import { startIntentSweeper } from '../coordinator/transactions.js';
import { PipeTransport } from '../net/client.js';
import { envTransportOptions } from '../node-env.js';
import { parseEntry, runProcess } from '../runtime/process.js';
import { Metrics } from './metrics.js';
import { createRestServer } from './server.js';

runProcess('rest', async () => {
  const env = await parseEntry('rest', 'Runs the REST app that coordinates quorum reads and writes.');
  const transport = new PipeTransport(env.rt, envTransportOptions(env));
  const cluster = new Cluster(env, transport);
  const server = createRestServer(cluster, new Metrics(cluster, env.logDropped), env.tls ?? null);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.self.restPort, env.self.host, () => resolve());
  });
  env.log.info('REST app listening', { host: env.self.host, port: env.self.restPort, scheme: env.tls ? 'https' : 'http' });
  // Transactions whose coordinator died are settled from their records (coordinator/transactions.ts).
  const sweeper = startIntentSweeper(cluster);
  return {
    log: env.log,
    stop: async () => {
      sweeper.cancel();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await transport.close();
    },
  };
});
