#!/usr/bin/env bash
# Proof that the simulator finds bugs: plant one of the bugs of this folder in a
# throwaway worktree of HEAD (never merged), build it, and run the simulator
# over SEEDS seeds (default 300) with two workers.
#   docs/planted-bugs/run.sh journal|twice|dots|lww|hint [SEEDS]
set -euo pipefail
name="${1:?usage: docs/planted-bugs/run.sh journal|twice|dots|lww|hint [SEEDS]}"
seeds="${2:-300}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
wt="$(mktemp -d)/ringstore-planted-$name"
cleanup() { git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || true; }
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$wt" HEAD
ln -s "$root/node_modules" "$wt/node_modules"
git -C "$wt" apply "$root/docs/planted-bugs/$name.diff"
(cd "$wt" && npx tsc -p tsconfig.build.json)
out="$(mktemp)"
node "$wt/dist/sim/main.js" --seeds "$seeds" --jobs 2 >"$out" 2>&1 || true
first="$(grep -E '^seed [0-9]+: FAILED' "$out" | sed -E 's/^seed ([0-9]+).*/\1/' | sort -n | head -1)"
echo "$name: first failing seed ${first:-none}; $(tail -1 "$out")"
grep -E -A3 "^seed ${first:-x}: FAILED" "$out" | head -4
