"""Monthly reports: data for a report, and the papermill batch that renders them to HTML."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import store
from analysis.config import NOTEBOOKS_DIR, REPORTS_DIR
from analysis.engine import Engine, get_engine, shared

NETWORK = "all"
REGION_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly_region.ipynb"
NETWORK_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly_network.ipynb"


def slug(region: str) -> str:
    """File name for a region's report: ``North-West`` -> ``north-west``; all -> network."""
    if region == NETWORK:
        return "network"
    s = re.sub(r"[^\w-]+", "-", region.strip().lower(), flags=re.UNICODE).strip("-")
    return s or "region"


class SectionDataMissing(LookupError):
    """A report section's data is absent; the section says so in one line instead of failing."""


OPTIONAL_TABLES = ("invitations", "cases", "repair_orders", "incidents")


@dataclass(frozen=True)
class ReportData:
    """What one monthly report reads: every table of its scope, region attached.

    Optional tables that the data directory lacks are None; sections ask for them with
    :meth:`require`, which raises :class:`SectionDataMissing`.
    """

    region: str
    month: str
    months: tuple[str, ...]
    dealers: pd.DataFrame
    responses: pd.DataFrame
    invitations: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    repair_orders: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    data_dir: str | os.PathLike | None = None  # a store.Snapshot: the versions it reads
    network_responses: pd.DataFrame | None = None
    network_dealers: pd.DataFrame | None = None
    engine: Engine | None = field(default=None, compare=False, repr=False)
    dealer_id: str | None = None

    def engine_source(self, table: str = "responses") -> dict:
        """Keywords for an :class:`~analysis.engine.Engine` call on ``table`` in this scope.

        A region or the network is read from the store by the engine itself (on Dask,
        partition by partition); a single dealer's frame is small and passed as it is.
        """
        if self.dealer_id is not None:
            return {"source": getattr(self, table)}
        return {"source": table, "months": list(self.months),
                "regions": None if self.is_network else [self.region],
                "data_dir": self.data_dir}

    def close(self) -> None:
        """Release the engine (a Dask cluster it started stops)."""
        if self.engine is not None:
            self.engine.close()

    @property
    def all_dealers(self) -> pd.DataFrame:
        """Every dealer of the network (the regional report's growth model spans them all)."""
        return self.dealers if self.network_dealers is None else self.network_dealers

    @property
    def network(self) -> pd.DataFrame:
        """The whole network's responses of the same months (benchmarks, national averages)."""
        return self.responses if self.network_responses is None else self.network_responses

    @property
    def is_network(self) -> bool:
        return self.region == NETWORK

    @property
    def title(self) -> str:
        scope = "Network" if self.is_network else f"Region {self.region}"
        return f"{scope} - customer voice, {self.month}"

    @property
    def current(self) -> pd.DataFrame:
        """Responses of the report month only."""
        return self.responses.loc[self.responses["month"] == self.month]

    def require(self, *tables: str) -> None:
        """Raise :class:`SectionDataMissing` naming the first absent or empty table."""
        for name in tables:
            frame = getattr(self, name)
            if frame is None or frame.empty:
                raise SectionDataMissing(
                    f"No {name.replace('_', ' ')} data for {self.month} in this data set."
                )


def trailing_months(month: str, n: int) -> tuple[str, ...]:
    """The ``n`` months ending with ``month`` (YYYY-MM strings, oldest first)."""
    end = pd.Period(month, freq="M")
    return tuple(str(p) for p in pd.period_range(end=end, periods=n, freq="M"))


def load_report_data(
    *, region: str = NETWORK, month: str = "", data_dir: str | os.PathLike | None = None,
    trend_months: int = 12, engine: str | Engine | None = None, as_of: str = "",
) -> ReportData:
    """Load what a monthly report needs; ``month=""`` means the latest complete month.

    ``engine`` (a spec such as ``"local"`` or ``"dask=tcp://host:8786"``, see
    :func:`analysis.engine.get_engine`) is where the store-wide statistics of the report run.
    ``as_of`` reads the store's tables at those versions (:func:`analysis.store.snapshot`);
    ``""``: the latest, pinned for the whole report.
    """
    data_dir = store.snapshot(data_dir, as_of=as_of or None)  # one version of every table
    regions = None if region == NETWORK else [region]
    dealers = store.load("dealers", regions=regions, data_dir=data_dir)
    if dealers.empty:
        known = sorted(store.load("dealers", data_dir=data_dir)["region"].unique())
        raise ValueError(f"region {region!r} has no dealers; known regions: {known}")
    if not month:
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        month = store.latest_complete_month(times)
    months = trailing_months(month, trend_months)

    def responses_of(scope: list[str] | None, scope_dealers: pd.DataFrame) -> pd.DataFrame:
        frame = store.load("responses", months=months, regions=scope, data_dir=data_dir)
        return store.with_region(frame, scope_dealers).assign(
            month=lambda d: d["responded_at"].dt.to_period("M").astype(str))

    responses = responses_of(regions, dealers)
    optional = {
        name: store.with_region(
            store.load(name, months=months, regions=regions, data_dir=data_dir), dealers)
        if store.available(name, data_dir=data_dir) else None
        for name in OPTIONAL_TABLES
    }
    network = network_dealers = None
    if regions is not None:
        network_dealers = store.load("dealers", data_dir=data_dir)
        network = responses_of(None, network_dealers)
    return ReportData(region, month, months, dealers, responses, **optional,
                      data_dir=data_dir, network_responses=network,
                      network_dealers=network_dealers, engine=get_engine(engine))


