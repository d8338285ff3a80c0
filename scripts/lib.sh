# Shared by the scripts: where the project is, the --config option, and pid files.
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
ROLES=(node rest cron)

ensure_built() {
  if [ ! -f "$root/dist/tools/ctl.js" ]; then
    (cd "$root" && npm run --silent build) >&2
  fi
}

ctl() { node "$root/dist/tools/ctl.js" "$@"; }

# parse_config_opt ARGS...: sets CONFIG (default nodes.json in the project) and REST (the other args).
parse_config_opt() {
  CONFIG="${RINGSTORE_CONFIG:-$root/nodes.json}"
  REST=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --config|-c) CONFIG="$2"; shift 2 ;;
      --config=*) CONFIG="${1#*=}"; shift ;;
      *) REST+=("$1"); shift ;;
    esac
  done
  CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
}

# pid_alive PIDFILE ROLE: the pid in the file is running and is our process of that role.
pid_alive() {
  local pidfile="$1" role="$2" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [ -n "$pid" ] && running "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "dist/$role/main.js"
}

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != "Z" ]
}
