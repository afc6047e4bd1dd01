#!/usr/bin/env bash
# The whole check, as CI runs it: set up, lint, type-check, then every test against real services.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
# It has just installed every service the tests use, so a missing one is a failure, never a skip.
export CI="${CI:-1}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The dashboard's pure modules, with Node's own runner (no npm packages). The files, not the folder: node 21 and
# later take `node --test tests/js/` for one file to run (nodejs/node#50219).
node --test tests/js/*.test.mjs
.venv/bin/python -m pytest "$@"
