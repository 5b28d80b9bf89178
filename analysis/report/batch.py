"""The papermill batch: each report notebook executed, rendered to HTML, its workbook written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from analysis import store
from analysis.config import NOTEBOOKS_DIR, REPORTS_DIR
from analysis.engine import shared
from analysis.report.data import NETWORK

MONTHLY_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly.ipynb"


def slug(region: str) -> str:
    """File name for a region's report: ``North-West`` -> ``north-west``; all -> network."""
    if region == NETWORK:
        return "network"
    s = re.sub(r"[^\w-]+", "-", region.strip().lower(), flags=re.UNICODE).strip("-")
    return s or "region"


@dataclass(frozen=True)
class RunResult:
    """The outcome of rendering one report."""

    region: str
    notebook: Path
    html: Path | None
    ok: bool
    ename: str = ""
    evalue: str = ""
    cell_index: int | None = None
    excel: Path | None = None
    seconds: float = 0.0


def notebook_for(region: str) -> Path:
    """The monthly report notebook: one for the network ("all") and every region."""
    return MONTHLY_NOTEBOOK


def _check_parameters(notebook: Path, parameters: dict) -> None:
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(
            f"{notebook.name} does not declare parameter(s) {unknown}; it declares "
            f"{sorted(declared)}"
        )


def render_html(executed: Path, html: Path) -> Path:
    """Render an executed notebook to self-contained HTML without code cells (nor cells
    tagged ``remove-cell``: notes for the notebook's readers)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove-cell"}),
                                   enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def run_report(
    region: str, month: str, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, notebook: Path | None = None,
    timeout: int = 900, formats: tuple[str, ...] = ("html", "xlsx"),
    parameters: dict | None = None,
) -> RunResult:
    """Execute one report notebook with papermill; render HTML and the Excel workbook.

    A failing notebook is not raised: the result records ``ename``, ``evalue`` and the
    ``cell_index`` of the failing cell, and the executed notebook stays for audit.
    """
    import time

    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    notebook = notebook or notebook_for(region)
    out = Path(out_dir) if out_dir else REPORTS_DIR / month
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    name = slug(region)
    executed = out / "notebooks" / f"{name}.ipynb"
    excel = (out / f"{name}.xlsx").resolve() if "xlsx" in formats else None
    params = {**(parameters or {}), "region": region, "month": month,
              "data_dir": str(Path(data_dir).resolve()) if data_dir else "",
              "excel_path": str(excel) if excel else ""}
    _check_parameters(notebook, params)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, kernel_name="python3",
            execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
        )
    except PapermillExecutionError as err:
        return RunResult(region, executed, None, False, err.ename, err.evalue, err.cell_index,
                         seconds=time.perf_counter() - started)
    html = render_html(executed, out / f"{name}.html") if "html" in formats else None
    return RunResult(region, executed, html, True, excel=excel,
                     seconds=time.perf_counter() - started)


def regions_in(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Region names in the dealers table, sorted."""
    return sorted(store.load("dealers", data_dir=data_dir, columns=["region"])["region"].unique())


def run_batch(
    month: str, regions: list[str] | None = None, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, timeout: int = 900, workers: int = 1,
    formats: tuple[str, ...] = ("html", "xlsx"), parameters: dict | None = None,
    progress: bool = True, engine: str | None = None, as_of: str = "",
) -> list[RunResult]:
    """Render the network report and each region's report, in parallel worker processes.

    A region that fails does not stop the others; every result is returned in the order of
    the targets (network first). With ``engine="dask"`` one LocalCluster is started for the
    whole batch and every notebook connects to it. Every report reads the same store
    versions (the latest, or ``as_of``), passed to its notebook as the ``as_of`` parameter.
    """
    data_dir = store.snapshot(data_dir, as_of=as_of or None)
    parameters = {**(parameters or {}), "as_of": data_dir.spec}
    with shared(engine) as spec:
        return _run_batch(month, regions, data_dir=data_dir, out_dir=out_dir, timeout=timeout,
                          workers=workers, formats=formats,
                          parameters={**(parameters or {}), "engine": spec}, progress=progress)


def _run_batch(month, regions, *, data_dir, out_dir, timeout, workers, formats, parameters,
               progress) -> list[RunResult]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    targets = [NETWORK, *regions_in(data_dir)] if not regions or regions == [NETWORK] else regions
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, timeout=timeout, formats=formats,
                  parameters=parameters)
    bar = tqdm(total=len(targets), desc=f"reports {month}", unit="report", disable=not progress)
    results: dict[str, RunResult] = {}
    if workers <= 1:
        for region in targets:
            results[region] = run_report(region, month, **kwargs)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_report, region, month, **kwargs): region
                       for region in targets}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [results[r] for r in targets]
