"""The papermill batch: each report notebook executed, rendered to HTML, its workbook written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from analysis import store
from analysis.config import NOTEBOOKS_DIR, REPORTS_DIR
from analysis.engine import shared
from analysis.report import shared as shared_fits
from analysis.report.data import NETWORK

MONTHLY_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly.ipynb"


class NoDataForMonth(ValueError):
    """The report month has no answers in the store: checked before any notebook starts."""


def check_month(month: str, data_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`NoDataForMonth` naming the months that have answers."""
    times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
    months = times["responded_at"].dt.to_period("M").astype(str)
    if not (months == month).any():
        known = sorted(months.unique())
        shown = ", ".join(known[-13:]) if known else "none"
        raise NoDataForMonth(f"no answers in {month} in this data set; months with answers: "
                             f"{shown}. Pick one with --month YYYY-MM.")


def file_names(regions: list[str]) -> dict[str, str]:
    """A file name per region, unique: regions whose names slug alike ("Central<script>" and
    "Central script") get a short hash of their name appended instead of overwriting."""
    import hashlib
    from collections import Counter

    base = {r: slug(r) for r in regions}
    taken = Counter(base.values())
    return {r: (b if taken[b] == 1 else
                f"{b}-{hashlib.sha1(r.encode('utf-8')).hexdigest()[:6]}")
            for r, b in base.items()}


def report_languages(language: str | list[str] | None = None) -> list[str]:
    """The languages to render: ``language`` (one or a list), else params/report.yaml."""
    from analysis.config import load_params
    from analysis.report.labels import resolve

    chosen = language or load_params("report").get("languages") or [None]
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    return [resolve(lang) for lang in chosen]


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
    language: str = ""


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


_PAGE_CSS = """
body { font-family: system-ui, 'Segoe UI', Roboto, Arial, sans-serif; color: #222;
       margin: 0; background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 28px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 30px 0 6px; padding-top: 8px; border-top: 2px solid #0072B2; }
h3 { font-size: 16px; margin: 14px 0 4px; }
h4 { font-size: 14px; margin: 14px 0 4px; color: #333; }
p, li { font-size: 14px; line-height: 1.45; }
ul.summary li, ol.summary li { margin: 3px 0; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0; }
pre { display: none; }  /* tracebacks stay in the executed notebook */
.jp-OutputPrompt, .jp-InputPrompt { display: none; }
"""


def render_html(executed: Path, html: Path) -> Path:
    """Render an executed notebook to one self-contained, offline HTML page without code
    cells (nor cells tagged ``remove-cell``: notes for the notebook's readers).

    nbconvert's ``basic`` template gives the outputs only; the page around them is small
    (a few kB of CSS instead of JupyterLab's), so the network's page stays light.
    """
    import html as html_lib

    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="basic", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove-cell"}),
                                   enabled=True)
    notebook = nbformat.read(executed, as_version=4)
    body, _ = exporter.from_notebook_node(notebook)
    language = notebook.metadata.get("papermill", {}).get("parameters", {}).get("language")
    title = re.search(r"<h1>(.*?)</h1>", body)
    page = (f"<!DOCTYPE html>\n<html lang=\"{html_lib.escape(language or 'en')}\"><head>"
            f"<meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width, initial-scale=1\">"
            f"<title>{title.group(1) if title else html_lib.escape(html.stem)}</title>"
            f"<style>{_PAGE_CSS}</style></head><body><main>{body}</main></body></html>")
    html.write_text(_offline(page), encoding="utf-8")
    return html


_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_MATHJAX_CONFIG = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->",
                             re.S)


def _offline(body: str) -> str:
    """The report opens offline: no require.js nor MathJax from a CDN (reports have no
    widgets and no formulas), so a browser without network logs no failed loads."""
    return _REMOTE_SCRIPT.sub("", _MATHJAX_CONFIG.sub("", body))


def run_report(
    region: str, month: str, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, notebook: Path | None = None,
    timeout: int = 900, formats: tuple[str, ...] = ("html", "xlsx"),
    parameters: dict | None = None, name: str | None = None, language: str | None = None,
    suffix: str = "",
) -> RunResult:
    """Execute one report notebook with papermill; render HTML and the Excel workbook.

    A failing notebook is not raised: the result records ``ename``, ``evalue`` and the
    ``cell_index`` of the failing cell, and the executed notebook stays for audit. A report
    whose sections failed one by one (:class:`~analysis.report.book.SectionsFailed`) is still
    rendered - each failed section shows one line - and recorded as failed.
    """
    import time

    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    notebook = notebook or notebook_for(region)
    out = Path(out_dir) if out_dir else REPORTS_DIR / month
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    name = (name or slug(region)) + suffix
    executed = out / "notebooks" / f"{name}.ipynb"
    excel = (out / f"{name}.xlsx").resolve() if "xlsx" in formats else None
    params = {**(parameters or {}), "region": region, "month": month,
              "data_dir": str(Path(data_dir).resolve()) if data_dir else "",
              "excel_path": str(excel) if excel else ""}
    if language:
        params["language"] = language
    _check_parameters(notebook, params)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, kernel_name="python3",
            execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
        )
    except PapermillExecutionError as err:
        html = None
        if err.ename == "SectionsFailed" and "html" in formats:
            html = render_html(executed, out / f"{name}.html")
        return RunResult(region, executed, html, False, err.ename, err.evalue, err.cell_index,
                         excel=excel if excel and excel.exists() else None,
                         seconds=time.perf_counter() - started, language=language or "")
    html = render_html(executed, out / f"{name}.html") if "html" in formats else None
    return RunResult(region, executed, html, True, excel=excel,
                     seconds=time.perf_counter() - started, language=language or "")


