"""Report plumbing: safety of what reports show, Excel export, batch failure isolation."""

from datetime import datetime

import openpyxl
import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.report import batch, excel, sections
from analysis.report.book import ReportBook
from analysis.report.data import ReportData, load_report_data, trailing_months


def test_slugs_are_file_names():
    assert batch.slug("all") == "network"
    assert batch.slug("North-West") == "north-west"
    assert batch.slug("Far East") == "far-east"


def test_one_notebook_renders_the_network_and_every_region():
    import papermill

    assert batch.notebook_for("all") == batch.notebook_for("Central") == batch.MONTHLY_NOTEBOOK
    declared = papermill.inspect_notebook(str(batch.MONTHLY_NOTEBOOK))
    assert {"region", "month", "data_dir", "engine", "language", "excel_path"} <= set(declared)
    assert declared["region"]["default"] == '"all"'


def test_titles_follow_the_language():
    data = ReportData("Central", "2026-10", ("2026-10",), pd.DataFrame(), pd.DataFrame())
    assert data.title == "Region Central - customer voice, October 2026"
    assert data.title_in("ru") == "Регион Central - голос клиента, октябрь 2026"
    network = ReportData("all", "2026-10", ("2026-10",), pd.DataFrame(), pd.DataFrame())
    assert network.title == "Network - customer voice, October 2026"


def test_trailing_months_cross_the_year():
    assert trailing_months("2026-02", 3) == ("2025-12", "2026-01", "2026-02")


