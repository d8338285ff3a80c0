// Entry point of a machine's REST app: ringstore-rest --id node1 [--config nodes.json]
import { Cluster } from '../coordinator/cluster.js';
import { clusterSecret } from '../config.js';
import { parseEntry, runProcess } from '../entry.js';
import { TcpTransport, tcpOptions } from '../net/tcp.js';
import { createRestServer } from './server.js';

runProcess('rest', async () => {
  const { config, node, log } = await parseEntry('rest', 'Runs the REST app that coordinates quorum reads and writes.');
  const transport = new TcpTransport(tcpOptions(config, node.id, clusterSecret(config), log));
  const cluster = new Cluster(config, node.id, transport, log);
  const server = createRestServer(cluster);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(node.restPort, node.host, () => resolve());
  });
  log.info('REST app listening', { host: node.host, port: node.restPort });
  return {
    log,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await transport.close();
    },
  };
});
