"""What a report batch leaves in the month's folder: regions found however they are written,
every file named with its language, an index of the folder, and a failed report kept out of
the reader's way (its notebook and traceback in logs/, the command exits non-zero)."""

import os
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from report_pages import fake_execute

from analysis.__main__ import main
from analysis.report import batch

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
SCOPES = ("network", "central", "north-west", "south")  # the small demo's file names
PAPERMILL_BANNER = ("An Exception was encountered", "Execution using papermill", "Traceback")


def _no_notebook(*args, **kwargs):
    raise AssertionError("a notebook ran")


@pytest.fixture
def fast(monkeypatch):
    """Batches without kernels nor the network-wide fits."""
    monkeypatch.setattr("papermill.execute_notebook", fake_execute)
    monkeypatch.setattr(batch, "_warm", lambda *args, **kwargs: None)


def _report(demo, out, *args) -> int:
    return main(["report", "--month", MONTH, "--data", str(demo), "--out", str(out),
                 "--workers", "1", *args])


# --- regions -------------------------------------------------------------------------------

KNOWN = ["Central", "Far East", "North-West", "Volga"]


@pytest.mark.parametrize("asked, found", [
    (["volga"], ["Volga"]), (["VOLGA"], ["Volga"]), (["North West"], ["North-West"]),
    (["north-west"], ["North-West"]), (["NORTH_WEST", "far-east"], ["North-West", "Far East"]),
    (["network", "Volga", "volga"], [None, "Volga"]), (["network"], [None]),
])
def test_regions_are_found_by_name_or_file_name_ignoring_case_and_punctuation(asked, found):
    assert batch.match_regions(asked, KNOWN) == found


def test_an_unknown_region_names_the_known_ones_and_their_file_names():
    with pytest.raises(batch.UnknownRegion) as err:
        batch.match_regions(["Volga", "Atlantis"], KNOWN)
    message = str(err.value)
    assert "no region 'Atlantis'" in message and "Volga'" not in message
    assert "Central (central), Far East (far-east), North-West (north-west), Volga (volga)" in (
        message)


def test_regions_that_slug_alike_are_told_apart_by_their_file_names():
    known = ["Central<script>", "Central script"]
    names = batch.file_names([batch.NETWORK, *known])
    with pytest.raises(batch.UnknownRegion, match="matches Central<script>"):
        batch.match_regions(["central script"], known)
    assert batch.match_regions([names["Central<script>"].upper()], known) == ["Central<script>"]
    assert batch.match_regions(["Central script"], known) == ["Central script"]


def test_reserved_and_colliding_region_names_get_distinct_stable_file_names():
    known = ["all", "Network", "north west", "North-West", "Volga"]
    names = batch.scope_names(known)
    assert names[None] == "network" and names["Volga"] == "volga"
    assert re.fullmatch(r"all-[0-9a-f]{6}", names["all"])
    assert re.fullmatch(r"network-[0-9a-f]{6}", names["Network"])
    assert names["north west"] != names["North-West"]
    assert all(n.startswith("north-west-") for n in (names["north west"], names["North-West"]))
    assert len(set(names.values())) == len(names)
    # a reserved name's file name is its own, whatever the other regions (a later run)
    assert batch.scope_names(["all"])["all"] == names["all"]
    assert batch.scope_names(["all", "Volga", "South"])["all"] == names["all"]
    # "all" and "network" are the network's report; the region "all" is found by its file name
    assert batch.match_regions(["all"], known) == [None]
    assert batch.match_regions(["network", names["all"]], known) == [None, "all"]
    assert batch.match_regions([names["all"].upper()], known) == ["all"]


@pytest.fixture
def odd_store(demo, tmp_path):
    """The small demo with two more regions: one named "all", one whose file name would be
    North-West's ("north west")."""
    import shutil

    import pandas as pd

    from analysis import store

    data = tmp_path / "store"
    shutil.copytree(demo, data)
    store.append("dealers", pd.DataFrame({
        "dealer_id": ["D901", "D902"], "dealer_name": ["Один", "Два"],
        "region": ["all", "north west"], "city": ["Тверь", "Псков"]}), data_dir=data)
    return data