def test_book_escapes_html_and_masks_contacts(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    book = ReportBook()
    frame = pd.DataFrame({"comment": ["<script>alert(1)</script>",
                                      "перезвоните +7 916 123-45-67 или ivan@mail.ru"]})
    book.show("Quotes <b>", frame)
    html = shown[-1]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Quotes &lt;b&gt;" in html
    assert "123-45-67" not in html and "ivan@mail.ru" not in html
    assert book.tables["Quotes <b>"] is frame  # the workbook gets the same table


def test_book_writes_numbers_and_missing_values_as_the_excel_file_does(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    frame = pd.DataFrame({"CSS": [71.46, float("nan")],
                          "Rank": pd.array([1, None], dtype="Int64"), "NPS": ["+21.6", None]})
    ReportBook().show("t", frame)
    assert "71.5" in shown[-1] and shown[-1].count("\u2013") == 3
    assert "NaN" not in shown[-1] and "&lt;NA&gt;" not in shown[-1] and "None" not in shown[-1]


def test_book_breaks_lines_inside_a_cell_and_still_escapes(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    ReportBook().show("Quotes", pd.DataFrame({"quotes": ["«slow»\n«<b>rude</b>»"]}))
    assert "«slow»<br>«&lt;b&gt;rude&lt;/b&gt;»" in shown[-1] and "\\n" not in shown[-1]


def test_book_shows_a_chart_once_whatever_the_backend(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ReportBook().chart(ax)
    assert shown[-1].startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)  # closed: not drawn a second time


def test_section_without_data_says_so_in_one_line(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    data = ReportData("Central", "2026-10", ("2026-10",), pd.DataFrame(),
                              pd.DataFrame(), cases=None)
    with ReportBook().section("Red flags"):
        data.require("cases")
        raise AssertionError("not reached")
    assert "No cases data for Oct 2026" in shown[-1]


def test_section_does_not_hide_real_errors(monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    with pytest.raises(ZeroDivisionError), ReportBook().section("Broken"):
        1 / 0  # noqa: B018


def test_excel_neutralises_formulas_and_masks(tmp_path):
    frame = pd.DataFrame({
        "comment": ["=HYPERLINK(\"http://x\")", "+7 916 123 45 67 call me", "-2+3", "@SUM(A1)",
                    "fine"],
        "period": pd.period_range("2026-01", periods=5, freq="M"),
        "nps": [10.0, -5.5, 0.0, 3.0, 100.0],
    })
    path = excel.write_excel({"Comments: all/any?": frame, "Comments: all/any!": frame},
                               tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(path)
    # the first sheet lists the others (issue 16); the tables follow it
    assert len(wb.sheetnames) == 3 and all(len(n) <= 31 for n in wb.sheetnames)
    ws = wb[wb.sheetnames[1]]
    header = [c.value for c in ws[1]]
    assert header == ["comment", "period", "nps"] and ws["A1"].font.bold
    texts = [ws.cell(row=r, column=1).value for r in range(2, 7)]
    assert all(not t.startswith(("=", "+", "-", "@")) for t in texts)
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(2, 7))
    assert "916" not in texts[1]
    assert ws.cell(row=3, column=3).value == -5.5  # numbers stay numbers
    month = ws.cell(row=2, column=2)  # a month is a date cell that shows the month
    assert month.value == datetime(2026, 1, 1) and month.number_format == "yyyy-mm"


def test_excel_writes_the_formatters_text_as_it_is(tmp_path):
    frame = pd.DataFrame({"NPS": ["+21.6", "-3.0*", "+4.0 (small n)", "-1+2"],
                          "CSS": [71.5, float("nan"), 60.0, 1.0],
                          "Rank": pd.array([1, None, 3, 4], dtype="Int64")})
    ws = openpyxl.load_workbook(excel.write_excel({"t": frame}, tmp_path / "f.xlsx"))["t"]
    assert [ws.cell(row=r, column=1).value for r in range(2, 6)] == [
        "+21.6", "-3.0*", "+4.0 (small n)", "'-1+2"]  # only real formula text is defused
    # a missing number is an empty cell (SUM and sorting skip it), not a dash among numbers
    assert ws.cell(row=3, column=2).value is None and ws.cell(row=2, column=2).value == 71.5
    assert ws.cell(row=3, column=3).value is None and ws.cell(row=4, column=3).value == 3


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, request):
    from analysis.synthetic import make_network

    out = tmp_path_factory.mktemp("demo")
    make_network(n_dealers=6, n_regions=2, months=3, responses_per_month=600, seed=3).write(out)
    return out


@pytest.fixture(scope="module")
def demo_store(demo_dir):
    """The demo ingested into a month-partitioned store, as reports read real data."""
    from analysis.demo_exports import ingest_demo

    ingest_demo(demo_dir, data_root=demo_dir)
    return demo_dir / "processed"


def test_batch_isolates_a_failing_region(demo_dir, tmp_path, capsys, monkeypatch):
    """A report that fails does not stop the others, nor is it delivered: its notebook and
    traceback go to logs/. (An unknown region is refused before any notebook runs:
    tests/test_batch_files.py; here the failure is inside the notebook.)"""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    failing = tmp_path / "failing.ipynb"
    nbformat.write(new_notebook(cells=[
        new_code_cell('region = "all"\nmonth = ""\ndata_dir = ""\nengine = ""\nlanguage = ""\n'
                      'excel_path = ""\nas_of = ""', metadata={"tags": ["parameters"]}),
        new_code_cell("raise ValueError(f'region {region!r} has no dealers')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}}), failing)
    notebook_for = batch.notebook_for
    monkeypatch.setattr(batch, "notebook_for",  # the worker processes are forked: they see it
                        lambda region: failing if region == "North-West" else notebook_for(region))
    out = tmp_path / "out"
    code = main(["report", "--month", "2026-10", "--region", "Central", "north west",
                 "--data", str(demo_dir), "--out", str(out), "--workers", "2"])
    printed, err = capsys.readouterr()
    assert code == 1, err
    assert "ok      Central" in printed and "FAILED  North-West" in printed
    assert "region 'North-West' has no dealers" in printed
    assert (out / "central.en.html").exists() and (out / "central.en.xlsx").exists()
    assert not (out / "north-west.en.html").exists()
    assert (out / "logs" / "north-west.en.failed.ipynb").exists()  # kept for audit
    assert (out / "logs" / "north-west.en.failed.txt").exists()
    html = (out / "central.en.html").read_text(encoding="utf-8")
    assert "load_report_data(" not in html  # rendered without code
    assert "data:image/png;base64" in html  # charts embedded, the file stands alone
    assert html.count("data:image/png;base64") >= 6  # every section's chart, even under Agg
    assert "Region Central - customer voice" in html and "only calls a section" not in html


def _section_tables(monkeypatch, data, *names):
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    book = ReportBook()
    for name in names:
        getattr(sections, name)(book, data)
    return book.tables


# the monthly report's sections (notebooks/reports/monthly.py) of a region's report
REGION_SECTIONS = ("title", "summary", "headline", "touchpoints", "response_rates", "dealers",
                   "loyalty_drivers", "importance_performance", "root_causes", "growth_zones",
                   "css_index", "red_flags", "golden_stars", "incident_section",
                   "repeat_repairs", "actions_review", "customers", "survey_funnel",
                   "data_quality")


def _workbook_values(path) -> dict[str, list[tuple]]:
    """Every sheet's cell values, row by row (openpyxl)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
                for sheet in book.worksheets}
    finally:
        book.close()


def _same_value(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (a is not None and b is not None
                and (a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))))
    return a == b


def test_report_workbook_is_the_same_on_dask(demo_store, monkeypatch, tmp_path):
    """The engine switch changes where the work runs, never the numbers: a region's whole
    monthly workbook rendered on a dask.distributed cluster holds the values the local one
    does, sheet by sheet and cell by cell (every table's numbers come from the engine the
    sections ask). Skipped when the cluster cannot start."""
    from analysis import engine as engines
    from analysis.config import load_params

    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    params = load_params("engine")
    # one worker thread in this process: a real distributed scheduler, cheaply
    params = {**params, "dask": {**params["dask"], "local_cluster": {
        **params["dask"]["local_cluster"], "n_workers": 1, "processes": False}}}
    try:
        dask = engines.get_engine("dask", params=params)
    except Exception as err:  # noqa: BLE001 - any reason the cluster cannot start
        pytest.skip(f"dask.distributed cannot start here: {err}")
    workbooks = {}
    for name, engine in (("local", "local"), ("dask", dask)):
        data = load_report_data(region="Central", data_dir=demo_store, engine=engine)
        book = ReportBook("en")
        for section in REGION_SECTIONS:
            getattr(sections, section)(book, data)
        assert not book.failures, book.failures
        workbooks[name] = _workbook_values(book.save_excel(tmp_path / f"{name}.xlsx"))
        data.close()
    local, distributed = workbooks["local"], workbooks["dask"]
    assert list(local) == list(distributed)
    for sheet, rows in local.items():
        assert len(rows) == len(distributed[sheet]), sheet
        for i, (ours, theirs) in enumerate(zip(rows, distributed[sheet], strict=True)):
            assert len(ours) == len(theirs) and all(
                _same_value(a, b) for a, b in zip(ours, theirs, strict=True)), (sheet, i)


def test_dealer_scope_reads_only_the_dealer(demo_store, monkeypatch):
    data = load_report_data(region="all", data_dir=demo_store)
    dealer = sections.dealer_scope(data, "")
    tables = _section_tables(monkeypatch, dealer, "headline")
    monthly = tables["NPS by month"]
    assert monthly["Answers"].sum() == len(dealer.responses) < len(data.responses)


def test_a_reports_memos_are_its_own_and_die_with_it():
    """What sections compute once (:meth:`ReportData.memo`) is held by the report data: a
    narrowed copy (a dealer's page) computes its own, and nothing outlives the report."""
    import gc
    import weakref
    from dataclasses import replace

    frame = pd.DataFrame({"dealer_id": ["A"], "region": ["R"], "dealer_name": ["a"]})
    data = ReportData("all", "2026-10", ("2026-10",), frame, frame)
    calls = []
    assert data.memo("x", lambda: calls.append(1) or "value") == "value"
    assert data.memo("x", lambda: calls.append(1) or "other") == "value"
    assert calls == [1]
    narrowed = replace(data, region="R", region_is_name=True)
    assert narrowed.memo("x", lambda: "its own") == "its own"
    value = data.memo("y", lambda: pd.DataFrame({"n": [1]}))
    kept = weakref.ref(value)
    del data, narrowed, value
    gc.collect()
    assert kept() is None


def test_a_star_rule_that_cannot_be_built_fails_its_section_loudly(demo_store, monkeypatch,
                                                                     capsys):
    """No silent fallback to each table's own stars: the section shows one line naming the
    error, the book records the failure (the batch then names the report) and the traceback
    goes to the log."""
    from analysis import stars

    monkeypatch.setattr("IPython.display.display", lambda obj: None)

    def broken(*args, **kwargs):
        raise RuntimeError("no family")

    monkeypatch.setattr(stars.StarRule, "of", classmethod(broken))
    data = load_report_data(region="Central", data_dir=demo_store)
    book = ReportBook("en", keep_going=True)
    sections.headline(book, data)
    assert book.failures and "RuntimeError: no family" in book.failures[0]
    assert "no family" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="no family"):  # without keep_going: raised
        sections.headline(ReportBook("en"), data)


def test_the_reports_settings_arrive_with_its_data(demo_store, monkeypatch):
    """The notebook's parameters become the report's settings where its data are loaded, and
    the sections read them: the star family is computed with the report's bootstrap draws."""
    from analysis import stars
    from analysis.settings import Settings

    data = load_report_data(region="Central", data_dir=demo_store, language="ru",
                            settings=Settings.from_params(n_boot=7, q=0.05))
    assert (data.settings.language, data.settings.n_boot, data.settings.q) == ("ru", 7, 0.05)
    assert sections.dealer_scope(data, "").settings == data.settings
    seen = {}
    report_tables = stars.report_tables

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return report_tables(*args, **kwargs)

    monkeypatch.setattr(stars, "report_tables", spy)
    rule = sections.star_rule(data)
    assert seen["n_boot"] == 7 and rule.q == 0.05
