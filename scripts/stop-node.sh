#!/usr/bin/env bash
# Stop one machine's ringstore processes: scripts/stop-node.sh <id> [--config FILE]
# Only the pids in that node's pid files are signalled, and only if they are ours.
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
for ((i = ${#ROLES[@]} - 1; i >= 0; i--)); do
  role="${ROLES[$i]}"
  pidfile="$NODE_DIR/$role.pid"
  if pid_alive "$pidfile" "$role"; then
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    stopped+=("$role")
  fi
  rm -f "$pidfile"
done
echo "$id: stopped ${stopped[*]:-nothing (not running)}"
