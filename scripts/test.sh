#!/usr/bin/env bash
# One command for a developer or CI: set up, lint, type-check, run the tests and the eval gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,evals,torch
VENV=${PAPERCHAT_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"; pytest -q -p no:cacheprovider
if [ -f evals/gate.sh ]; then echo "== eval gate"; bash evals/gate.sh; fi
