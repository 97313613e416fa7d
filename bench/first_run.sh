#!/usr/bin/env bash
# A new user's first run, timed: clone REF into a fresh folder, run scripts/quickstart.sh
# without a terminal (it answers a sample question) with an empty data directory, then
# twice more; report each phase's wall and CPU seconds and the venv's size.
#   bash bench/first_run.sh [REF] [WORKDIR]      (REF default HEAD; WORKDIR default a temp dir)
# pip's cache is whatever this machine has (warm on the project's machines). CPU seconds
# (user+sys, children included) do not depend on other load; wall seconds do.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
REF=${1:-HEAD}
WORK=${2:-$(mktemp -d)}
CLONE="$WORK/clone"
rm -rf "$CLONE" "$WORK/home"
git clone -q "$REPO" "$CLONE"
git -C "$CLONE" checkout -q "$(git -C "$REPO" rev-parse "$REF")"
export PAPERCHAT_HOME="$WORK/home"
cd "$CLONE"
echo "ref $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
t() { /usr/bin/time -f "$1: wall %e s, cpu %U+%S s" "${@:2}"; }
t "first quickstart" bash scripts/quickstart.sh > "$WORK/first.log" 2>&1 || {
  tail -20 "$WORK/first.log"; exit 1; }
tail -1 "$WORK/first.log"
echo "venv: $(du -sh .venv | cut -f1)"
for i in 1 2; do
  t "quickstart again ($i)" bash scripts/quickstart.sh > "$WORK/again-$i.log" 2>&1
  tail -1 "$WORK/again-$i.log"
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg); logs in $WORK"
