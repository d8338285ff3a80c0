// The JSON shape of every write answer, as the original store gave it: who
// coordinated, the preference list, the replicas written and each one's clock.
import type { Cluster } from '../coordinator/cluster.js';
import type { WriteOutcome } from '../coordinator/write.js';
import { encodeContext } from '../clock/context-token.js';

export function writeAnswer(cluster: Cluster, outcome: WriteOutcome, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    success: true,
    coordinator: cluster.self,
    ...extra,
    version: outcome.version,
    pref_list: outcome.preferenceList,
    replicas_written: outcome.written,
    vector_clock_list: outcome.clocks,
    context: encodeContext(cluster.contextKey, outcome.state.context),
    ...(outcome.down.length ? { down_system_data: outcome.down } : {}),
    ...(outcome.hinted.length ? { hinted_system_data: outcome.hinted } : {}),
    ...(outcome.failed.length ? { replicas_failed: outcome.failed } : {}),
  };
}
