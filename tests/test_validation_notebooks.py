"""The validation notebooks (notebooks/validation/): committed with their outputs, which
``make validation`` compares under strict nbval.

Every other notebook is committed without outputs; the validation notebooks are the
documented exception (README.md, "Validated notebooks"). Here: that rule, the plain text the
strict comparison relies on, and proof that the strict check fails on a changed number.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
VALIDATION = NOTEBOOKS / "validation"


def _notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _code_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_only_the_validation_notebooks_carry_outputs():
    validation = [p for p in _notebooks() if p.parent == VALIDATION]
    others = [p for p in _notebooks() if p.parent != VALIDATION]
    assert validation and others
    for path in others:
        cells = _code_cells(_read(path))
        kept = [i for i, c in enumerate(cells) if c["outputs"] or c["execution_count"]]
        assert not kept, (f"{path.relative_to(ROOT)}: code cells {kept} carry outputs or "
                          "execution counts; strip them before committing (only "
                          "notebooks/validation/ keeps its outputs)")
    for path in validation:
        cells = _code_cells(_read(path))
        assert any(c["outputs"] for c in cells), (
            f"{path.relative_to(ROOT)} has no outputs, so strict nbval compares nothing: run "
            "make validation-refresh and commit it")
        # plain printed text only: rich reprs (HTML tables, figures) and warnings vary with
        # library versions, and strict nbval would compare them
        kinds = {(o["output_type"], o.get("name")) for c in cells for o in c["outputs"]}
        assert kinds == {("stream", "stdout")}, f"{path.relative_to(ROOT)}: {kinds}"


def test_strict_nbval_fails_naming_a_changed_number(tmp_path):
    # the fastest validation notebook, with one committed number changed: am's LMG on mtcars
    # one unit of the 7th decimal up (computed 0.1774892, as published)
    notebook = _read(VALIDATION / "published_values.ipynb")
    changed = 0
    for cell in _code_cells(notebook):
        for output in cell["outputs"]:
            text, n = re.subn(r"^(am +0\.1774892 +)0\.1774892", r"\g<1>0.1774893",
                              "".join(output.get("text", "")), flags=re.MULTILINE)
            output["text"], changed = text, changed + n
    assert changed == 1
    copy = tmp_path / "published_values.ipynb"
    copy.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "--nbval",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), str(copy)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "1 failed, 2 passed" in out  # the other cells still match
    assert "Cell outputs differ" in out
    # as make validation shows it: the committed line (+) and the line the code prints (-)
    assert "+ am    0.1774892 0.1774893" in out and "- am    0.1774892 0.1774892" in out
