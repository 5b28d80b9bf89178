"""The papermill batch: each report notebook executed, rendered to HTML, its workbook written.

What a batch leaves in the month's folder (``reports/YYYY-MM/``)::

    index.html                  every page and workbook the folder holds, both languages
    <name>.<lang>.html          a report page: <name> is the scope's file name (network, volga)
    <name>.<lang>.xlsx          its workbook
    <name>.<lang>.pdf           the page printed on A4 (``--format pdf``: headless Chromium)
    notebooks/<name>.<lang>.ipynb          the executed notebook of a report that succeeded
    logs/<name>.<lang>.failed.ipynb|.txt   a report that failed: its notebook and traceback
    dealers/<code>.<lang>.html|.xlsx       a dealer's page (``dealers=``), with notebooks/ and
                                           logs/ of its own as above

Every file carries its language, whatever the order of ``--language``: rendering one
language never overwrites the other's files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from analysis import store
from analysis.config import NOTEBOOKS_DIR, REPORTS_DIR
from analysis.engine import shared_cluster
from analysis.report import page as page_layout
from analysis.report import shared as shared_fits
from analysis.report.data import NETWORK

__all__ = ["DEALERS", "DEALER_NOTEBOOK", "LOGS", "MONTHLY_NOTEBOOK", "RESERVED", "WARM_LOG",
           "DealerPage", "IndexEntry", "NoDataForMonth", "RunResult", "UnknownDealer",
           "UnknownRegion", "check_month", "dealer_file_names", "dealer_pages", "file_names",
           "index_entries", "match_regions", "notebook_for", "output_dir", "region_key",
           "regions_in", "render_html", "report_languages", "report_stem", "run_batch",
           "run_dealer", "run_report", "scope_names", "section_tracebacks", "slug", "write_index"]

MONTHLY_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "monthly.ipynb"
DEALER_NOTEBOOK = NOTEBOOKS_DIR / "reports" / "dealer.ipynb"
DEALERS = "dealers"  # the dealers' pages: a folder of the month's


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


LOGS = "logs"  # beside the pages: what failed, never delivered as a report


def report_stem(name: str, language: str) -> str:
    """The file name (without extension) of a scope's report in ``language``:
    ``report_stem("volga", "ru")`` -> ``volga.ru`` (then ``.html``, ``.xlsx``, ``.ipynb``)."""
    return f"{name}.{language}"


class UnknownRegion(ValueError):
    """A region asked for is not in the dealers table (or matches several regions)."""


def region_key(name: str) -> str:
    """What region names are matched by: letters and digits only, case folded
    (``North-West``, ``north west`` and ``NORTH_WEST`` -> ``northwest``)."""
    return re.sub(r"[\W_]+", "", name.casefold(), flags=re.UNICODE)


# words of the command line and of the month's folder that no region's file name may be:
# ``--region all`` is every report, ``network`` the network's (network.<lang>.html)
RESERVED = ("all", "network")


def match_regions(asked: list[str], known: list[str]) -> list[str | None]:
    """The regions ``asked`` for, as the dealers table spells them, in the order asked;
    None stands for the network's report.

    A region is found by its name or its file name (:func:`scope_names`), ignoring case and
    punctuation: ``volga``, ``VOLGA``, ``North West`` and ``north-west`` find ``Volga`` and
    ``North-West``; ``all`` or ``network`` is the network's report (a region named so is
    found by its file name, e.g. ``all-1a2b3c``).

    Raises
    ------
    UnknownRegion
        naming every region asked for that matches none (or several) of ``known``, and the
        known regions with their file names.
    """
    names = scope_names(known)
    chosen, problems = [], []
    for wanted in asked:
        key = region_key(wanted)
        if key in RESERVED:
            found = [None]
        elif wanted in known:  # exactly as the dealers table spells it
            found = [wanted]
        else:
            found = [r for r in known if wanted.casefold() == names[r]]  # its file name
            found = found or [r for r in known if key and key in
                              (region_key(r), region_key(names[r]))]
        if len(found) == 1:
            chosen += [found[0]] if found[0] not in chosen else []
        elif found:
            problems.append(f"{wanted!r} matches " + ", ".join(
                f"{r} ({names[r]})" for r in found) + "; write it as its file name")
        else:
            problems.append(f"no region {wanted!r} in this data set")
    if problems:
        listed = ", ".join(f"{r} ({names[r]})" for r in known) or "none"
        raise UnknownRegion(
            "; ".join(problems) + f". Regions (file name): {listed}; or 'all' for the network "
            "and every region. Case, spaces and punctuation do not matter.")
    return chosen


def scope_names(regions: list[str]) -> dict[str | None, str]:
    """The file name of each report of a store whose dealers table names ``regions``: None
    (the network) -> ``network``, each region -> its :func:`slug`, distinct and stable.

    A region whose slug is a reserved word (a region named ``all`` or ``Network``) or is
    shared with another region of the store (``north west`` and ``North-West``) gets a short
    hash of its exact name appended (``all-1a2b3c``), never the bare slug: the same name gets
    the same file name in every run as long as the store's regions do not start or stop
    sharing its slug, and no two reports of a batch or of two batches write one file."""
    import hashlib
    from collections import Counter

    base = {r: _slug(r) for r in dict.fromkeys(regions)}
    taken = Counter(base.values())
    return {None: "network", **{
        r: (b if taken[b] == 1 and b not in RESERVED else
            f"{b}-{hashlib.sha1(r.encode('utf-8')).hexdigest()[:6]}")
        for r, b in base.items()}}


def file_names(regions: list[str]) -> dict[str, str]:
    """A file name per region, unique (:func:`scope_names`); ``"all"`` in ``regions`` is
    the network (``network``), as the report notebook reads it."""
    names = scope_names([r for r in regions if r != NETWORK])
    network = names.pop(None)
    return {**({NETWORK: network} if NETWORK in regions else {}), **names}


def report_languages(language: str | list[str] | None = None) -> list[str]:
    """The languages to render: ``language`` (one or a list), else params/report.yaml."""
    from analysis.config import load_params
    from analysis.report.catalogue import resolve

    chosen = language or load_params("report").get("languages") or [None]
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    return [resolve(lang) for lang in chosen]


def slug(region: str | None) -> str:
    """File name for a region's report: ``North-West`` -> ``north-west``; all -> network
    (a region named so: :func:`scope_names` tells it from the network)."""
    if region is None or region == NETWORK:
        return "network"
    return _slug(region)


def _slug(name: str) -> str:
    s = re.sub(r"[^\w-]+", "-", name.strip().lower(), flags=re.UNICODE).strip("-")
    return s or "region"


@dataclass(frozen=True)
class RunResult:
    """The outcome of rendering one report.

    ``notebook`` is the executed notebook: under ``notebooks/`` when the report succeeded,
    else under ``logs/`` beside ``log``, the text file with the error and its traceback.
    ``html`` of a failed report is set only when the notebook ran to its end and some
    sections failed (each shows one line on the page, the rest rendered). ``region`` is
    ``"all"`` for the network's report, as the notebook reads it; ``network`` says which
    (a region may be named "all")."""

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
    log: Path | None = None
    network: bool = False
    pdf: Path | None = None
    dealer: str = ""  # a dealer's page: the dealer's code (``region`` is its region)

    @property
    def scope(self) -> str:
        """How a person names the report: ``network``, the region's name or the dealer's
        code."""
        return self.dealer or ("network" if self.network else self.region)


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
.jp-OutputPrompt, .jp-InputPrompt { display: none; }
"""


