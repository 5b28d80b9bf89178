"""The layers of docs/architecture.md, checked on the import graph of analysis/.

Every module is parsed with ``ast`` (nothing is imported), and every import statement counts,
at the top of the module or inside a function. Below the report layer (everything in
analysis/ but the report package and the command line) no module may import a drawing,
notebook or HTML library, nor the report package.
"""

import ast
from pathlib import Path

import pytest
from ast_imports import from_module

PACKAGE = Path(__file__).resolve().parents[1] / "analysis"
REPORT = "analysis.report"
# what only the report layer (and the notebooks above it) may use
PRESENTATION = ("matplotlib", "seaborn", "papermill", "nbconvert", "nbformat", "IPython",
                REPORT)
# above the report layer: the command line renders reports
ABOVE_REPORT = {"analysis.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved;
    ``from analysis import report`` counts as importing ``analysis.report``."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = from_module(node, package)
            names.add(parent)
            names.update(f"{parent}.{alias.name}" for alias in node.names)
    return names


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Presentation imports of a module below the report layer (empty for the report layer)."""
    if module == REPORT or module.startswith(REPORT + ".") or module in ABOVE_REPORT:
        return []
    found = imported(source, module, is_package=is_package)
    return sorted(name for name in found
                  if any(name == p or name.startswith(p + ".") for p in PRESENTATION))


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: module_name(p))
def test_no_module_below_the_report_layer_imports_presentation(path):
    module = module_name(path)
    bad = violations(path.read_text(encoding="utf-8"), module,
                     is_package=path.name == "__init__.py")
    assert not bad, (f"{module} (below the report layer) imports {bad}: move the drawing or "
                     "formatting to analysis/report/ (docs/architecture.md)")


def test_the_statistics_modules_are_checked():
    checked = {module_name(p) for p in _modules()}
    for name in ("nps", "css", "drivers", "growth", "rootcause", "cases", "incidents",
                 "repairs", "engine", "store", "ingest", "synthetic"):
        assert f"analysis.{name}" in checked
    assert "analysis.report.charts" in checked  # the report layer is parsed, and allowed


def test_the_check_catches_each_kind_of_import():
    source = "\n".join([
        "import numpy as np",
        "import matplotlib.pyplot as plt",
        "from seaborn import barplot",
        "from analysis import nps, report",
        "def f():",
        "    import papermill",
        "    from IPython.display import display",
        "    from .report.format import nps as fmt",
        "    from analysis.report.tables import headline_table",
        "    import analysis.report.charts",
    ])
    assert violations(source, "analysis.nps") == [
        "IPython.display", "IPython.display.display", "analysis.report",
        "analysis.report.charts", "analysis.report.format", "analysis.report.format.nps",
        "analysis.report.tables", "analysis.report.tables.headline_table",
        "matplotlib.pyplot", "papermill", "seaborn", "seaborn.barplot"]
    # the same text is allowed in the report layer and the command line
    assert violations(source, "analysis.report.sections") == []
    assert violations(source, "analysis.__main__") == []


def test_the_check_lets_harmless_imports_through():
    source = ("import numpy as np\nfrom analysis import nps, store\nfrom .config import x\n"
              "from analysis.reporting_period import y\nimport matplotlibrary\n")
    assert violations(source, "analysis.growth") == []
    assert imported("from . import store", "analysis", is_package=True) == {
        "analysis", "analysis.store"}
    assert imported("from ..config import x", "analysis.report.tables") == {
        "analysis.config", "analysis.config.x"}


# statistics read frames: they never reach up into the ingest layer (exports, the demo)
STATISTICS = ("nps", "css", "drivers", "growth", "rootcause", "cases", "incidents", "repairs",
              "actions", "retention", "funnel",
              "estimators", "keywords", "engine", "store")
INGEST_LAYER = ("analysis.ingest", "analysis.synthetic", "analysis.demo_exports")


def upward(source: str, module: str) -> list[str]:
    """Imports of the ingest layer by a statistics (or store) module."""
    return sorted(name for name in imported(source, module)
                  if any(name == p or name.startswith(p + ".") for p in INGEST_LAYER))


@pytest.mark.parametrize("name", STATISTICS)
def test_statistics_never_import_the_ingest_layer(name):
    # a statistics stage is a module or a package of modules (analysis/rootcause/)
    module = PACKAGE / f"{name}.py"
    paths = [module] if module.exists() else sorted((PACKAGE / name).glob("*.py"))
    assert paths, f"analysis.{name} is neither a module nor a package"
    for path in paths:
        bad = upward(path.read_text(encoding="utf-8"), module_name(path))
        assert not bad, (f"{module_name(path)} imports {bad} (docs/architecture.md: imports "
                         "point down)")


def test_the_upward_check_catches_the_demo():
    assert upward("from analysis.synthetic import demo_comments", "analysis.rootcause") == [
        "analysis.synthetic", "analysis.synthetic.demo_comments"]
    assert upward("from analysis import nps, store", "analysis.growth") == []


def test_the_rootcause_submodules_import_down_public_names_only():
    """analysis/rootcause/ (docs/architecture.md): every submodule declares ``__all__``, none
    imports another's private name, and their imports form no cycle."""
    package = PACKAGE / "rootcause"
    inside = "analysis.rootcause."
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared = any(isinstance(node, ast.Assign)
                       and any(getattr(t, "id", None) == "__all__" for t in node.targets)
                       for node in tree.body)
        assert declared, f"{module} declares no __all__"
        graph[module] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module == inside[:-1] or (
                    node.module or "").startswith(inside)):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{module} imports {private} from {node.module}"
                graph[module].add(node.module)
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for name in graph.get(module, ()):
            visit(name, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert len(graph) >= 7  # the package is parsed, not an empty glob


# --- the report presents, never computes (issue 27) ----------------------------------------

# what computes: the statistics modules and the libraries they are made of
COMPUTING = tuple(f"analysis.{name}" for name in (
    "counting", "nps", "css", "drivers", "growth", "rootcause", "cases", "incidents", "repairs",
    "actions", "retention", "funnel", "stars", "alarms", "estimators", "keywords", "engine",
    "validation", "calibration")) + (
    "statsmodels", "scipy.stats", "scipy.special", "sklearn",
    "numpy.quantile", "numpy.nanquantile", "numpy.percentile", "numpy.nanpercentile")
# the report modules that ask for numbers: the sections (once per report, memoised on the
# report data) and the report data (its loader, coverage verdicts and alarms), and the batch's
# cache of the network-wide fits, which computes each once per batch for every report
ASKS = {"analysis.report.sections", "analysis.report.data", "analysis.report.shared"}
# calls of a computing module a presenting module may make, each for a reason:
ALLOWED = {
    # the star rule's verdict in words, on a test already computed: compares its p-value
    # and interval with the margin (the decision this module exists to make)
    ("analysis.report.rules", "analysis.stars.evidence"),
    # the explore notebooks' own star family (a notebook shows frames it computed itself)
    ("analysis.report.explore", "analysis.stars.StarRule.of"),
    # the target an action moves, month by month, for an explore notebook's chart
    ("analysis.report.explore", "analysis.actions.target_values"),
    # the win-back export is its own small report: it asks for its one list here
    ("analysis.report.winback", "analysis.retention.load_win_back"),
    # the batch starts one engine (a Dask cluster) its reports share: no number is computed
    ("analysis.report.batch", "analysis.engine.shared_cluster"),
}


def computing_calls(source: str, module: str) -> list[str]:
    """Every call in ``source`` (the text of ``module``) of a function (or class) of a
    computing module, by its full name (``analysis.nps.summarize``), imports resolved: an
    attribute of a module alias (``nps_module.summarize``) or a name imported from one."""
    package = module.rpartition(".")[0]
    bound: dict[str, str] = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.partition(".")[0]] = alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom):
            parent = from_module(node, package)
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{parent}.{alias.name}"

    def dotted(node) -> str | None:
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name and any(name.startswith(p + ".") or name == p for p in COMPUTING):
                found.add(name)
    return sorted(found)


