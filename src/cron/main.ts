// Entry point of a machine's scheduler: ringstore-cron --id node1 [--config nodes.json]
// node-cron drives its workers: gossip (failure detection), handoff (hinted
// replicas to their owners), bucket-sync (anti-entropy of bucket records).
import { PipeTransport } from '../net/client.js';
import { envTransportOptions } from '../node-env.js';
import { cronTicker } from '../runtime/cron.js';
import { parseEntry, runProcess } from '../runtime/process.js';
import { startScheduler } from './scheduler.js';

runProcess('cron', async () => {
  const env = await parseEntry('cron', 'Runs gossip failure detection, hinted handoff and bucket anti-entropy on a schedule.');
  const transport = new PipeTransport(env.rt, envTransportOptions(env));
  const scheduler = await startScheduler(env, transport, cronTicker);
  return {
    log: env.log,
    stop: async () => {
      await scheduler.stop();
      await transport.close();
    },
  };
});