def render_html(executed: Path, html: Path) -> Path:
    """Render an executed notebook to one self-contained, offline HTML page without code
    cells (nor cells tagged ``remove-cell``: notes for the notebook's readers).

    nbconvert's ``basic`` template gives the outputs only; the page around them is small
    (a few kB of CSS instead of JupyterLab's), so the network's page stays light. Its
    sections are numbered and anchored, with the table of contents above them, the glossary
    of the terms it uses below, and a print layout (:mod:`analysis.report.page`).
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
    notebook = _without_errors(nbformat.read(executed, as_version=4))
    body, _ = exporter.from_notebook_node(notebook)
    language = notebook.metadata.get("papermill", {}).get("parameters", {}).get("language")
    title = re.search(r"<h1>(.*?)</h1>", body)
    # numbered sections with anchors, the contents above them, the glossary below
    body = page_layout.finish_body(body, language or None)
    page = (f"<!DOCTYPE html>\n<html lang=\"{html_lib.escape(language or 'en')}\"><head>"
            f"<meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width, initial-scale=1\">"
            f"<title>{title.group(1) if title else html_lib.escape(html.stem)}</title>"
            f"<style>{_PAGE_CSS}{page_layout.CSS}</style></head>"
            f"<body><main>{body}</main></body></html>")
    html.write_text(_offline(page), encoding="utf-8")
    return html


def _without_errors(notebook):
    """The notebook without what papermill adds when a cell raises (its red banner "An
    Exception was encountered at 'In [n]'", the marker above the failing cell), nor error
    outputs, nor streams (a failed section's traceback on stderr, warnings naming files):
    a reader's page holds what the report displays, each failed section's one line only;
    the tracebacks are in the log beside the page (:func:`section_tracebacks`)."""
    from papermill.execute import ERROR_MARKER_TAG

    notebook.cells = [c for c in notebook.cells
                      if ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if o.output_type not in ("error", "stream")]
    return notebook


def section_tracebacks(executed: Path) -> str:
    """The tracebacks of the sections that failed in an executed report notebook (what its
    cells wrote to stderr: :meth:`~analysis.report.book.ReportBook.section` writes each
    there), for the report's log."""
    import nbformat

    try:
        notebook = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):
        return ""
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.get("outputs", [])
                   if o.output_type == "stream" and o.get("name") == "stderr")


