#!/usr/bin/env bash
# Run the SOC on its embedded default with demo data. Called by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/citysoc demo "$@"