def _report_modules() -> list[Path]:
    return sorted((PACKAGE / "report").glob("*.py"))


@pytest.mark.parametrize("path", _report_modules(), ids=lambda p: module_name(p))
def test_the_report_presents_and_never_computes(path):
    """No module of analysis/report/ but the sections, the report data and the batch's
    cache of shared fits (:data:`ASKS`) calls a statistics module, statsmodels, scipy.stats,
    scikit-learn or a numpy quantile; the exceptions are :data:`ALLOWED`, each with its
    reason: :func:`analysis.report.rules.evidence` (the star rule's words on a computed
    test: :func:`analysis.stars.evidence`), the explore notebooks' helpers
    (:func:`analysis.stars.StarRule.of` over the p-values a notebook shows,
    :func:`analysis.actions.target_values` for an action's chart) and the win-back export's
    one list (:func:`analysis.retention.load_win_back`) and the batch's shared engine
    (:func:`analysis.engine.shared`, which starts a cluster and computes nothing). Masking
    (:mod:`analysis.privacy`), the coverage verdicts (:mod:`analysis.coverage`), the store
    and params are not computing: they decide what may be shown, not what a number is.
    Tables and charts take the frames the sections hand them, so a table's numbers are the
    ones the sections asked the engine for."""
    module = module_name(path)
    if module in ASKS:
        return
    calls = computing_calls(path.read_text(encoding="utf-8"), module)
    bad = [name for name in calls if (module, name) not in ALLOWED]
    assert not bad, (f"{module} computes ({bad}): ask for the numbers in "
                     "analysis/report/sections.py and hand the result to the table or chart")


def test_the_computing_check_catches_each_kind_of_call():
    source = "\n".join([
        "import numpy as np",
        "from analysis import nps as nps_module, store",
        "from analysis.css import summarize_css",
        "import statsmodels.api as sm",
        "def f(frame):",
        "    from statsmodels.stats.proportion import proportion_confint",
        "    from analysis import stars",
        "    nps_module.summarize(frame)",
        "    summarize_css(frame)",
        "    proportion_confint(1, 2)",
        "    stars.StarRule.of({})",
        "    np.nanquantile(frame, 0.5)",
        "    np.mean(frame)",
        "    store.load('responses')",
        "    sm.OLS(frame, frame).fit()",
        "    return nps_module.ROLES, frame.summarize()",
    ])
    assert computing_calls(source, "analysis.report.tables") == [
        "analysis.css.summarize_css", "analysis.nps.summarize", "analysis.stars.StarRule.of",
        "numpy.nanquantile", "statsmodels.api.OLS",
        "statsmodels.stats.proportion.proportion_confint"]
