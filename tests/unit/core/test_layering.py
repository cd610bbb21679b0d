"""The shared core imports nothing else of the project; the layers keep their direction."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PROJECT = {
    "citysoc",
    "collectors",
    "eventstore",
    "detections",
    "soc_api",
    "infra",
    "citybox",
    "cityrange",
    "scenarios",
    "releases",
}


def imports_of(package: Path) -> set[str]:
    return {m for path in package.rglob("*.py") for m in imports_of_file(path)}


def imports_of_file(path: Path) -> set[str]:
    found: set[str] = set()
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


# What the Pulumi program and its policy pack may use of the release package: verifying a
# pinned bundle's decision, which itself needs only the shared core.
RELEASE_VERIFICATION = ("releases.signing", "releases.models")


def test_infra_imports_only_the_core() -> None:
    application = project_imports(REPO / "infra")
    assert application, "the Pulumi program builds on the topology model"
    ok = ("citysoc.core", "infra", *RELEASE_VERIFICATION)
    assert all(m.startswith(ok) for m in application), application


def test_release_verification_imports_only_the_core() -> None:
    for module in RELEASE_VERIFICATION:
        path = REPO / (module.replace(".", "/") + ".py")
        found = {m for m in imports_of_file(path) if m.split(".")[0] in PROJECT}
        assert all(m.startswith(("citysoc.core", *RELEASE_VERIFICATION)) for m in found), found


def test_citybox_imports_only_the_core_and_infra() -> None:
    application = project_imports(REPO / "citybox")
    ok = ("citysoc.core", "infra", "citybox")
    assert all(m.startswith(ok) for m in application), application


PRODUCT = (
    "citysoc", "collectors", "eventstore", "detections", "soc_api", "infra", "citybox", "cityrange",
)  # fmt: skip


def test_the_product_never_imports_the_made_up_traffic() -> None:
    for package in PRODUCT:
        found = {m for m in project_imports(REPO / package) if m.split(".")[0] == "scenarios"}
        assert found == set(), f"{package} imports {found}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports when it is loaded (not inside functions, nor for
    type checking only), each resolved to a module of the project."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.If | ast.Try):
            nodes += [*node.body, *node.orelse, *getattr(node, "finalbody", [])]
            nodes += [s for h in getattr(node, "handlers", []) for s in h.body]
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return {m for m in found if m in known}


def test_no_import_cycles() -> None:
    paths = [p for package in (*PRODUCT, "scenarios") for p in (REPO / package).rglob("*.py")]
    known = {module_name(p) for p in paths}
    graph = {module_name(p): module_level_imports(p, known) for p in paths}
    for name, deps in graph.items():  # a module's import also loads its parent packages
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
