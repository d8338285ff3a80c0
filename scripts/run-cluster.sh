#!/usr/bin/env bash
# npm start: run the local cluster of the config in the foreground; Ctrl-C stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
stop() {
  trap - INT TERM
  echo
  "$root/scripts/stop-cluster.sh" --config "$CONFIG"
  exit 0
}
trap stop INT TERM
"$root/scripts/start-cluster.sh" --config "$CONFIG"
echo
ids=($(ctl ids --config "$CONFIG"))
first="${ids[0]}"
eval "$(ctl env --config "$CONFIG" --id "$first")"
echo "ringstore is running. Try:  curl -X POST $REST_URL/buckets/demo"
echo "Press Ctrl-C to stop the cluster."
while true; do sleep 1; done
