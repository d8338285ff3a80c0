#!/usr/bin/env bash
# Stop every node of the config on this machine: scripts/stop-cluster.sh [--config FILE]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
ensure_built
for id in $(ctl ids --config "$CONFIG"); do
  "$root/scripts/stop-node.sh" "$id" --config "$CONFIG"
done
