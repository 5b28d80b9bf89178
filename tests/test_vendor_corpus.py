"""A team's own exports, first time (issue 24, item 7): vendor-shaped files go from export to a
clean report.

Each case of tests/vendor_corpus.py is checked (dry run: nothing written), then ingested
through the command line as a user would: every row is read and either accepted or
quarantined, the planted bad rows are quarantined. Then every page of the monthly report (the
network and each region, English and Russian) is rendered section by section, as the report
notebook calls them: no section fails, no error text, no phone or e-mail on any page.
The example export of the README (examples/) goes the whole way through the batch.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pytest
import vendor_corpus
from report_pages import render_sections

from analysis.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
# what a page must never show: a traceback, an exception's name, papermill's error banner
ERROR_TEXT = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception)\b|An Exception was "
    r"encountered|Execution using papermill|could not be computed|не удалось рассчитать|"
    r"&lt;NA&gt;|<NA>|\bnan\b|\bNaN\b")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {case.name: case for case in vendor_corpus.build(tmp_path_factory.mktemp("corpus"))}


def _ingest(export, root: Path, *extra: str) -> int:
    return main(["ingest", str(export.path), "--table", export.table, "--data", str(root),
                 *export.args, *extra])


def _quarantined_lines(root: Path, export) -> set[int]:
    files = list((root / "quarantine").glob(f"{export.path.name}*.csv"))
    if not files:
        return set()
    with files[0].open(encoding="utf-8-sig", newline="") as fh:
        return {int(row["source_line"]) for row in csv.DictReader(fh, delimiter=";")}


@pytest.fixture(scope="module")
def stores(corpus, tmp_path_factory):
    """Each case ingested into a store of its own, as the README's walkthrough does it."""
    out = {}
    for name, case in corpus.items():
        root = tmp_path_factory.mktemp(f"store-{name}")
        for export in case.exports:
            assert _ingest(export, root) == 0, f"{name}: {export.path.name} was not ingested"
        out[name] = root
    return out


@pytest.mark.parametrize("name", [b.__name__ for b in vendor_corpus.BUILDERS])
def test_the_dry_run_writes_nothing_and_says_what_the_report_will_show(corpus, tmp_path,
                                                                       capsys, name):
    case = corpus[name]
    root = tmp_path / "data"
    for export in case.exports:
        assert _ingest(export, root, "--check") == 0
    out = capsys.readouterr().out
    assert not root.exists() or not any(root.rglob("*")), "the dry run wrote files"
    assert "->" in out                       # the column mapping
    assert re.search(r"accept", out) and re.search(r"quarantin", out)
    assert re.search(r"root causes", out, re.I)  # what the report can and cannot show


@pytest.mark.parametrize("name", [b.__name__ for b in vendor_corpus.BUILDERS])
def test_every_row_is_accepted_or_quarantined_and_planted_rows_are_caught(corpus, stores,
                                                                          name):
    from analysis.ingest import ingest_log

    root = stores[name]
    log = ingest_log(root / "processed").drop_duplicates("file", keep="last").set_index("file")
    for export in corpus[name].exports:
        entry = log.loc[export.path.name]
        assert entry["read"] == export.rows, f"{export.path.name}: rows read"
        assert entry["read"] == entry["accepted"] + entry["quarantined"]
        assert set(export.bad_lines) <= _quarantined_lines(root, export), export.path.name
        assert entry["quarantined"] <= len(export.bad_lines) + 2, (
            f"{export.path.name}: {entry['quarantined']} rows quarantined, "
            f"{len(export.bad_lines)} planted: {entry['reasons']}")


def test_sending_the_same_export_again_stores_nothing_new(corpus, stores, capsys):
    case = corpus["four_columns"]  # no answer ids: they are derived from the rows
    root = stores["four_columns"]
    capsys.readouterr()
    assert _ingest(case.exports[0], root) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b0 new\b", out), out


def _render_all(monkeypatch, data, language: str) -> tuple[str, list[str]]:
    html, _, book = render_sections(monkeypatch, data, language=language, keep_going=True)
    return html, book.failures


@pytest.mark.parametrize("name", [b.__name__ for b in vendor_corpus.BUILDERS])
def test_every_page_renders_clean_in_both_languages(corpus, stores, monkeypatch, name):
    from analysis import store
    from analysis.report.data import NETWORK, load_report_data

    processed = stores[name] / "processed"
    regions = sorted(store.load("dealers", data_dir=processed)["region"].unique())
    for scope in [NETWORK, *regions]:
        data = load_report_data(region=scope, data_dir=processed)
        try:
            for language in ("en", "ru"):
                html, failures = _render_all(monkeypatch, data, language)
                where = f"{name}, {scope}, {language}"
                assert not failures, f"{where}: {failures}"
                found = ERROR_TEXT.search(html)
                assert found is None, f"{where}: {html[max(0, found.start() - 200):found.end()]}"
                leaked = [p for p in corpus[name].pii if p in html]
                assert not leaked, f"{where}: personal data on the page {leaked[:3]}"
        finally:
            data.close()


def test_the_readme_example_goes_from_export_to_reports(tmp_path, capsys):
    """The README's three steps on examples/survey_export.csv, through the batch."""
    sys.path.insert(0, str(ROOT / "examples"))
    import make_example

    export = ROOT / "examples" / "survey_export.csv"
    made = make_example.write(tmp_path / "again.csv")
    assert made.read_bytes() == export.read_bytes(), "examples/ is not what its script makes"
    data = tmp_path / "data"
    assert main(["ingest", str(export), "--table", "responses", "--check"]) == 0
    assert main(["ingest", str(export), "--table", "responses", "--data", str(data)]) == 0
    out = tmp_path / "reports"
    assert main(["report", "--data", str(data / "processed"), "--out", str(out),
                 "--language", "en", "ru", "--workers", "2"]) == 0
    pages = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    assert len(pages) == 2 * 3, [p.name for p in pages]  # network + 2 regions, 2 languages
    index = (out / "index.html").read_text(encoding="utf-8")
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert ERROR_TEXT.search(html) is None, page.name
        # the network's page draws every section the export fills; a region of two dealers
        # and 25 answers a month still has its trend, touchpoints and causes
        assert html.count("<img") >= (8 if page.name.startswith("network") else 3), page.name
        assert page.name in index


def test_the_batch_fits_what_an_export_without_ratings_allows(corpus, stores, tmp_path,
                                                               monkeypatch):
    """The batch's warm-up fits the network-wide models once; an export without driver
    ratings has no growth model, and the cause model of its comments and the network's answers
    are still prepared once (the warm-up stopped at the growth model)."""
    from analysis import store
    from analysis.report import batch, shared

    asked = []
    for name in ("growth_result", "cause_model", "network_responses"):
        original = getattr(shared, name)
        monkeypatch.setattr(shared, name, lambda *a, _f=original, _n=name, **k: (
            asked.append(_n), _f(*a, **k))[1])
    processed = stores["four_columns"] / "processed"
    times = store.load("responses", columns=["responded_at"], data_dir=processed)
    batch._warm(store.latest_complete_month(times), store.snapshot(processed), tmp_path)
    assert asked == ["cause_model", "network_responses"]
