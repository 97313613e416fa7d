#!/usr/bin/env bash
# Create .venv (or $PAPERCHAT_VENV) and install paperchat with its test extras.
# torch is pinned to a range that resolves to the local CPU wheel on these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PAPERCHAT_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
