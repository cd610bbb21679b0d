#!/usr/bin/env bash
# Screenshots of the console's overview for docs/console.md ("The overview"): desktop
# (1400 px) and phone (390 px) widths, Vietnamese and English, taken in a real headless
# Chromium from the demo's data by tests/e2e/test_console_layout_browser.py (which also
# follows a map tile and a bar to the filtered queue). Usage: scripts/overview-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rm -f artifacts/console-layout/overview-*.png
.venv/bin/pytest -q -p no:cacheprovider tests/e2e/test_console_layout_browser.py \
  -k overview_leads_to_the_filtered_queue
mkdir -p docs/images/overview
for lang in vi en; do
  for width in desktop phone; do
    cp "artifacts/console-layout/overview-$lang-$width.png" docs/images/overview/
  done
done
echo "docs/images/overview/: $(ls docs/images/overview/*.png | wc -l) screenshots"
