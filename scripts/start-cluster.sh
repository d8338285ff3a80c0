#!/usr/bin/env bash
# Start every node of the config on this machine: scripts/start-cluster.sh [--config FILE]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
ensure_built
ctl ensure-secret --config "$CONFIG"
for id in $(ctl ids --config "$CONFIG"); do
  "$root/scripts/start-node.sh" "$id" --config "$CONFIG"
done
# Each node has been started after the others' schedulers began watching for it:
# wait until every gossip view has caught up, so that the cluster is ready when this returns.
ctl converge --config "$CONFIG" --timeout "${RINGSTORE_START_TIMEOUT:-30}"
