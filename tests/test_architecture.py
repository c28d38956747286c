"""The import graph of the shipped packages, read from the source (every import, including lazy
ones inside functions and those under TYPE_CHECKING): arrows point one way and nothing forms a
cycle. STYLE.md: cli -> runner -> probes; cli -> aggregator; cli -> reports; everyone -> model."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("homecheck", "probes", "reports")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module `name` refers to (a module, or a name inside a module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> Iterator[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        for name in names:
            found = _resolve(name)
            if found is not None and found != module:
                yield found


GRAPH = {module: set(_imports(module)) for module in MODULES}


def _importers(prefix: str, *, of: str) -> list[str]:
    return sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m == prefix or m.startswith(prefix + ".")
        for t in targets
        if t == of or t.startswith(of + ".")
    )


def test_the_graph_is_read() -> None:
    # A broken reader would pass every rule below: check it sees a few known arrows.
    assert "homecheck.wire" in GRAPH["homecheck.server.udp_echo"]
    assert "homecheck.model" in GRAPH["probes.system"]
    assert "probes.audio" in GRAPH["homecheck.registry"]  # imported inside a function


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("probes", "homecheck.server"),  # the client never needs the server package
        ("probes", "homecheck.cli"),
        ("probes", "homecheck.runner"),
        ("probes", "homecheck.aggregator"),
        ("probes", "reports"),  # a probe never imports a report
        ("reports", "probes"),  # a renderer never runs a probe
        ("reports", "homecheck.server"),
        ("homecheck.aggregator", "probes"),  # the aggregator is pure
        ("homecheck.aggregator", "reports"),
        ("homecheck.model", "probes"),
        ("homecheck.wire", "homecheck.server"),  # the wire format belongs to neither side
        ("homecheck.wire", "probes"),
        ("probes.network.analysis", "probes.network.employer"),  # the maths does no I/O
        ("probes.network.analysis", "probes.network.public"),
    ],
)
def test_arrows_point_one_way(importer: str, imported: str) -> None:
    assert _importers(importer, of=imported) == []


def test_renderers_present_the_aggregators_decisions_without_importing_it() -> None:
    # One exception: reading a saved version-1 JSON report (json_report.loads), which recorded no
    # causes, asks the aggregator for them; rendering never does.
    allowed = {"reports.json_report -> homecheck.aggregator"}
    assert set(_importers("reports", of="homecheck.aggregator")) <= allowed


def test_no_renderer_imports_another() -> None:
    renderers = {"reports.terminal", "reports.markdown", "reports.html", "reports.json_report"}
    crossing = sorted(f"{m} -> {t}" for m in renderers for t in GRAPH[m] if t in renderers)
    assert crossing == []


def test_the_wire_module_depends_on_nothing_of_the_project() -> None:
    assert GRAPH["homecheck.wire"] == set()


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components over module imports (a package's __init__
    importing its own submodules is a cycle too, when they import it back)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []
