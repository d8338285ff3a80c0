#!/usr/bin/env bash
# Start one machine's ringstore processes in the background and return once the
# node answers: scripts/start-node.sh <id> [--config FILE]
# A machine that is not in the config (one that is to join the running cluster
# through its seeds, see README "Adding and removing machines") also takes
#   --host HOST --port PORT --rest-port PORT
# A supervisor (dist/supervisor/main.js) starts the socket server, the REST app
# and the scheduler, and starts again any of them that exits, with a backoff.
# Pid files and log files are in <dataDir>/<id>/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
id=""
ADDR=()
set -- "${REST[@]}"
while [ $# -gt 0 ]; do
  case "$1" in
    --host|--port|--rest-port) [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }; ADDR+=("$1" "$2"); shift 2 ;;
    --host=*|--port=*|--rest-port=*) ADDR+=("$1"); shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) if [ -n "$id" ]; then id=""; break; fi; id="$1"; shift ;;
  esac
done
if [ -z "$id" ]; then
  echo "usage: scripts/start-node.sh <node id> [--config FILE] [--host HOST --port PORT --rest-port PORT]" >&2
  exit 2
fi
ensure_built
# A cluster is never started open: without a configured secret, generate one beside the config.
ctl ensure-secret --config "$CONFIG"
eval "$(ctl env --config "$CONFIG" --id "$id" ${ADDR[@]+"${ADDR[@]}"})"
mkdir -p "$NODE_DIR"
pidfile="$NODE_DIR/supervisor.pid"
if pid_alive "$pidfile" supervisor; then
  echo "$id: already running (supervisor pid $(cat "$pidfile"))"
  exit 0
fi
# Processes of an earlier start that outlived their supervisor (it was killed): stop them first.
for role in "${ROLES[@]}"; do
  if pid_alive "$NODE_DIR/$role.pid" "$role"; then kill -TERM "$(cat "$NODE_DIR/$role.pid")" 2>/dev/null || true; fi
done
# setsid: the processes outlive this shell and do not get its terminal's Ctrl-C.
setsid node "$root/dist/supervisor/main.js" --config "$CONFIG" --id "$id" ${ADDR[@]+"${ADDR[@]}"} >>"$NODE_DIR/supervisor.log" 2>&1 </dev/null &
echo $! >"$pidfile"
if ! ctl wait --config "$CONFIG" --id "$id" ${ADDR[@]+"${ADDR[@]}"} --timeout "${RINGSTORE_START_TIMEOUT:-30}"; then
  echo "$id: see the logs in $NODE_DIR" >&2
  exit 1
fi
echo "$id: up (REST $REST_URL, socket $SOCKET_ADDR, data and logs in $NODE_DIR)"
