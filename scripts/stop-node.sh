#!/usr/bin/env bash
# Stop one machine's ringstore processes: scripts/stop-node.sh <id> [--config FILE]
# The supervisor stops the three processes it runs, then itself. Only the pids
# in that node's pid files are signalled, and only if they are ours.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
if [ ${#REST[@]} -ne 1 ]; then
  echo "usage: scripts/stop-node.sh <node id> [--config FILE]" >&2
  exit 2
fi
id="${REST[0]}"
ensure_built
eval "$(ctl env --config "$CONFIG" --id "$id")"
stopped=()
# stop PIDFILE ROLE: TERM, up to 10 s to exit, then KILL.
stop() {
  local pidfile="$1" role="$2" pid
  pid_alive "$pidfile" "$role" || return 0
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  stopped+=("$role")
}
stop "$NODE_DIR/supervisor.pid" supervisor
# What the supervisor did not stop (it was not running, or was killed): each process by its pid file.
for ((i = ${#ROLES[@]} - 1; i >= 0; i--)); do
  role="${ROLES[$i]}"
  stop "$NODE_DIR/$role.pid" "$role"
  rm -f "$NODE_DIR/$role.pid"
done
rm -f "$NODE_DIR/supervisor.pid"
echo "$id: stopped ${stopped[*]:-nothing (not running)}"
