#!/usr/bin/env bash
# The release gate as CI runs it on every change: build the analytics bundle of this tree and
# gate it with a throwaway key (the decision shows the checks ran; real releases are signed
# with the release key, see docs/releases.md). Arguments go to `citysoc release gate`
# (e.g. --range score.json). The SigmaHQ corpus is checked when found at $RELEASE_GATE_CORPUS
# (default: ../shared/corpus/sigmahq/rules beside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus_dir=${RELEASE_GATE_CORPUS:-../shared/corpus/sigmahq/rules}
corpus=()
if [ -d "$corpus_dir" ]; then corpus=(--corpus "$corpus_dir"); fi
.venv/bin/citysoc release keygen --out "$work/ci-release.pem" >/dev/null
.venv/bin/citysoc release build --out "$work"
CITYSOC_RELEASE_SIGNING_KEY="$work/ci-release.pem" \
  .venv/bin/citysoc release gate "$work"/citysoc-analytics-*/ "${corpus[@]}" "$@"
