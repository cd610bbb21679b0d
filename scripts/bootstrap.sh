#!/usr/bin/env bash
# Create or update .venv from uv.lock (the one lock file). Usage: scripts/bootstrap.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "citysoc needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  UV=uv
else
  UV=.tools/bin/uv
  if [ ! -x "$UV" ] || [ "$("$UV" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "==> installing uv $UV_VERSION into .tools/"
    if ! "$PYTHON" -m venv .tools >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv .tools
      else
        echo "Python cannot create virtual environments: install it with 'sudo apt-get install python3-venv'." >&2
        exit 1
      fi
    fi
    if ! .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
        >.tools/pip.log 2>&1; then
      cat .tools/pip.log >&2
      exit 1
    fi
  fi
fi

# Bytecode is compiled here, once: where PYTHONDONTWRITEBYTECODE is set, every process (and the
# collectors' delivery processes) would otherwise compile each module it imports, every time.
args=(sync --locked --compile-bytecode --python "$PYTHON" --extra native)
if [ "${1:-}" = "--dev" ]; then args+=(--extra dev); else args+=(--inexact); fi
echo "==> installing citysoc and its locked dependencies into .venv/"
UV_PROJECT_ENVIRONMENT=.venv "$UV" "${args[@]}" --quiet
.venv/bin/python -m compileall -q -j 0 citysoc collectors eventstore detections soc_api infra

# The EVE hot path compiled to C (mypyc); until it is, the same modules run as Python.
# A build of the same sources is restored from the machine's cache in a moment. Otherwise
# compiling takes minutes: for the demo (no --dev) it goes on in the background, so the SOC
# starts at once; for the tests it runs here, since they check the compiled modules too.
native() { .venv/bin/python -m citysoc.cli.main native "$@"; }
if ! native --restore-only >/dev/null; then
  mkdir -p build/native
  if [ "${1:-}" = "--dev" ]; then
    native || echo "warning: the hot-path modules run as Python (slower); see build/native/build.log" >&2
  else
    echo "==> compiling the EVE hot path in the background (log: build/native/background.log);"
    echo "    until it is done, the same modules run as Python"
    nohup .venv/bin/python -m citysoc.cli.main native >build/native/background.log 2>&1 &
  fi
fi