_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_MATHJAX_CONFIG = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->",
                             re.S)


def _offline(body: str) -> str:
    """The report opens offline: no require.js nor MathJax from a CDN (reports have no
    widgets and no formulas), so a browser without network logs no failed loads."""
    return _REMOTE_SCRIPT.sub("", _MATHJAX_CONFIG.sub("", body))


def run_report(
    region: str | None, month: str, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, notebook: Path | None = None,
    timeout: int = 900, formats: tuple[str, ...] = ("html", "xlsx"),
    parameters: dict | None = None, name: str | None = None, language: str | None = None,
    region_is_name: bool = False,
) -> RunResult:
    """Execute one report notebook with papermill; render HTML and the Excel workbook.

    Files are named ``<name>.<language>.html|.xlsx`` (:func:`report_stem`; ``name`` defaults
    to the region's slug, ``language`` to the catalogue's); ``formats`` with ``pdf`` prints
    the page to ``<name>.<language>.pdf`` too (:func:`analysis.report.page.print_pdf`; a page
    that cannot be printed is delivered and the report recorded as failed with
    ``PrintFailed``). A failing notebook is not
    raised: the result records ``ename``, ``evalue`` and the ``cell_index`` of the failing
    cell, and no page is delivered; the executed notebook and a text file with the traceback
    go to ``logs/<name>.<language>.failed.ipynb|.txt`` beside the pages. A page or workbook
    of the same name left by an earlier run is removed (it would read as this run's). A
    report whose sections failed one by one (:class:`~analysis.report.book.SectionsFailed`)
    is still rendered - each failed section shows one line, no traceback - and recorded as
    failed, with its log. ``region`` None or ``"all"`` is the network's report, unless
    ``region_is_name``: the region named "all" (the notebook is told so).
    """
    import time

    import papermill

    from analysis.report.catalogue import resolve

    started = time.perf_counter()
    network = region is None or (region == NETWORK and not region_is_name)
    region = NETWORK if region is None else region
    notebook = notebook or notebook_for(region)
    out = Path(out_dir) if out_dir else REPORTS_DIR / month
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    language = resolve(language)
    stem = report_stem(name or (slug(None) if network else scope_names([region])[region]),
                       language)
    executed = out / "notebooks" / f"{stem}.ipynb"
    page = out / f"{stem}.html"
    excel = (out / f"{stem}.xlsx").resolve() if "xlsx" in formats else None
    params = {**(parameters or {}), "region": region, "month": month, "language": language,
              "data_dir": str(Path(data_dir).resolve()) if data_dir else "",
              "excel_path": str(excel) if excel else ""}
    if not network and region == NETWORK:  # a region named "all": not the network
        params["region_is_name"] = True
    _check_parameters(notebook, params)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=params, kernel_name="python3",
            execution_timeout=timeout, progress_bar=False, cwd=str(notebook.parent),
        )
    except Exception as err:  # noqa: BLE001 - recorded and logged; the batch carries on
        return replace(_failed(err, region, month, language, out=out, stem=stem,
                               executed=executed, formats=formats, started=started),
                       network=network)
    for old in _logs(out, stem):  # an earlier failure of this report is history now
        old.unlink(missing_ok=True)
    html = render_html(executed, page) if _wants_page(formats) else None
    pdf, problem = _print(html, formats)
    return RunResult(region, executed, html, problem is None, excel=excel,
                     ename=type(problem).__name__ if problem else "",
                     evalue=str(problem) if problem else "",
                     seconds=time.perf_counter() - started, language=language, network=network,
                     pdf=pdf)


def _wants_page(formats: tuple[str, ...]) -> bool:
    """Whether the HTML page is rendered: asked for, or the source of the PDF."""
    return "html" in formats or "pdf" in formats


def _print(html: Path | None, formats: tuple[str, ...]
           ) -> tuple[Path | None, page_layout.PrintFailed | None]:
    """The page printed to ``<name>.<language>.pdf`` beside it when ``pdf`` is asked for;
    a failure to print is returned, not raised (the page is delivered, the report marked
    failed, the batch carries on)."""
    if html is None or "pdf" not in formats:
        return None, None
    try:
        return page_layout.print_pdf(html), None
    except page_layout.PrintFailed as err:
        html.with_suffix(".pdf").unlink(missing_ok=True)  # an earlier run's would read as this
        return None, err


