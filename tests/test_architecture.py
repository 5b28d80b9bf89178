"""The layer rules of docs/architecture.md, enforced (issue 27 item 7).

Every module of ``analysis/`` belongs to one layer; it imports only from its own layer and the
layers below (ingest and the store sit side by side: ingest writes into the store, the store
never imports ingest); no module reaches for another module's private name; the imports form
no cycle. Imports inside functions count: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ast_imports import from_module

PACKAGE = Path(__file__).resolve().parents[1] / "analysis"

# docs/architecture.md's table, bottom up; a module not listed fails test_every_module_has_a_layer
LAYERS = {
    "foundation": ("config", "settings", "errors", "table_specs", "schemas", "privacy",
                   "regions", "estimators", "keywords"),
    "store": ("store",),
    "ingest": ("ingest", "synthetic", "demo_exports"),
    "statistics": ("counting", "nps", "drivers", "growth", "rootcause", "stars", "alarms", "css",
                   "cases", "incidents", "repairs", "actions", "retention", "funnel",
                   "coverage", "calibration", "validation", "engine"),
    "report": ("report",),
    "top": ("__main__", "__init__"),
}
# what each layer may import besides itself
MAY_IMPORT = {
    "foundation": set(),
    "store": {"foundation"},
    "ingest": {"foundation", "store"},
    "statistics": {"foundation", "store"},
    "report": {"foundation", "store", "ingest", "statistics"},
    "top": {"foundation", "store", "ingest", "statistics", "report"},
}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def layer_of(module: str) -> str | None:
    """The layer of ``analysis.x`` or ``analysis.x.y`` (its first part below the package)."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    return next((layer for layer, names in LAYERS.items() if head in names), None)


def imports(source: str, module: str) -> list[tuple[str, int]]:
    """The ``analysis`` modules ``source`` imports (with the line), relative imports resolved
    against ``module``; ``from analysis import x`` counts as ``analysis.x``."""
    out = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("analysis")]
        elif isinstance(node, ast.ImportFrom):
            base = from_module(node, package)
            if not base.startswith("analysis"):
                continue
            if base in ("analysis", "analysis.report", "analysis.rootcause"):
                out += [(f"{base}.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((base, node.lineno))
    return out


def private_reaches(source: str, module: str) -> list[str]:
    """Where ``source`` takes a private name of another analysis module: ``from analysis.x
    import _y`` or ``x._y`` on a module it imported as ``x``."""
    found = []
    aliases: dict[str, str] = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis"):
            for a in node.names:
                target = f"{node.module}.{a.name}"
                if a.name.startswith("_") and node.module != module and a.name != "__version__":
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                aliases[a.asname or a.name] = target
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("analysis") and a.asname:
                    aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in aliases and aliases[node.value.id] != module
                and _is_module(aliases[node.value.id])):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return ((PACKAGE / relative).with_suffix(".py").exists()
            or (PACKAGE / relative / "__init__.py").exists())


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_has_a_layer(module):
    assert layer_of(module), (f"{module} belongs to no layer: add it to docs/architecture.md's "
                              "table and to LAYERS here")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = layer_of(module)
    upward = [f"line {line}: {target} ({layer_of(target)})"
              for target, line in imports(MODULES[module].read_text(encoding="utf-8"), module)
              if layer_of(target) not in {mine, *MAY_IMPORT[mine]}]
    assert not upward, f"{module} ({mine}) imports from a layer above or beside it: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_takes_another_modules_private_name(module):
    found = private_reaches(MODULES[module].read_text(encoding="utf-8"), module)
    assert not found, f"{module} reaches into another module's private names: {found}"


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        targets = {t for t, _ in imports(path.read_text(encoding="utf-8"), module)}
        graph[module] = {t if t in MODULES else t.rsplit(".", 1)[0] for t in targets} - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (one path per cycle found by depth-first search),
    a package's ``__init__`` re-exporting its own submodules not counted."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodules
                continue
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_imports_form_no_cycle():
    assert not cycles(_graph())


def test_the_checks_catch_what_they_should():
    """A negative test of each check on synthetic sources."""
    assert layer_of("analysis.nps") == "statistics" and layer_of("analysis.report.x") == "report"
    assert ("analysis.report.tables", 1) in imports(
        "from analysis.report import tables", "analysis.nps")
    assert ("analysis.store", 1) in imports("from analysis import store", "analysis.settings")
    assert private_reaches("from analysis.store import _commits", "analysis.ingest")
    assert private_reaches("from analysis import store\nstore._commits()", "analysis.ingest")
    assert not private_reaches("from analysis import store\nstore.commit_log()",
                               "analysis.ingest")
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert not cycles({"p": {"p.x"}, "p.x": set()})
