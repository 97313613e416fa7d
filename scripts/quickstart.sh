#!/usr/bin/env bash
# One command for a new user: set up, index the bundled 119-paper collection, open the chat.
# Pass arguments to run another command instead of the chat, e.g.
#   scripts/quickstart.sh ask "what Dice score did the brachytherapy model reach?"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${PAPERCHAT_VENV:-.venv}
# Index (or refresh) the bundled collection, unless this checkout already did it with these
# settings: a stamp in the venv saves a process start (~1.5 s CPU) on every later run. If the
# data directory was emptied meanwhile, `ask`, `search` and `chat` fill it on their own.
STAMP="$VENV/.paperchat-ingested"
KEY=$( { git rev-parse HEAD 2>/dev/null || true; cat ingest/data/*;
       env | grep '^PAPERCHAT_' | sort || true; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$KEY" ]; then
  "$VENV/bin/paperchat" ingest
  echo "$KEY" > "$STAMP"
fi
if [ "$#" -gt 0 ]; then
  exec "$VENV/bin/paperchat" "$@"
elif [ -t 0 ] && [ -t 1 ]; then
  exec "$VENV/bin/paperchat" chat
else
  # No terminal (CI, a pipe): show that the collection answers instead of opening the TUI.
  exec "$VENV/bin/paperchat" ask "Which papers pretrain graph neural networks?"
fi
