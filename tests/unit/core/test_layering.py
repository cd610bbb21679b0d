"""The shared core imports nothing else of the project; the layers keep their direction."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PROJECT = {"citysoc", "collectors", "eventstore", "detections", "soc_api", "infra", "citybox"}


def imports_of(package: Path) -> set[str]:
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


def project_imports(package: Path) -> set[str]:
    return {name for name in imports_of(package) if name.split(".")[0] in PROJECT}


def test_core_imports_only_itself() -> None:
    outside = {
        m for m in project_imports(REPO / "citysoc" / "core") if not m.startswith("citysoc.core")
    }
    assert outside == set()


def test_data_flow_direction() -> None:
    allowed = {
        "eventstore": {"citysoc.core", "eventstore"},
        "collectors": {"citysoc.core", "eventstore", "collectors"},
        "detections": {"citysoc.core", "eventstore", "detections"},
    }
    for package, ok in allowed.items():
        bad = {m for m in project_imports(REPO / package) if not any(m.startswith(p) for p in ok)}
        assert bad == set(), f"{package} imports {bad}"


def test_infra_imports_only_the_core() -> None:
    application = project_imports(REPO / "infra")
    assert application, "the Pulumi program builds on the topology model"
    assert all(m.startswith("citysoc.core") or m.startswith("infra") for m in application)


def test_citybox_imports_only_the_core_and_infra() -> None:
    application = project_imports(REPO / "citybox")
    ok = ("citysoc.core", "infra", "citybox")
    assert all(m.startswith(ok) for m in application), application