def _logs(out: Path, stem: str) -> list[Path]:
    return [out / LOGS / f"{stem}.failed{ext}" for ext in (".ipynb", ".txt")]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _failed(err: Exception, region: str, month: str, language: str, *, out: Path, stem: str,
            executed: Path, formats: tuple[str, ...], started: float) -> RunResult:
    """Keep the reader's folder clean of a failed report; its notebook and traceback to
    ``logs/``."""
    import time
    import traceback

    ename = getattr(err, "ename", None) or type(err).__name__
    evalue = getattr(err, "evalue", None) or str(err)
    cell_index = getattr(err, "cell_index", None)
    lines = getattr(err, "traceback", None) or traceback.format_exception(err)
    page, excel = out / f"{stem}.html", out / f"{stem}.xlsx"
    (out / LOGS).mkdir(exist_ok=True)
    log_notebook, log = _logs(out, stem)
    # the notebook ran to its end and each failed section showed one line: the page is the
    # report, without papermill's banner; else no page (nor an earlier run's) is delivered
    sections_failed = ename == "SectionsFailed" and executed.exists()
    html = render_html(executed, page) if sections_failed and _wants_page(formats) else None
    pdf, problem = _print(html, formats)
    sections = section_tracebacks(executed) if executed.exists() else ""
    stale = [] if sections_failed else [p.name for p in (page, excel, page.with_suffix(".pdf"))
                                        if p.exists()]
    for path in stale:
        (out / path).unlink()
    if executed.exists():
        os.replace(executed, log_notebook)
    else:
        log_notebook.unlink(missing_ok=True)
    delivered = (f"{page.name} delivered: the other sections rendered" if html else
                 "no page delivered" + (f"; removed an earlier run's {', '.join(stale)}"
                                        if stale else ""))
    if problem is not None:
        delivered += f"; no PDF: {problem}"
    log.write_text(
        f"report: {region}, {month}, language {language}\n"
        f"failed: {ename}: {evalue}\n"
        + (f"cell: {cell_index} of the executed notebook"
           + (f" (In [{err.exec_count}])" if getattr(err, "exec_count", None) else "") + "\n"
           if cell_index is not None else "")
        + (f"executed notebook: {LOGS}/{log_notebook.name}\n" if log_notebook.exists() else "")
        + f"{delivered}\n\n"
        + _ANSI.sub("", "\n".join(line.rstrip("\n") for line in lines)) + "\n"
        + (f"\n{_ANSI.sub('', sections).rstrip()}\n" if sections else ""),
        encoding="utf-8-sig")  # the mark makes browsers and Notepad read it as UTF-8
    return RunResult(region, log_notebook, html, False, ename, evalue, cell_index,
                     excel=excel.resolve() if sections_failed and excel.exists() else None,
                     seconds=time.perf_counter() - started, language=language, log=log,
                     pdf=pdf)


