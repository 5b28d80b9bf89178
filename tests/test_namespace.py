"""Every module of analysis/ that declares ``__all__`` has each name it lists, and the modules
of the data layer and the NPS engine declare one listing every public name they define."""

import ast
import doctest
import importlib
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "analysis"
# every module of the package declares __all__ listing every public name it defines (issue 27)
DECLARED = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _submodule(package: str, name: str) -> bool:
    """Whether ``package.name`` is a module of a package (a package's __all__ lists them)."""
    return importlib.util.find_spec(f"{package}.{name}") is not None if hasattr(
        importlib.import_module(package), "__path__") else False


def _declaring() -> list[str]:
    return [_name(p) for p in sorted(PACKAGE.rglob("*.py"))
            if "__all__" in {t.id for node in ast.parse(p.read_text(encoding="utf-8")).body
                             if isinstance(node, ast.Assign) for t in node.targets
                             if isinstance(t, ast.Name)}]


def _defined(path: Path) -> set[str]:
    """The public names a module defines at its top level (not those it imports)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("module", _declaring())
def test_every_name_in_all_exists(module):
    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if not hasattr(mod, n) and not _submodule(module, n)]
    assert not missing, f"{module}.__all__ lists {missing}, which it does not have"
    assert len(set(mod.__all__)) == len(mod.__all__), f"{module}.__all__ lists a name twice"


@pytest.mark.parametrize("relative", DECLARED)
def test_all_lists_every_public_name_defined(relative):
    path = PACKAGE / relative
    module = _name(path)
    assert module in _declaring(), f"analysis/{relative} has no __all__"
    mod = importlib.import_module(module)
    unlisted = sorted(_defined(path) - set(mod.__all__))
    assert not unlisted, f"{module} defines {unlisted} but its __all__ omits them"


def test_the_check_sees_a_missing_name():
    assert "analysis.nps" in _declaring()
    assert "nps_interval" in _defined(PACKAGE / "nps.py")
    assert "load_params" not in _defined(PACKAGE / "nps.py")  # imported, not defined


@pytest.mark.parametrize("module", ["counting", "regions"])
def test_the_examples_in_the_docstrings_run(module):
    mod = importlib.import_module(f"analysis.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_package_namespace_reaches_every_module_lazily():
    """``import analysis as dv`` loads nothing; ``dv.nps``, ``dv.Settings`` ... load on use, and
    every module of the package is one of ``analysis.MODULES`` (or the report's)."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, analysis; "
         "print(sorted(m for m in sys.modules if m.startswith(('analysis.', 'pandas'))))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
    import analysis

    for name in analysis.__all__:
        assert getattr(analysis, name) is not None, name
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
           if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("_")}
    assert top == set(analysis.MODULES)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        analysis.nope  # noqa: B018
