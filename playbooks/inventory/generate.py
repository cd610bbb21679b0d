"""Write the Ansible inventory (JSON) from the topology, or from Pulumi stack outputs.

python playbooks/inventory/generate.py --topology citysoc/core/cities/hcmc.yml > inv.json
pulumi stack output --json > outputs.json
python playbooks/inventory/generate.py --stack-outputs outputs.json > inv.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from citysoc.core.topology import load_topology
from infra.inventory import inventory


def from_stack_outputs(path: Path) -> dict[str, Any]:
    outputs = json.loads(path.read_text(encoding="utf-8"))
    found = outputs.get("inventory", outputs)
    if not isinstance(found, dict) or "all" not in found:
        raise SystemExit(f"{path}: no 'inventory' output shaped as an Ansible inventory")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--topology", type=Path, help="a city topology YAML file")
    source.add_argument("--stack-outputs", type=Path, help="`pulumi stack output --json` file")
    args = parser.parse_args(argv)
    if args.stack_outputs:
        found = from_stack_outputs(args.stack_outputs)
    else:
        found = inventory(load_topology(args.topology))
    sys.stdout.write(json.dumps(found, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