def regions_in(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Region names in the dealers table, sorted."""
    return sorted(store.load("dealers", data_dir=data_dir, columns=["region"])["region"].unique())


def run_batch(
    month: str, regions: list[str] | None = None, *, data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None, timeout: int = 900, workers: int = 1,
    formats: tuple[str, ...] = ("html", "xlsx"), parameters: dict | None = None,
    progress: bool = True, engine: str | None = None, languages: list[str] | None = None,
    share: bool = True, as_of: str = "", dealers: bool | list[str] = False,
) -> list[RunResult]:
    """Render the network report and each region's report, in parallel worker processes.

    The month is checked for answers, ``regions`` are matched to the dealers table
    (:func:`match_regions`), and Chromium is found when ``formats`` holds ``pdf``
    (:class:`~analysis.report.page.PrintFailed` otherwise), before any notebook starts.
    A region that fails does not stop the others; every result is returned in the order of the targets (network first),
    language by language; every file is named with its language (``<name>.<language>.html``).
    The month's ``index.html`` is rewritten at the end from what the folder holds. With ``share`` (default) the network-wide fits
    (growth model, root-cause model, network driver importance) are computed once, here,
    and every report reads them from ``<out>/.cache``. With ``engine="dask"`` one
    LocalCluster is started for the whole batch and every notebook connects to it. Every
    report reads the same store versions (the latest, or ``as_of``), passed to its notebook
    as the ``as_of`` parameter.

    ``dealers`` renders dealers' pages instead of the reports (:func:`dealer_pages`): True,
    every dealer of ``regions`` (of the network when they are none or "all"); a list, those
    dealers by code. They share the batch's fits as the reports do.
    """
    data_dir = store.snapshot(data_dir, as_of=as_of or None)
    parameters = {**(parameters or {}), "as_of": data_dir.spec}
    check_month(month, data_dir)
    if "pdf" in formats:  # no Chromium: said before any notebook runs
        page_layout.chromium_path()
    known = regions_in(data_dir)
    everything = not regions or all(region_key(r) == NETWORK for r in regions)  # all, ALL
    # None is the network: a region may be named "all", and is then a report of its own
    targets = [None, *known] if everything else match_regions(list(regions), known)
    pages = dealer_pages(data_dir, targets, dealers) if dealers else None
    languages = report_languages(languages)
    out = output_dir(month, out_dir)
    cache = (out / ".cache").resolve() if share else None
    previous = os.environ.get(shared_fits.CACHE_ENV)
    try:
        if cache is not None:
            os.environ[shared_fits.CACHE_ENV] = str(cache)
            _warm(month, data_dir, cache, workers=workers, logs=out / LOGS)
        else:
            os.environ.pop(shared_fits.CACHE_ENV, None)
        names = scope_names(known)  # a region's file name whatever the batch asks
        with shared_cluster(engine) as spec:
            run = _run_batch if pages is None else _run_dealers
            results = run(month, targets if pages is None else pages, names,
                          data_dir=data_dir, out_dir=out, timeout=timeout, workers=workers,
                          formats=formats, parameters={**(parameters or {}), "engine": spec},
                          progress=progress, languages=languages)
        write_index(out, month, scopes=names, dealers=dealer_pages(data_dir, [None], True))
        return results
    finally:
        if cache is not None:  # the network's answers: a copy of the store, not worth keeping
            shared_fits.forget("network-responses", cache)
        if previous is None:
            os.environ.pop(shared_fits.CACHE_ENV, None)
        else:
            os.environ[shared_fits.CACHE_ENV] = previous


WARM_LOG = "shared-fits.failed.txt"  # in logs/: what the batch could not fit for its reports


def _warm(month: str, data_dir, cache: Path, *, workers: int = 1,
          logs: Path | None = None) -> list[str]:
    """Fit the network-wide models once, before the notebooks (they then only read them):
    growth (its bootstrap on as many processes as the batch has workers), the root-cause
    clustering and the classifier of the team's causes, and the network's answers.

    The classifier is the longest fit and runs on one core: with more than one worker it is
    fitted in a forked process beside the others (it writes the cache's pickle; were that
    process to fail, it is fitted here).

    A step that fails does not stop the others nor the batch: the reports then compute it
    themselves, without the batch's cache (and a section that fails there says so on its
    page). Each failure is named on stderr and, given the batch's ``logs`` folder, written
    with its traceback to ``logs/shared-fits.failed.txt``, which a warm-up without failures
    removes. Returns what failed."""
    import sys
    import traceback

    from analysis.report.data import load_report_data

    failures: list[tuple[str, BaseException, str]] = []

    def step(what: str, fit) -> None:
        try:
            fit()
        except Exception as err:  # noqa: BLE001 - logged and named below; the reports fit it
            failures.append((what, err, traceback.format_exc()))

    loaded: list = []
    step("the network's report data", lambda: loaded.append(
        load_report_data(region=NETWORK, month=month, data_dir=data_dir)))
    if loaded:
        data = loaded[0]
        try:
            side = None
            if workers > 1:
                from multiprocessing import get_context

                side = get_context("fork").Process(
                    target=shared_fits.learned_causes, args=(data,),
                    kwargs={"directory": cache})
                step("the root-cause classifier's own process", side.start)
                side = side if side.pid is not None else None  # else fitted below
            try:
                # what every report needs; the network's importance is fitted by the network
                # report (and the growth model only where the data allow it: else its section
                # says why)
                step("the growth model", lambda: shared_fits.growth_result(
                    data, directory=cache, n_jobs=max(1, workers))
                    if shared_fits.growth_need(data)[0].ok else None)
                step("the root-cause model", lambda: shared_fits.cause_model(
                    data, directory=cache))
                # the regional reports' view of the whole network: the network report's
                # answers
                step("the network's answers", lambda: shared_fits.network_responses(
                    data.data_dir, data.months, lambda: data.responses, directory=cache))
            finally:
                if side is not None:
                    side.join()
            if side is not None and side.exitcode != 0:  # its traceback is on stderr
                print(f"batch warm-up: the root-cause classifier's own process exited with "
                      f"code {side.exitcode}; it is fitted in the batch's process instead",
                      file=sys.stderr, flush=True)
            # fitted once here, or the first reports of a parallel batch would each fit it
            # (minutes at importer scale) before one had written it; read back from the side
            # process's pickle when it ran (its own failure is on stderr: fitted here then)
            step("the root-cause classifier", lambda: shared_fits.learned_causes(
                data, directory=cache))
        finally:
            data.close()
    _log_warm(failures, None if logs is None else Path(logs) / WARM_LOG, month=month,
              data_dir=data_dir)
    return [what for what, _, _ in failures]


def _log_warm(failures: list[tuple[str, BaseException, str]], log: Path | None, *,
              month: str, data_dir) -> None:
    """Name each failed warm-up step on stderr and write them to ``log`` (None: stderr
    only); without failures, remove an earlier run's ``log``."""
    import sys

    if not failures:
        if log is not None:
            log.unlink(missing_ok=True)
        return
    for what, err, _ in failures:
        print(f"batch warm-up: {what} failed ({type(err).__name__}: {err}); each report "
              f"computes it without the batch's cache"
              + (f". Log: {log}" if log is not None else ""), file=sys.stderr, flush=True)
    if log is None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    spec = getattr(data_dir, "spec", None) or str(data_dir)
    log.write_text(
        f"batch warm-up of {month} (data: {spec})\n"
        + "".join(f"failed: {what}: {type(err).__name__}: {err}\n" for what, err, _ in failures)
        + "the reports compute these themselves, without the batch's cache\n"
        + "".join(f"\n--- {what}\n{_ANSI.sub('', text).rstrip()}\n"
                  for what, _, text in failures),
        encoding="utf-8-sig")  # the mark makes browsers and Notepad read it as UTF-8