def regions_in(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Region names in the dealers table, sorted."""
    return sorted(store.load("dealers", data_dir=data_dir, columns=["region"])["region"].unique())


def run_batch(
    month: str, regions: list[str] | None = None, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, timeout: int = 900, workers: int = 1,
    formats: tuple[str, ...] = ("html", "xlsx"), parameters: dict | None = None,
    progress: bool = True, engine: str | None = None, languages: list[str] | None = None,
    share: bool = True, as_of: str = "",
) -> list[RunResult]:
    """Render the network report and each region's report, in parallel worker processes.

    The month is checked for answers before any notebook starts. A region that fails does
    not stop the others; every result is returned in the order of the targets (network
    first), language by language (the first language's files are ``<name>.html``, the
    others' ``<name>.<language>.html``). With ``share`` (default) the network-wide fits
    (growth model, root-cause model, network driver importance) are computed once, here,
    and every report reads them from ``<out>/.cache``. With ``engine="dask"`` one
    LocalCluster is started for the whole batch and every notebook connects to it. Every
    report reads the same store versions (the latest, or ``as_of``), passed to its notebook
    as the ``as_of`` parameter.
    """
    data_dir = store.snapshot(data_dir, as_of=as_of or None)
    parameters = {**(parameters or {}), "as_of": data_dir.spec}
    check_month(month, data_dir)
    out = Path(out_dir) if out_dir else REPORTS_DIR / month
    cache = (out / ".cache").resolve() if share else None
    previous = os.environ.get(shared_fits.CACHE_ENV)
    try:
        if cache is not None:
            os.environ[shared_fits.CACHE_ENV] = str(cache)
            _warm(month, data_dir, cache, workers=workers)
        else:
            os.environ.pop(shared_fits.CACHE_ENV, None)
        with shared(engine) as spec:
            return _run_batch(month, regions, data_dir=data_dir, out_dir=out, timeout=timeout,
                              workers=workers, formats=formats,
                              parameters={**(parameters or {}), "engine": spec},
                              progress=progress, languages=report_languages(languages))
    finally:
        if cache is not None:  # the network's answers: a copy of the store, not worth keeping
            shared_fits.forget("network-responses", cache)
        if previous is None:
            os.environ.pop(shared_fits.CACHE_ENV, None)
        else:
            os.environ[shared_fits.CACHE_ENV] = previous


def _warm(month: str, data_dir, cache: Path, *, workers: int = 1) -> None:
    """Fit the network-wide models once, before the notebooks (they then only read them):
    growth (its bootstrap on as many processes as the batch has workers), the root-cause
    clustering and the classifier of the team's causes, and the network's answers.

    The classifier is the longest fit and runs on one core: with more than one worker it is
    fitted in a forked process beside the others (it writes the cache's pickle; were that
    process to fail, it is fitted here)."""
    from analysis.report.data import load_report_data

    data = load_report_data(region=NETWORK, month=month, data_dir=data_dir)
    try:
        side = None
        if workers > 1:
            from multiprocessing import get_context

            side = get_context("fork").Process(
                target=shared_fits.learned_causes, args=(data,), kwargs={"directory": cache})
            side.start()
        try:
            # what every report needs; the network's importance is fitted by the network report
            shared_fits.growth_result(data, directory=cache, n_jobs=max(1, workers))
            shared_fits.cause_model(data, directory=cache)
            # the regional reports' view of the whole network: the network report's answers
            shared_fits.network_responses(data.data_dir, data.months, lambda: data.responses,
                                          directory=cache)
        finally:
            if side is not None:
                side.join()
        # fitted once here, or the first reports of a parallel batch would each fit it
        # (minutes at importer scale) before one had written it; read back from the side
        # process's pickle when it ran
        shared_fits.learned_causes(data, directory=cache)
    except Exception:  # noqa: BLE001 - the report's own section will say what failed
        pass
    finally:
        data.close()


def _run_batch(month, regions, *, data_dir, out_dir, timeout, workers, formats, parameters,
               progress, languages) -> list[RunResult]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    targets = [NETWORK, *regions_in(data_dir)] if not regions or regions == [NETWORK] else regions
    names = file_names(targets)
    jobs = [(region, lang, "" if k == 0 else f".{lang}")
            for k, lang in enumerate(languages) for region in targets]
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, timeout=timeout, formats=formats,
                  parameters=parameters)
    bar = tqdm(total=len(jobs), desc=f"reports {month}", unit="report", disable=not progress)
    results: dict[tuple, RunResult] = {}
    if workers <= 1:
        for region, lang, suffix in jobs:
            results[region, lang] = run_report(region, month, name=names[region],
                                               language=lang, suffix=suffix, **kwargs)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_report, region, month, name=names[region], language=lang,
                                   suffix=suffix, **kwargs): (region, lang)
                       for region, lang, suffix in jobs}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [results[region, lang] for region, lang, _ in jobs]