# Excel treats a cell starting with one of these as a formula: neutralise it (OWASP "CSV
# injection"); tab and carriage return are included because Excel strips them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy fit to show: phones, e-mails and VINs masked in every text column."""
    from analysis.privacy import mask_pii_series

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = mask_pii_series(out[col])
    return out


def neutralise_formula(value):
    """Prefix text that Excel would run as a formula with a quote, so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = safe_frame(frame).reset_index(drop=not _has_named_index(frame))
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
        elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
        elif out[col].dtype == object:
            out[col] = out[col].map(neutralise_formula)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def _sheet_name(name: str, taken: set[str]) -> str:
    base = " ".join(_SHEET_BAD.sub(" ", name).split())
    if len(base) > 31:  # Excel's limit; cut at a word so the tab stays readable
        base = base[:32].rsplit(" ", 1)[0] if " " in base[:32] else base[:31]
    base = base or "Sheet"
    candidate, k = base, 2
    while candidate.lower() in taken:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(candidate.lower())
    return candidate


def write_excel(tables: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """One sheet per table, bold frozen header, sensible widths; PII masked, formulas defused.

    Parameters
    ----------
    tables
        Sheet title -> frame, in the order the sheets should appear.
    path
        The ``.xlsx`` file to write (its directory is created).
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        if not tables:
            pd.DataFrame({"note": ["no tables in this report"]}).to_excel(
                writer, sheet_name="Report", index=False)
        for title, frame in tables.items():
            sheet = _sheet_name(title, taken)
            data = _excel_ready(frame)
            data.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            for cell in ws[1]:
                cell.font = Font(bold=True)
                cell.fill = header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.freeze_panes = "A2"
            for i, col in enumerate(data.columns, start=1):
                longest = max([len(str(col))] + [len(str(v)) for v in data[col].head(200)])
                ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, longest + 2))
            # text written by openpyxl that starts with "=" becomes a formula: force text
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"
    return path


class ReportBook:
    """Shows a report's tables safely and keeps them for the Excel workbook.

    Every table is shown as escaped HTML (a comment ``<script>`` shows as text) with phones,
    e-mails and VINs masked; :meth:`save_excel` writes the same tables, one sheet each.
    """

    def __init__(self) -> None:
        self.tables: dict[str, pd.DataFrame] = {}

    def show(self, name: str, frame: pd.DataFrame, *, excel: bool = True,
             float_format: str = "{:.1f}", max_rows: int | None = 60) -> None:
        """Display ``frame`` under ``name`` and remember it for the workbook."""
        from IPython.display import HTML, display

        if excel:
            self.tables[name] = frame
        shown = safe_frame(frame)
        if max_rows is not None and len(shown) > max_rows:
            note = f"<p><i>first {max_rows} of {len(shown)} rows; all in the Excel file</i></p>"
            shown = shown.head(max_rows)
        else:
            note = ""
        html = shown.to_html(escape=True, index=_has_named_index(shown), na_rep="",
                             float_format=float_format.format, border=0,
                             classes="report-table")
        display(HTML(f"<h4>{html_escape(name)}</h4>{html}{note}"))

    def heading(self, text: str) -> None:
        """The report's title, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<h1>{html_escape(text)}</h1>"))

    def note(self, text: str) -> None:
        """Display one line of plain text, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<p>{html_escape(text)}</p>"))

    @contextmanager
    def section(self, title: str):
        """A report section: its heading, and one line instead of a failure if data is absent."""
        from IPython.display import HTML, display

        display(HTML(f"<h2>{html_escape(title)}</h2>"))
        try:
            yield self
        except SectionDataMissing as missing:
            self.note(f"{missing} This section is left out.")

    def save_excel(self, path: str | os.PathLike | None) -> Path | None:
        """Write the workbook when a path is given (the batch passes one)."""
        return write_excel(self.tables, path) if path else None


def html_escape(text: str) -> str:
    import html

    return html.escape(str(text), quote=True)


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
    """The network report for "all", the regional report otherwise."""
    return NETWORK_NOTEBOOK if region == NETWORK else REGION_NOTEBOOK


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
                            exclude_output_prompt=True, embed_images=True)
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