def output_dir(month: str, out_dir: str | os.PathLike | None = None) -> Path:
    """Where a month's reports go: ``out_dir``, else ``reports/YYYY-MM``."""
    return Path(out_dir) if out_dir else REPORTS_DIR / month


def _run_batch(month, targets, names, *, data_dir, out_dir, timeout, workers, formats,
               parameters, progress, languages) -> list[RunResult]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    jobs = [(region, lang) for lang in languages for region in dict.fromkeys(targets)]
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, timeout=timeout, formats=formats,
                  parameters=parameters)
    bar = tqdm(total=len(jobs), desc=f"reports {month}", unit="report", disable=not progress)
    results: dict[tuple, RunResult] = {}
    if workers <= 1:
        for region, lang in jobs:
            results[region, lang] = run_report(region, month, name=names[region],
                                               language=lang, region_is_name=region is not None,
                                               **kwargs)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_report, region, month, name=names[region], language=lang,
                                   region_is_name=region is not None, **kwargs): (region, lang)
                       for region, lang in jobs}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [results[job] for job in jobs]


# --- the dealers' pages -----------------------------------------------------------------------

class UnknownDealer(ValueError):
    """A dealer asked for is not in the dealers table."""


@dataclass(frozen=True)
class DealerPage:
    """One dealer's page of a batch: its code, file name (``dealers/<file>.<lang>.html``),
    name and region as the dealers table spells them."""

    code: str
    file: str
    name: str
    region: str


_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def dealer_file_names(codes: list[str]) -> dict[str, str]:
    """A file name per dealer code: the code itself (``D001``) when it is letters, digits,
    ``-`` and ``_`` and no other code differs from it only in case (a folder copied to
    Windows or a Mac would hold one file for both); else its slug with a short hash of the
    exact code (``d-001-1a2b3c``), stable from run to run."""
    import hashlib
    from collections import Counter

    codes = list(dict.fromkeys(str(c) for c in codes))
    folded = Counter(c.casefold() for c in codes)
    return {c: (c if _SAFE_FILE.match(c) and folded[c.casefold()] == 1 else
                f"{_slug(c)}-{hashlib.sha1(c.encode('utf-8')).hexdigest()[:6]}")
            for c in codes}


def dealer_pages(data_dir, regions: list[str | None],
                 dealers: bool | list[str] = True) -> list[DealerPage]:
    """The dealers' pages a batch renders, sorted by region and code: every dealer of
    ``regions`` (None among them: the network's, so every dealer) when ``dealers`` is True,
    else the dealers whose codes it lists (``regions`` aside).

    Raises
    ------
    UnknownDealer
        naming the codes the dealers table lacks, and some it holds.
    """
    table = (store.load("dealers", data_dir=data_dir)
             .drop_duplicates("dealer_id").astype({"dealer_id": str}))
    files = dealer_file_names(sorted(table["dealer_id"]))
    if dealers is True:
        chosen = table if None in regions else table.loc[table["region"].isin(regions)]
    else:
        asked = [str(d) for d in dealers]
        missing = [d for d in asked if d not in set(table["dealer_id"])]
        if missing:
            known = sorted(table["dealer_id"])
            raise UnknownDealer(
                f"no dealer {', '.join(map(repr, missing))} in this data set; dealers are "
                f"named by their code, e.g. {', '.join(known[:8])}"
                + (f" ({len(known)} in all)" if len(known) > 8 else ""))
        chosen = table.loc[table["dealer_id"].isin(asked)]
    chosen = chosen.sort_values(["region", "dealer_id"])
    return [DealerPage(code, files[code], str(name if isinstance(name, str) else code),
                       str(region))
            for code, name, region in zip(chosen["dealer_id"], chosen["dealer_name"],
                                          chosen["region"], strict=True)]


