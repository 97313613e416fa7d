#!/usr/bin/env bash
# One command for a new user: set up, index the bundled 119-paper collection, open the chat.
# Pass arguments to run another command instead of the chat, e.g.
#   scripts/quickstart.sh ask "what Dice score did the brachytherapy model reach?"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${PAPERCHAT_VENV:-.venv}
"$VENV/bin/paperchat" ingest
if [ "$#" -gt 0 ]; then
  exec "$VENV/bin/paperchat" "$@"
elif [ -t 0 ] && [ -t 1 ]; then
  exec "$VENV/bin/paperchat" chat
else
  # No terminal (CI, a pipe): show that the collection answers instead of opening the TUI.
  exec "$VENV/bin/paperchat" ask "Which papers pretrain graph neural networks?"
fi