def test_a_region_named_all_gets_its_own_report_and_the_network_one(odd_store, tmp_path,
                                                                      monkeypatch, capsys):
    seen = []

    def execute(input_path, output_path, parameters, **kwargs):
        seen.append(dict(parameters))
        return fake_execute(input_path, output_path, parameters, **kwargs)

    monkeypatch.setattr("papermill.execute_notebook", execute)
    monkeypatch.setattr(batch, "_warm", lambda *args, **kwargs: None)
    out = tmp_path / "out"
    assert _report(odd_store, out, "--language", "en") == 0
    names = batch.scope_names(batch.regions_in(odd_store))
    pages = sorted(p.name for p in out.glob("*.en.html"))
    assert pages == sorted(f"{names[r]}.en.html" for r in names)  # one page per report
    assert len(pages) == 6 and "network.en.html" in pages
    assert "6 of 6 reports" in capsys.readouterr().out
    # the network once, the region "all" once and told apart
    assert sorted(p.get("region_is_name", False) for p in seen if p["region"] == "all") == [
        False, True]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert ">all<" in index and "Network · Сеть" in index and ">north west<" in index
    # a run for one region writes that region's file only, with the name of the full batch
    again = tmp_path / "again"
    assert _report(odd_store, again, "--region", "north west", "--language", "en") == 0
    assert [p.name for p in again.glob("*.en.html")] == [f"{names['north west']}.en.html"]
    assert _report(odd_store, again, "--region", "North-West", "--language", "en") == 0
    assert len(list(again.glob("*.en.html"))) == 2