def run_dealer(page: DealerPage, month: str, *, out_dir: str | os.PathLike | None = None,
               parameters: dict | None = None, **kwargs) -> RunResult:
    """Render one dealer's page (notebooks/reports/dealer.ipynb) as :func:`run_report`
    renders a report, into the month's ``dealers/`` folder: the same files, logs and
    formats."""
    out = output_dir(month, out_dir) / DEALERS
    result = run_report(page.region, month, out_dir=out, notebook=DEALER_NOTEBOOK,
                        name=page.file, region_is_name=True,
                        parameters={**(parameters or {}), "dealer": page.code}, **kwargs)
    return replace(result, dealer=page.code)


def _run_dealers(month, pages, names, *, data_dir, out_dir, timeout, workers, formats,
                 parameters, progress, languages) -> list[RunResult]:
    """:func:`run_dealer` for every page and language, as :func:`_run_batch` runs reports."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    jobs = [(page, lang) for lang in languages for page in pages]
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, timeout=timeout, formats=formats,
                  parameters=parameters)
    bar = tqdm(total=len(jobs), desc=f"dealers {month}", unit="page", disable=not progress)
    results = []
    if workers <= 1:
        for page, lang in jobs:
            results.append(run_dealer(page, month, language=lang, **kwargs))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_dealer, page, month, language=lang, **kwargs)
                       for page, lang in jobs]
            for future in futures:
                results.append(future.result())
                bar.update()
    bar.close()
    return results


# --- the month's index page -------------------------------------------------------------------

def _dealers_index(pages: list[IndexEntry], dealers: list[DealerPage], languages: list[str],
                   *, head: str, kinds: str, cells) -> str:
    """The index's table of the dealers' pages: region, dealer (name and code, masked), and
    each language's page and workbook (``cells`` of :func:`write_index`)."""
    import html as html_lib

    from analysis.privacy import mask_pii
    from analysis.report.catalogue import LANGUAGES, text

    if not pages:
        return ""

    def both(key: str) -> str:
        words = dict.fromkeys(text("dealer_page", key, language=lang) for lang in LANGUAGES)
        return html_lib.escape(" · ".join(words))

    known = {d.file: d for d in dealers}
    by_file: dict[str, dict[str, IndexEntry]] = {}
    for entry in pages:
        by_file.setdefault(entry.name, {})[entry.language] = entry

    def place(file: str) -> tuple[str, str]:
        d = known.get(file)
        return (d.region, f"{d.name} ({d.code})") if d else ("", file)

    rows = "".join(
        f"<tr><td>{html_lib.escape(mask_pii(region))}</td>"
        f'<th scope="row">{html_lib.escape(mask_pii(name))}</th>'
        + "".join(cells(by_file[file].get(lang)) for lang in languages) + "</tr>"
        for file, (region, name) in sorted(((f, place(f)) for f in by_file),
                                           key=lambda item: (item[1][0].casefold(), item[0])))
    return (f"<h2>{both('index_dealers')}</h2>"
            f'<table><thead><tr><th rowspan="2">{both("index_region")}</th>'
            f'<th rowspan="2">{both("index_dealer")}</th>{head}</tr>'
            f"<tr>{kinds}</tr></thead><tbody>{rows}</tbody></table>")


_FILE = re.compile(r"^(?P<name>.+)\.(?P<lang>[a-z]{2})\.(?P<kind>html|xlsx|pdf|failed\.txt)$")

_INDEX_CSS = """
table { border-collapse: collapse; margin: 14px 0; font-size: 14px; }
th, td { border-bottom: 1px solid #d3d3d3; padding: 6px 14px; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid #0072B2; }
tbody th { font-weight: 600; }
.failed { color: #b2182b; }
.other { color: #555; margin-top: 0; }
"""


@dataclass(frozen=True)
class IndexEntry:
    """One scope in one language as the month's folder holds it (paths relative to it)."""

    name: str
    language: str
    html: str | None = None
    excel: str | None = None
    log: str | None = None
    pdf: str | None = None


def index_entries(out: str | os.PathLike) -> list[IndexEntry]:
    """Every report of a month's folder: its page, workbook, PDF and failure log, found by
    their names (``<name>.<language>.html|.xlsx|.pdf``, ``logs/<name>.<language>.failed.txt``).
    """
    from analysis.report.catalogue import LANGUAGES

    out = Path(out)
    found: dict[tuple[str, str], dict[str, str]] = {}
    files = [*out.glob("*.html"), *out.glob("*.xlsx"), *out.glob("*.pdf"),
             *(out / LOGS).glob("*.failed.txt")]
    for path in files:
        match = _FILE.match(path.name)
        if match and match["lang"] in LANGUAGES:
            kind = {"html": "html", "xlsx": "excel", "pdf": "pdf"}.get(match["kind"], "log")
            found.setdefault((match["name"], match["lang"]), {})[kind] = (
                path.relative_to(out).as_posix())
    return [IndexEntry(name, lang, **kinds) for (name, lang), kinds in sorted(found.items())]


