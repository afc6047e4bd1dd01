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
.venv/bin/python -m pytest "$@"
