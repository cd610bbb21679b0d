#!/usr/bin/env bash
# Every test, with lint, format check and type check. Called by `make test` and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh --dev
scripts/system-deps.sh

echo "==> ruff check";         .venv/bin/ruff check .
echo "==> ruff format --check"; .venv/bin/ruff format --check .
echo "==> mypy (strict)";      .venv/bin/mypy
echo "==> pytest";             .venv/bin/pytest "$@"
