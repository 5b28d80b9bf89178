"""Monthly reports: data for a report, and the papermill batch that renders them to HTML."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import store
from analysis.config import NOTEBOOKS_DIR, REPORTS_DIR

NETWORK = "all"
REGION_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly_region.ipynb"


def slug(region: str) -> str:
    """File name for a region's report: ``North-West`` -> ``north-west``; all -> network."""
    if region == NETWORK:
        return "network"
    s = re.sub(r"[^\w-]+", "-", region.strip().lower(), flags=re.UNICODE).strip("-")
    return s or "region"


@dataclass(frozen=True)
class ReportData:
    """What one monthly report reads: responses of its scope with region attached."""

    region: str
    month: str
    months: tuple[str, ...]
    dealers: pd.DataFrame
    responses: pd.DataFrame
    invitations: pd.DataFrame

    @property
    def title(self) -> str:
        scope = "Network" if self.region == NETWORK else f"Region {self.region}"
        return f"{scope} - customer voice, {self.month}"

    @property
    def current(self) -> pd.DataFrame:
        """Responses of the report month only."""
        return self.responses.loc[self.responses["month"] == self.month]


def trailing_months(month: str, n: int) -> tuple[str, ...]:
    """The ``n`` months ending with ``month`` (YYYY-MM strings, oldest first)."""
    end = pd.Period(month, freq="M")
    return tuple(str(p) for p in pd.period_range(end=end, periods=n, freq="M"))


def load_report_data(
    *, region: str = NETWORK, month: str = "", data_dir: str | os.PathLike | None = None,
    trend_months: int = 12,
) -> ReportData:
    """Load what a monthly report needs; ``month=""`` means the latest complete month."""
    regions = None if region == NETWORK else [region]
    dealers = store.load("dealers", regions=regions, data_dir=data_dir)
    if dealers.empty:
        known = sorted(store.load("dealers", data_dir=data_dir)["region"].unique())
        raise ValueError(f"region {region!r} has no dealers; known regions: {known}")
    if not month:
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        month = store.latest_complete_month(times)
    months = trailing_months(month, trend_months)
    responses = store.load("responses", months=months, regions=regions, data_dir=data_dir)
    responses = store.with_region(responses, dealers).assign(
        month=lambda d: d["responded_at"].dt.to_period("M").astype(str)
    )
    invitations = (store.load("invitations", months=months, regions=regions, data_dir=data_dir)
                   if store.available("invitations", data_dir=data_dir) else pd.DataFrame())
    return ReportData(region, month, months, dealers, responses, invitations)


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
    """Render an executed notebook to self-contained HTML without code cells."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def run_report(
    region: str, month: str, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, notebook: Path = REGION_NOTEBOOK,
    timeout: int = 900,
) -> RunResult:
    """Execute the report notebook for one region with papermill and render it to HTML.

    A failing notebook is not raised: the result records ``ename``, ``evalue`` and the
    ``cell_index`` of the failing cell, and the executed notebook stays for audit.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = Path(out_dir) if out_dir else REPORTS_DIR / month
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    executed = out / "notebooks" / f"{slug(region)}.ipynb"
    params = {"region": region, "month": month,
              "data_dir": str(Path(data_dir).resolve()) if data_dir else ""}
    _check_parameters(notebook, params)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, kernel_name="python3",
            execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
        )
    except PapermillExecutionError as err:
        return RunResult(region, executed, None, False, err.ename, err.evalue, err.cell_index)
    html = render_html(executed, out / f"{slug(region)}.html")
    return RunResult(region, executed, html, True)


def regions_in(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Region names in the dealers table, sorted."""
    return sorted(store.load("dealers", data_dir=data_dir, columns=["region"])["region"].unique())


def run_batch(
    month: str, regions: list[str] | None = None, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, timeout: int = 900,
) -> list[RunResult]:
    """Render the network report and each region's report; carry on past failures."""
    from tqdm.auto import tqdm

    targets = [NETWORK, *regions_in(data_dir)] if not regions or regions == [NETWORK] else regions
    results = []
    for region in tqdm(targets, desc=f"reports {month}", unit="report"):
        results.append(run_report(region, month, data_dir=data_dir, out_dir=out_dir,
                                  timeout=timeout))
    return results
