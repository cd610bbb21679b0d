"""infra/ imports nothing of the application except the shared core."""

import ast
from pathlib import Path

INFRA = Path(__file__).resolve().parents[3] / "infra"
APPLICATION = {"citysoc", "collectors", "eventstore", "detections", "soc_api"}


def test_infra_imports_only_the_core() -> None:
    found = set()
    for path in INFRA.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    application = {m for m in found if m.split(".")[0] in APPLICATION}
    assert application and all(m.startswith("citysoc.core") for m in application), application