def test_an_unknown_region_fails_before_any_notebook(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(batch, "run_report", _no_notebook)
    monkeypatch.setattr(batch, "_warm", _no_notebook)
    started = time.perf_counter()
    code = _report(demo, tmp_path, "--region", "volga")
    assert time.perf_counter() - started < 10
    assert code == 2
    err = capsys.readouterr().err
    assert "no region 'volga'" in err
    assert "Central (central), North-West (north-west), South (south)" in err
    assert not (tmp_path / "notebooks").exists()


def test_a_region_written_as_its_file_name_is_rendered(demo, tmp_path, fast, capsys):
    assert _report(demo, tmp_path, "--region", "NORTH WEST", "--language", "en") == 0
    assert (tmp_path / "north-west.en.html").exists()
    assert "North-West en" in (tmp_path / "north-west.en.html").read_text(encoding="utf-8")
    assert not (tmp_path / "central.en.html").exists()


@pytest.mark.parametrize("asked, pages", [(["ALL"], SCOPES), (["network"], ("network",))])
def test_all_is_every_report_network_the_networks_only(demo, tmp_path, fast, asked, pages):
    assert _report(demo, tmp_path, "--region", *asked, "--language", "en") == 0
    assert sorted(p.name for p in tmp_path.glob("*.en.html")) == sorted(
        f"{page}.en.html" for page in pages)


# --- names ---------------------------------------------------------------------------------


def _made(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.is_file() and ".cache" not in p.parts and p.name != "index.html"}


@pytest.mark.parametrize("languages", [["ru"], ["en", "ru"], ["ru", "en"]])
def test_every_file_is_named_with_its_language_whatever_the_order(demo, tmp_path, fast,
                                                                   languages):
    assert _report(demo, tmp_path, "--language", *languages) == 0
    assert _made(tmp_path) == {f"{where}{scope}.{lang}.{ext}"
                               for scope in SCOPES for lang in languages
                               for where, ext in (("", "html"), ("", "xlsx"),
                                                  ("notebooks/", "ipynb"))}
    for lang in languages:
        page = tmp_path / f"south.{lang}.html"
        assert f'<html lang="{lang}">' in page.read_text(encoding="utf-8")
        assert f"South {lang}" in page.read_text(encoding="utf-8")


def test_one_language_never_overwrites_the_other(demo, tmp_path, fast):
    assert _report(demo, tmp_path, "--language", "en") == 0
    english = (tmp_path / "network.en.html").read_bytes()
    assert _report(demo, tmp_path, "--language", "ru") == 0
    assert (tmp_path / "network.en.html").read_bytes() == english
    assert "all ru" in (tmp_path / "network.ru.html").read_text(encoding="utf-8")


# --- the index -----------------------------------------------------------------------------


def _hrefs(index: Path) -> list[str]:
    return re.findall(r'href="([^"]*)"', index.read_text(encoding="utf-8"))


def test_the_index_links_every_page_and_workbook_of_the_folder(demo, tmp_path, fast):
    assert _report(demo, tmp_path, "--language", "en", "ru") == 0
    index = tmp_path / "index.html"
    hrefs = _hrefs(index)
    assert sorted(hrefs) == sorted(f"{scope}.{lang}.{ext}" for scope in SCOPES
                                   for lang in ("en", "ru") for ext in ("html", "xlsx"))
    assert all((tmp_path / href).is_file() for href in hrefs)  # relative, to files it holds
    page = index.read_text(encoding="utf-8")
    assert "Report · Отчет" in page and "English" in page and "Русский" in page
    assert "Network · Сеть" in page and ">North-West<" in page  # regions by their names
    assert page.index("Network · Сеть") < page.index(">Central<")
    assert "http" not in page and "<script" not in page and "<style>" in page  # offline
    assert "October 2026" in page and "октябрь 2026" in page  # the month named in each language


def test_a_batch_of_one_region_keeps_the_others_in_the_index(demo, tmp_path, fast):
    assert _report(demo, tmp_path, "--language", "en") == 0
    assert _report(demo, tmp_path, "--region", "south", "--language", "ru") == 0
    hrefs = _hrefs(tmp_path / "index.html")
    assert "network.en.html" in hrefs and "central.en.xlsx" in hrefs
    assert "south.ru.html" in hrefs and "network.ru.html" not in hrefs


def test_an_empty_folder_has_an_index_that_says_so(tmp_path):
    page = batch.write_index(tmp_path, MONTH).read_text(encoding="utf-8")
    assert "No reports in this folder yet." in page and "<table" not in page


# --- failed reports ------------------------------------------------------------------------

PARAMETERS = """region = "all"
month = ""
data_dir = ""
engine = ""
language = ""
excel_path = ""
as_of = ""
"""


def _notebook(path: Path, body: str) -> Path:
    """A report notebook of two cells: the monthly notebook's parameters, then ``body``."""
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                             new_code_cell(body)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nbformat.write(nb, path)
    return path


RAISES = """from IPython.display import HTML, display
display(HTML(f"<h1>Region {region}</h1>"))
raise RuntimeError("the dealers export has no city column")
"""

SECTIONS_FAIL = """from pathlib import Path
from IPython.display import HTML, display
from analysis.report.book import SectionsFailed
display(HTML(f"<h1>Region {region}</h1><p>This section could not be computed.</p>"))
if excel_path:
    Path(excel_path).write_bytes(b"workbook")
raise SectionsFailed("drivers: DriverDataError: no ratings")
"""

SUCCEEDS = """from IPython.display import HTML, display
display(HTML(f"<h1>Region {region}</h1>"))
if excel_path:
    open(excel_path, "wb").write(b"workbook")
"""


def _pages_with_errors(out: Path) -> list[str]:
    return [p.name for p in out.glob("*.html")
            if any(text in p.read_text(encoding="utf-8") for text in PAPERMILL_BANNER)]


def test_a_failing_notebook_is_logged_not_delivered(demo, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("central.en.html", "central.en.xlsx"):  # an earlier run's
        (out / name).write_text("an earlier run")
    failing = _notebook(tmp_path / "raises.ipynb", RAISES)
    monkeypatch.setattr(batch, "notebook_for", lambda region: failing)
    monkeypatch.setattr(batch, "_warm", lambda *args, **kwargs: None)

    assert _report(demo, out, "--region", "central", "--language", "en") == 1
    printed = capsys.readouterr().out
    log = out / "logs" / "central.en.failed.txt"
    assert "FAILED  Central" in printed and "RuntimeError: the dealers export has no city" in (
        printed)
    assert str(log) in printed and "no page delivered" in printed
    assert not (out / "central.en.html").exists() and not (out / "central.en.xlsx").exists()
    assert not _pages_with_errors(out)
    assert (out / "logs" / "central.en.failed.ipynb").exists()
    assert not list((out / "notebooks").glob("*.ipynb"))  # notebooks/ holds successes only
    text = log.read_text(encoding="utf-8")
    assert "RuntimeError: the dealers export has no city column" in text
    assert re.search(r"cell: 2 of the executed notebook \(In \[\d+\]\)", text)
    assert "\x1b[" not in text  # the traceback without terminal colours
    assert "removed an earlier run's central.en.html, central.en.xlsx" in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "failed · не построен" in index and 'href="logs/central.en.failed.txt"' in index

    # the next run that succeeds clears the log
    good = _notebook(tmp_path / "succeeds.ipynb", SUCCEEDS)
    monkeypatch.setattr(batch, "notebook_for", lambda region: good)
    assert _report(demo, out, "--region", "central", "--language", "en") == 0
    assert (out / "central.en.html").exists() and not list((out / "logs").iterdir())
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="failed"' not in index and "logs/" not in index


def test_sections_that_failed_leave_a_page_without_papermills_banner(tmp_path):
    result = batch.run_report("Volga", MONTH, out_dir=tmp_path, language="ru",
                              notebook=_notebook(tmp_path / "sections.ipynb", SECTIONS_FAIL))
    assert not result.ok and result.ename == "SectionsFailed"
    assert result.html == tmp_path / "volga.ru.html"
    page = result.html.read_text(encoding="utf-8")
    assert "<h1>Region Volga</h1>" in page and "This section could not be computed." in page
    assert not any(text in page for text in PAPERMILL_BANNER) and "DriverDataError" not in page
    assert result.excel == (tmp_path / "volga.ru.xlsx").resolve()
    assert result.log == tmp_path / "logs" / "volga.ru.failed.txt"
    assert "drivers: DriverDataError: no ratings" in result.log.read_text(encoding="utf-8")
    assert result.notebook == tmp_path / "logs" / "volga.ru.failed.ipynb"
    index = batch.write_index(tmp_path, MONTH).read_text(encoding="utf-8")
    assert 'href="volga.ru.html"' in index and "some sections failed" in index


BOOK_SECTION_FAILS = """import warnings
from analysis.report.book import ReportBook
book = ReportBook(language or None, keep_going=True)
book.heading(f"Region {region}")
def load_ratings():
    raise FileNotFoundError("[Errno 2] No such file: '/srv/data/processed/ratings.parquet'")
with book.section("Drivers"):
    load_ratings()
with book.section("Dealers"):
    book.note("every dealer")
warnings.warn("a library's warning from /srv/lib/site-packages/x.py")
book.finish(excel_path or None)
"""


def test_a_failed_sections_traceback_goes_to_the_log_not_the_page(tmp_path):
    """The page shows the section's one line only: no traceback, no path (hidden by CSS
    before: a reader saving the page kept them); the log beside it holds the traceback."""
    result = batch.run_report("Volga", MONTH, out_dir=tmp_path, language="en",
                              formats=("html",),
                              notebook=_notebook(tmp_path / "book.ipynb", BOOK_SECTION_FAILS))
    assert not result.ok and result.ename == "SectionsFailed"
    page = result.html.read_text(encoding="utf-8")
    assert "This section could not be computed (FileNotFoundError: [Errno 2] No such file: " \
           "'ratings.parquet')" in page
    assert "every dealer" in page  # the next section rendered
    for leak in ("Traceback", "/srv/", "load_ratings", ".py", "<pre", "Warning"):
        assert leak not in page, leak
    log = result.log.read_text(encoding="utf-8")
    assert "section failed: 'Drivers':" in log and "Traceback (most recent call last)" in log
    assert "in load_ratings" in log and "/srv/data/processed/ratings.parquet" in log


# --- make lab ------------------------------------------------------------------------------


def _make_lab(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "IP")}
    shown = subprocess.run(["make", "-n", "lab", *args], cwd=ROOT, capture_output=True,
                           text=True, check=True, env=env).stdout
    return next(line for line in shown.splitlines() if "jupyter lab" in line)


def test_make_lab_takes_a_port_and_runs_as_root():
    lab = _make_lab("PORT=8899", "IP=0.0.0.0")
    assert "--port=8899" in lab and "--ip=0.0.0.0" in lab and "--no-browser" in lab
    assert ("--allow-root" in lab) == (os.getuid() == 0)
    assert "--port=8888" in _make_lab() and "--ip=127.0.0.1" in _make_lab()


# --- answers of a dealer the dealers table lacks ------------------------------------------------


def test_answers_of_a_dealer_missing_from_the_dealers_table_count_under_unassigned(
        demo, tmp_path, monkeypatch):
    """store.append takes answers of a dealer the dealers table does not name; every
    report's growth section failed on them ("some rows lack 'region'"). They are the
    network's, under the region of params/columns.yaml defaults.region, and the data-quality
    appendix says so."""
    import shutil

    from report_pages import render_sections

    from analysis import store
    from analysis.report.data import load_report_data

    data_dir = tmp_path / "store"
    shutil.copytree(demo, data_dir)
    answers = store.load("responses", months=[MONTH], data_dir=data_dir).head(30)
    store.append("responses", answers.drop(columns="month").assign(
        dealer_id="D999", response_id=lambda d: d["response_id"] + "-x"), data_dir=data_dir)
    network = load_report_data(region="all", month=MONTH, data_dir=data_dir)
    central = load_report_data(region="Central", month=MONTH, data_dir=data_dir)
    try:
        assert network.unlisted_dealers == ("D999",)
        assert network.dealers.set_index("dealer_id").loc["D999", "region"] == "Unassigned"
        assert not network.responses["region"].isna().any()
        assert not central.network["region"].isna().any()
        assert "D999" in set(central.all_dealers["dealer_id"])
        assert "D999" not in set(central.responses["dealer_id"])
        for data in (network, central):
            names = ["growth_zones", "data_quality"] + (["regions"] if data.is_network else [])
            html, _, _ = render_sections(monkeypatch, data, names)  # a strict book
            assert ("Answers of dealers the dealers table does not name: 30 (D999); the "
                    "network counts them under the region &#x27;Unassigned&#x27;") in html
    finally:
        network.close()
        central.close()


def test_a_region_named_all_reads_that_region_not_the_network(odd_store):
    from analysis.report.data import load_report_data

    region = load_report_data(region="all", region_is_name=True, month=MONTH,
                              data_dir=odd_store)
    network = load_report_data(region="all", month=MONTH, data_dir=odd_store)
    try:
        assert not region.is_network and network.is_network
        assert region.dealers["dealer_id"].tolist() == ["D901"]
        assert len(network.dealers) > 1
        assert region.title == "Region all - customer voice, October 2026"
    finally:
        region.close()
        network.close()