def write_index(out: str | os.PathLike, month: str, *,
                scopes: dict[str, str] | None = None,
                dealers: list[DealerPage] | None = None) -> Path:
    """Rewrite ``<out>/index.html``: a table of every scope by language with links to its
    page and workbook (relative, so the folder can be moved or mailed whole), and the log of
    each failed report. Built from the files the folder holds, so a batch of one region
    keeps the others' links. ``scopes`` maps region names to file names (:func:`file_names`)
    to show regions by their names; a file no scope names is shown by its file name.

    The dealers' pages (``dealers/``) follow in a table of their own, by region; ``dealers``
    (:func:`dealer_pages`) names them, a page no dealer names is shown by its file name.

    The page stands alone and opens offline: its words are in both languages
    (params/labels.yaml, ``index``), its look the report pages'.
    """
    import html as html_lib
    from urllib.parse import quote

    from analysis.report import format as F
    from analysis.report.catalogue import LANGUAGES, text

    out = Path(out)
    entries = index_entries(out)
    # the dealers' pages: their own table below, their links relative to this page
    pages = [replace(e, **{k: f"{DEALERS}/{getattr(e, k)}" for k in ("html", "excel", "log")
                           if getattr(e, k)})
             for e in index_entries(out / DEALERS)]
    # scopes of file_names ("all" -> network) or of scope_names (None -> network)
    region_of = {name: region for region, name in (scopes or {}).items()
                 if region is not None and name != "network"}
    languages = [lang for lang in LANGUAGES
                 if any(e.language == lang for e in [*entries, *pages])]
    by_scope: dict[str, dict[str, IndexEntry]] = {}
    for entry in entries:
        by_scope.setdefault(entry.name, {})[entry.language] = entry

    def both(key: str, **values) -> str:
        words = dict.fromkeys(text("index", key, language=lang, **{
            k: F.month_long(v, language=lang) if k == "month" else v
            for k, v in values.items()}) for lang in LANGUAGES)
        return html_lib.escape(" · ".join(words))

    def label(name: str) -> str:
        return both("network") if name == "network" else html_lib.escape(region_of.get(name,
                                                                                      name))

    def link(path: str) -> str:
        return (f'<a href="{html_lib.escape(quote(path))}">'
                f"{html_lib.escape(Path(path).name)}</a>")

    def cells(entry: IndexEntry | None) -> str:
        if entry is None:
            return "<td>\u2013</td><td>\u2013</td>"
        shown = [link(entry.html)] if entry.html else []
        if entry.pdf:  # the page printed (--format pdf)
            shown.append(f'<a href="{html_lib.escape(quote(entry.pdf))}">{both("pdf")}</a>')
        if entry.log:  # with a page: some sections failed, the rest rendered
            state = "sections_failed" if entry.html else "failed"
            shown.append(f'<span class="failed">{both(state)} ({link(entry.log)})</span>')
        excel = link(entry.excel) if entry.excel else "\u2013"
        return f"<td>{' '.join(shown) or chr(0x2013)}</td><td>{excel}</td>"

    order = sorted(by_scope, key=lambda n: (n != "network", region_of.get(n, n).casefold()))
    named = {lang: html_lib.escape(text("index", "language", language=lang)) for lang in languages}
    head = "".join(f'<th colspan="2" lang="{lang}">{named[lang]}</th>' for lang in languages)
    kinds = f"<th>{both('page')}</th><th>{both('workbook')}</th>" * len(languages)
    rows = "".join(f'<tr><th scope="row">{label(name)}</th>'
                   + "".join(cells(by_scope[name].get(lang)) for lang in languages) + "</tr>"
                   for name in order)
    title = both("title", month=month)
    body = (f"<h1>{title}</h1>"
            + (f'<table><thead><tr><th rowspan="2">{both("scope")}</th>{head}</tr>'
               f"<tr>{kinds}</tr></thead><tbody>{rows}</tbody></table>"
               if order else f"<p>{both('empty')}</p>" if not pages else "")
            + _dealers_index(pages, dealers or [], languages, head=head, kinds=kinds,
                             cells=cells)
            + (f'<p class="other">{both("logs", logs=LOGS)}</p>'
               if any(e.log for e in [*entries, *pages]) else ""))
    page = (f'<!DOCTYPE html>\n<html lang="{LANGUAGES[0]}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_PAGE_CSS}{_INDEX_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
