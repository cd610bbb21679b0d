#!/usr/bin/env bash
# Every test, with lint, format check and type check. Called by `make test` and by CI.
# With arguments, they go to one pytest run; without, the suites run one after the other and
# each says how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh --dev
scripts/system-deps.sh
# The search engine of the store's live tests, assembled once from Maven Central (cached).
if command -v java >/dev/null && command -v mvn >/dev/null; then
  echo "==> search engine (scripts/engine.sh fetch)"; scripts/engine.sh fetch >/dev/null
fi

echo "==> ruff check";         .venv/bin/ruff check .
echo "==> ruff format --check"; .venv/bin/ruff format --check .
echo "==> mypy (strict)";      .venv/bin/mypy

if [ $# -gt 0 ]; then
  echo "==> pytest $*"; exec .venv/bin/pytest "$@"
fi
times=()
suite() {
  local name=$1; shift
  local started=$SECONDS
  echo "==> pytest: $name"
  .venv/bin/pytest "$@" || [ $? -eq 5 ]  # 5: nothing selected
  times+=("$(printf '%-44s %5d s' "$name" $((SECONDS - started)))")
}
started=$SECONDS
echo "==> release gate: build and gate the analytics bundle (scripts/release-gate.sh)"
scripts/release-gate.sh
times+=("$(printf '%-44s %5d s' "release gate (build + every check)" $((SECONDS - started)))")
# The unit and the integration suites run in parallel workers (pytest-xdist), the tests of one
# file in one worker (see tests/conftest.py); PYTEST_WORKERS sets how many (default: one a core).
# Tests marked serial (tests/conftest.py) run after them, alone.
parallel=(-n "${PYTEST_WORKERS:-auto}" --dist loadfile -m "not serial")
fast=(tests/integration tests/e2e --ignore=tests/integration/eventstore
      --ignore=tests/integration/box --ignore=tests/e2e/box)
suite "unit" tests/unit "${parallel[@]}"
suite "integration and end to end (without the slow)" "${fast[@]}" "${parallel[@]}"
suite "serial: tests that need the machine alone" tests/unit "${fast[@]}" -m serial
suite "slow: the engine store (node and cluster)" tests/integration/eventstore
for extra in tests/integration/box tests/e2e/box; do
  if [ -d "$extra" ]; then suite "slow: the city in a box ($extra)" "$extra"; fi
done
echo "==> time per suite"
printf '    %s\n' "${times[@]}"
