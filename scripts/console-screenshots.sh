#!/usr/bin/env bash
# Screenshots of the console for docs/console.md: an analyst's path (overview → pivot → case
# → notifications) in Vietnamese and English at desktop (1280 px) and phone (390 px) widths,
# taken in a real headless Chromium by the accessibility test (which also checks each page
# with axe-core), copied to docs/images/console/ and listed in docs/console.md between its
# screenshot markers. Usage: scripts/console-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-deps.sh
rm -rf artifacts/console/story
.venv/bin/pytest -q -p no:cacheprovider tests/e2e/test_console_accessibility.py -k analyst_s_path
mkdir -p docs/images/console
rm -f docs/images/console/*.png
cp artifacts/console/story/*.png docs/images/console/

.venv/bin/python - <<'PY'
import json
import re
from pathlib import Path

reached = json.loads(Path("artifacts/console/story/reached.json").read_text())
names = {
    "overview": "Overview: alerts over time, by agency, top rules and entities, the city map",
    "pivot": "Pivot: one entity's events, alerts, incidents and the agencies that saw it",
    "case": "Case: opened from an incident, with its alerts, tasks, comments and timeline",
    "notifications": "Notifications: what was sent for critical alerts and case changes",
}
lines = [
    "<!-- screenshots:start (written by scripts/console-screenshots.sh) -->",
    "",
    "## Screenshots: overview → pivot → case → notifications",
    "",
    "Taken by `scripts/console-screenshots.sh` in a headless Chromium from the demo's data, as",
    "the city SOC's analyst; each page passed axe-core with no serious or critical violation",
    "in both languages and at both widths (`tests/e2e/test_console_accessibility.py`).",
    "",
]
missing = [step for step, path in reached.items() if not path]
for number, (step, path) in enumerate(reached.items(), start=1):
    if not path:
        continue
    lines += [f"### {number}. {names.get(step, step)}", "", f"`{path}`", ""]
    lines += ["| | Tiếng Việt | English |", "|---|---|---|"]
    for width in ("desktop", "phone"):
        cells = [
            f"![{step}, {lang}, {width}](images/console/{lang}-{width}-{number}-{step}.png)"
            for lang in ("vi", "en")
        ]
        lines.append(f"| {width} | {cells[0]} | {cells[1]} |")
    lines.append("")
if missing:
    lines += [f"Not in the console when these were taken: {', '.join(missing)}.", ""]
lines.append("<!-- screenshots:end -->")
section = "\n".join(lines)
doc = Path("docs/console.md")
text = doc.read_text("utf-8") if doc.exists() else "# The console\n"
pattern = re.compile(r"<!-- screenshots:start.*?<!-- screenshots:end -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
doc.write_text(text, "utf-8")
PY
echo "docs/console.md: screenshots of $(ls docs/images/console/*.png | wc -l) pages written"
