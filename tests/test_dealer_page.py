"""A page for every dealer (issue 26, item 6): the monthly report's sections on one dealer,
rendered through papermill in both languages, named by the dealer's code in the month's
``dealers/`` folder and listed in the month's index; the explore notebook calls the same
sections."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from report_pages import fake_execute

from analysis.__main__ import main
from analysis.report import batch
from analysis.report import catalogue as L

ROOT = Path(__file__).resolve().parents[1]
PAGE_NOTEBOOK = ROOT / "notebooks" / "reports" / "dealer.py"
EXPLORE_NOTEBOOK = ROOT / "notebooks" / "explore" / "dealer_onepager.py"
MONTH = "2026-10"
DEALER = "D001"
# what the page must hold, as the catalogue names its sections
REQUIRED = ("summary", "headline", "dealer_vs_peers", "root_causes", "red_flags",
            "actions_review", "dealer_growth_zones")
E_NOTATION = re.compile(r"\d(?:[.,]\d+)?[eE][+-]?\d")
RAW_NAMES = ("_p_adj", "_p_value", "sales_new", "service_", "dealer_id", "nps_low", "NaN",
             "<NA>", "None")


def page_sections(path: Path = PAGE_NOTEBOOK) -> list[str]:
    """The sections a notebook calls, in its order."""
    return re.findall(r"^\s*sections\.(\w+)\(book, \w+\)", path.read_text(), re.M)


@pytest.fixture(scope="module")
def pages(demo, tmp_path_factory):
    """One dealer's page of the small demo in English and Russian, through papermill, as
    ``report --dealer D001 --language en ru`` renders it (the batch's fits shared)."""
    out = tmp_path_factory.mktemp("dealer-pages")
    results = batch.run_batch(MONTH, data_dir=demo, out_dir=out, dealers=[DEALER],
                              languages=["en", "ru"], workers=1, formats=("html",),
                              progress=False, timeout=600)
    assert [(r.dealer, r.language) for r in results] == [(DEALER, "en"), (DEALER, "ru")]
    for r in results:
        assert r.ok, (r.ename, r.evalue, r.log)
    return out, {r.language: r for r in results}


def _sections(html: str) -> dict[str, object]:
    """The page's h2 sections: heading (without its number) -> the elements up to the next
    heading."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found: dict[str, object] = {}
    for h2 in soup.find_all("h2"):
        body = BeautifulSoup("", "html.parser")
        for sibling in h2.find_all_next():
            if sibling.name == "h2":
                break
            if sibling.name in ("p", "table", "img", "li", "h4"):
                body.append(BeautifulSoup(str(sibling), "html.parser"))
        for number in h2.select(".section-number"):
            number.extract()
        found[h2.get_text(strip=True)] = body
    return found


def _name(demo: Path, code: str) -> str:
    from analysis import store

    dealers = store.load("dealers", data_dir=demo).set_index("dealer_id")
    return str(dealers.loc[code, "dealer_name"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_page_is_the_dealers_with_its_name_on_its_headline(pages, demo, language):
    from bs4 import BeautifulSoup

    out, results = pages
    page = results[language].html
    assert page == out / "dealers" / f"{DEALER}.{language}.html"
    html = page.read_text(encoding="utf-8")
    name = _name(demo, DEALER)
    soup = BeautifulSoup(html, "html.parser")
    assert name in soup.h1.get_text() and DEALER in soup.h1.get_text()
    assert soup.html["lang"] == language
    headline = _sections(html)[L.text("sections", "headline", language=language)]
    first = headline.find("table")
    rows = [tr.find_all("td") for tr in first.find("tbody").find_all("tr")]
    # the dealer's own row is labelled with its name, never as the network or a region
    assert [r[0].get_text(strip=True) for r in rows] == [name]
    network = L.text("labels", "network", language=language)
    assert network not in {td.get_text(strip=True) for td in headline.find_all("td")}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_required_section_shows_numbers_or_says_what_it_lacks(pages, language):
    html = pages[1][language].html.read_text(encoding="utf-8")
    shown = _sections(html)
    hours = "72"
    failed = L.text("notes", "section_failed", language=language, error="", message="")
    for key in REQUIRED:
        heading = L.text("sections", key, language=language, hours=hours)
        assert heading in shown, f"{key}: {heading!r} not among {list(shown)}"
        body = shown[heading]
        assert body.find(["table", "img", "p", "li"]) is not None, f"{key} is empty"
        assert failed.split("(")[0] not in body.get_text(), f"{key} failed"
    # the section titles are the page's own: the summary's to-do list is not the actions'
    assert (L.text("summary", "to_do", language=language)
            != L.text("sections", "actions_review", language=language))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_no_raw_names_nor_e_notation_on_the_page(pages, language):
    from bs4 import BeautifulSoup

    html = pages[1][language].html.read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "script", "img"]):
        tag.decompose()
    text = soup.get_text(" ")
    assert not E_NOTATION.search(text), E_NOTATION.search(text).group(0)
    leaked = [raw for raw in RAW_NAMES if raw in text]
    assert not leaked, leaked
    headers = [th.get_text(strip=True) for th in soup.find_all("th")]
    assert not [h for h in headers if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", h)], headers


def test_the_dealers_own_stars_follow_the_reports_rule(six_dealer_data, monkeypatch):
    """A dealer's page stars by one BH family over the changes it shows (its months, its
    region's and the network's month) and the claims on its causes, never at a raw
    p < 0.05."""
    from analysis import stars
    from analysis.report import sections

    dealer = sections.dealer_scope(six_dealer_data, "")
    tables_ = sections._star_tables(dealer)
    assert list(tables_) == ["nps change", *stars.CAUSE_FAMILIES]
    # the dealer's months, then its region's and the network's report month
    assert len(tables_["nps change"]) == dealer.responses["month"].nunique() + 2
    rule = sections.star_rule(dealer)
    assert rule.tests["nps change"] <= len(tables_["nps change"])
    assert not dealer.is_network and dealer.region in set(six_dealer_data.dealers["region"])


def test_a_dealer_without_answers_or_plans_gets_one_line_per_section(six_dealer_data,
                                                                     monkeypatch):
    """The dealer's month emptied and the store without cases: every section of the page
    still renders, each saying what it lacks in the coverage's words; a dealer without a
    plan is told so, not asked to ingest action plans."""
    from report_pages import render_sections

    from analysis.report import sections

    data = six_dealer_data
    code = sorted(data.dealers["dealer_id"])[0]
    emptied = replace(data, responses=data.responses.loc[
        ~((data.responses["dealer_id"] == code) & (data.responses["month"] == data.month))],
        cases=None)
    dealer = sections.dealer_scope(emptied, code)
    assert dealer.current.empty
    html, _, book = render_sections(monkeypatch, dealer, page_sections(), language="ru",
                                    keep_going=True)
    assert not book.failures, book.failures
    assert "нет ответов" in html.lower() and "Нет данных кейсов" in html
    planless = replace(data, actions=data.actions.loc[data.actions["dealer_id"] != code])
    html, _, book = render_sections(monkeypatch, sections.dealer_scope(planless, code),
                                    ["actions_review"], language="en")
    assert L.text("dealer_page", "no_actions", language="en") in html
    assert "ingest the action plans" not in html


def test_the_dealers_name_is_masked_in_its_title(six_dealer_data):
    from analysis.report import sections

    code = sorted(six_dealer_data.dealers["dealer_id"])[0]
    dealers = six_dealer_data.dealers.assign(dealer_name=lambda d: d["dealer_name"].where(
        d["dealer_id"] != code, "Авто +7 912 345-67-89"))
    dealer = sections.dealer_scope(replace(six_dealer_data, dealers=dealers), code)
    title = dealer.title_in("ru")
    assert "345-67-89" not in title and "Авто" in title and code in title


def test_the_explore_notebook_calls_the_pages_sections():
    """notebooks/explore/dealer_onepager shows what the page shows, in the same order."""
    assert page_sections(EXPLORE_NOTEBOOK) == page_sections()
    assert page_sections()[0] == "dealer_title"
    assert "Network" not in EXPLORE_NOTEBOOK.read_text()


@pytest.mark.parametrize("codes, files", [
    (["D001", "D002"], ["D001", "D002"]),
    (["d1", "D1"], None),                       # alike but for case: both hashed
    (["A/B", "A B", "../x"], None),            # not file names: slugged and hashed
])
def test_dealer_file_names_are_the_codes_when_they_are_safe(codes, files):
    names = batch.dealer_file_names(codes)
    assert len(set(n.casefold() for n in names.values())) == len(codes)
    assert all(re.fullmatch(r"[\w-]+", n) for n in names.values())
    if files is not None:
        assert list(names.values()) == files
    assert batch.dealer_file_names(list(reversed(codes))) == names  # stable


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def fast(monkeypatch):
    """Batches without kernels nor the network-wide fits; the notebooks it was given."""
    run: list = []

    def execute(input_path, output_path, parameters, **kwargs):
        run.append((Path(input_path).name, parameters))
        return fake_execute(input_path, output_path, parameters, **kwargs)

    monkeypatch.setattr("papermill.execute_notebook", execute)
    monkeypatch.setattr(batch, "_warm", lambda *args, **kwargs: None)
    return run


def test_the_dealers_option_writes_a_page_per_dealer_and_lists_them(demo, tmp_path, fast,
                                                                    capsys):
    from analysis import store

    dealers = store.load("dealers", data_dir=demo)
    south = sorted(dealers.loc[dealers["region"] == "South", "dealer_id"])
    out = tmp_path / "out"
    code = main(["report", "--month", MONTH, "--data", str(demo), "--out", str(out),
                 "--workers", "1", "--region", "south", "--dealers", "--language", "en", "ru"])
    assert code == 0
    assert {name for name, _ in fast} == {"dealer.ipynb"}  # no region's report
    assert sorted(p["dealer"] for _, p in fast) == sorted(south * 2)
    assert all(p["region"] == "South" for _, p in fast)
    written = sorted(p.name for p in (out / "dealers").glob("*.html"))
    assert written == sorted(f"{d}.{lang}.html" for d in south for lang in ("en", "ru"))
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html"]
    printed = capsys.readouterr().out
    assert f"ok      {south[0]}" in printed and "dealers' pages" in printed

    # one more dealer later: its page joins the others in the index, nothing is lost
    assert main(["report", "--month", MONTH, "--data", str(demo), "--out", str(out),
                 "--workers", "1", "--dealer", DEALER, "--language", "en"]) == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    for dealer in [*south, DEALER]:
        assert f'href="dealers/{dealer}.en.html"' in index
        assert _name(demo, dealer) in index
    assert 'href="dealers/D001.ru.html"' not in index
    assert f'href="dealers/{south[0]}.ru.html"' in index
    assert L.text("dealer_page", "index_dealers", language="ru") in index


def test_an_unknown_dealer_is_named_with_the_known_ones(demo, tmp_path, fast, capsys):
    code = main(["report", "--month", MONTH, "--data", str(demo), "--out", str(tmp_path),
                 "--dealer", "D001", "X999"])
    assert code == 2 and not fast
    err = capsys.readouterr().err
    assert "no dealer 'X999'" in err and "D001" in err and "D002" in err
