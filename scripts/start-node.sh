#!/usr/bin/env bash
# Start one machine's ringstore processes in the background and return once the
# node answers: scripts/start-node.sh <id> [--config FILE]
# Each process gets a pid file and a log file in <dataDir>/<id>/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
if [ ${#REST[@]} -ne 1 ]; then
  echo "usage: scripts/start-node.sh <node id> [--config FILE]" >&2
  exit 2
fi
id="${REST[0]}"
ensure_built
# A cluster is never started open: without a configured secret, generate one beside the config.
ctl ensure-secret --config "$CONFIG"
eval "$(ctl env --config "$CONFIG" --id "$id")"
mkdir -p "$NODE_DIR"
for role in "${ROLES[@]}"; do
  pidfile="$NODE_DIR/$role.pid"
  if pid_alive "$pidfile" "$role"; then
    echo "$id: $role already running (pid $(cat "$pidfile"))"
    continue
  fi
  # setsid: the processes outlive this shell and do not get its terminal's Ctrl-C.
  setsid node "$root/dist/$role/main.js" --config "$CONFIG" --id "$id" >>"$NODE_DIR/$role.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
done
if ! ctl wait --config "$CONFIG" --id "$id" --timeout "${RINGSTORE_START_TIMEOUT:-30}"; then
  echo "$id: see the logs in $NODE_DIR" >&2
  exit 1
fi
echo "$id: up (REST $REST_URL, socket $SOCKET_ADDR, data and logs in $NODE_DIR)"
