"""Every section says what its data allows (issue 24, item 4).

A team's own export is often thin: no driver ratings or only some, comments that say nothing,
one dealer, one month, no cases or repair orders, no city, ratings on 1-5 or 0-10. Each case
bends a small demo network one way and renders every section of the monthly report with a
strict book (an exception fails the test), in English and Russian: the section whose data do
not allow it shows the catalogue's one coverage line (what is missing, what would fill it).
"""

import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from report_pages import render_sections

from analysis import coverage, growth, rootcause, store
from analysis.report import catalogue as L
from analysis.report import shared
from analysis.report.book import ReportBook, html_escape
from analysis.report.data import SectionDataMissing, load_report_data
from analysis.synthetic import make_network

MONTHLY = ["title", "summary", "headline", "touchpoints", "response_rates", "regions",
           "dealers", "loyalty_drivers", "importance_performance", "root_causes",
           "growth_zones", "css_index", "red_flags", "golden_stars", "incident_section",
           "repeat_repairs", "actions_review", "customers", "survey_funnel", "data_quality"]
DRIVERS = ["product_quality", "repair_quality", "booking", "staff", "atmosphere"]
LANGUAGES = ["en", "ru"]


@pytest.fixture(scope="module")
def data(six_dealer_data):
    return six_dealer_data


def render(monkeypatch, data, language, names=MONTHLY):
    """Every section on ``data`` with a strict book: the HTML shown, and the book."""
    html, _, book = render_sections(monkeypatch, data, names, language=language)
    return html, book


def line(data, section, language):
    """The coverage line ``section`` shows on ``data``, escaped as on the page."""
    need = data.need(section)
    assert not need.ok, f"{section} should lack data"
    return html_escape(ReportBook(language).coverage_line(need, data.month))


def visible(html: str) -> str:
    return re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)


def assert_notes(monkeypatch, data, expected: dict[str, str], names=MONTHLY):
    """Render ``names`` in both languages: each section of ``expected`` shows its reason's
    line, and the Russian page's lines carry none of the English notes' words."""
    pages = {}
    for language in LANGUAGES:
        html, book = render(monkeypatch, data, language, names)
        assert not book.failures
        for section, reason in expected.items():
            assert data.need(section).reason == reason
            assert line(data, section, language) in html, (language, section)
        pages[language] = html
    # the page's own lines (customers' quotes in tables may be in any language, and the
    # data-quality appendix names files and tables as they are stored)
    appendix = f"<h2>{html_escape(L.text('sections', 'data_quality', language='ru'))}</h2>"
    russian = " ".join(re.findall(r"<p>(.*?)</p>", pages["ru"].split(appendix)[0],
                                  flags=re.S))
    for section in expected:
        english = html_escape(ReportBook("en").coverage_line(data.need(section), data.month))
        words = {w for w in re.findall(r"[A-Za-z]{5,}", english)}
        assert not {w for w in words if re.search(rf"\b{w}\b", russian)}, section
        # the Russian line itself is Russian (acronyms such as CSS and VIN aside)
        assert not re.findall(r"\b[a-z]{3,}\b", line(data, section, "ru")), section
    return pages


def _bend(data, **frames):
    """``data`` with its responses (and, for the network, its view of them) replaced."""
    return replace(data, **frames)


# --- driver ratings ---------------------------------------------------------------------------

def test_an_export_without_driver_ratings(monkeypatch, data):
    bent = _bend(data, responses=data.responses.assign(**{d: np.nan for d in DRIVERS}))
    fitted = []
    monkeypatch.setattr(growth, "growth_zones", lambda *a, **k: fitted.append(1))
    assert_notes(monkeypatch, bent, {"loyalty_drivers": "no_ratings",
                                     "importance_performance": "no_ratings",
                                     "growth_zones": "no_ratings"})
    # the growth model asks coverage first: nothing is fitted (the batch's warm-up calls it)
    with pytest.raises(SectionDataMissing) as missing:
        shared.growth_result(bent)
    assert missing.value.need.reason == "no_ratings" and not fitted
    # the line names the drivers in the reader's language
    assert L.driver_labels("ru")["booking"] in line(bent, "loyalty_drivers", "ru")


def test_only_some_drivers_rated_run_on_those(monkeypatch, data):
    bent = _bend(data, responses=data.responses.assign(booking=np.nan, staff=np.nan))
    assert bent.rated_drivers() == ("product_quality", "repair_quality", "atmosphere")
    html, book = render(monkeypatch, bent, "en", ["loyalty_drivers", "importance_performance",
                                                  "growth_zones", "summary"])
    assert not book.failures
    for section in ("loyalty_drivers", "importance_performance", "growth_zones"):
        assert bent.need(section).ok
    assert shared.growth_result(bent).drivers == ("product_quality", "repair_quality",
                                                  "atmosphere")
    assert len(book.tables[book.text("tables", "importance_performance")]) == 3


def test_a_few_ratings_are_too_few(data):
    month = data.responses["month"] == data.month
    keep = data.responses.loc[month].index[:12]
    responses = data.responses.assign(**{d: data.responses[d].where(
        ~month | data.responses.index.isin(keep)) for d in DRIVERS})
    need = _bend(data, responses=responses).need("loyalty_drivers")
    assert (need.reason, need.found, need.needed) == ("few_ratings", 12, 30)


# --- comments ---------------------------------------------------------------------------------

def test_comments_that_say_nothing(monkeypatch, data):
    empty = np.resize(np.array(["нет", "", "-", " Нет. ", None], dtype=object),
                      len(data.responses))
    bent = _bend(data, responses=data.responses.assign(comment=empty))
    assert_notes(monkeypatch, bent, {"root_causes": "no_comments",
                                     "golden_stars": "no_praise"})
    assert bent.need("root_causes").needed == 10
    assert shared.cause_model(bent) is None  # nothing to cluster: not fitted


def _only_dealer(data, dealer):
    def keep(frame):
        return None if frame is None else frame.loc[frame["dealer_id"] == dealer]

    return replace(data, responses=keep(data.responses), invitations=keep(data.invitations),
                   cases=keep(data.cases), repair_orders=keep(data.repair_orders),
                   incidents=keep(data.incidents), actions=keep(data.actions),
                   contacts=keep(data.contacts), dealers=keep(data.dealers))


def test_one_dealer_with_three_distinct_comments(monkeypatch, data):
    dealer = data.current["dealer_id"].value_counts().index[0]
    one = _only_dealer(data, dealer)
    below = (one.responses["month"] == data.month) & (one.responses["nps"] <= 8)
    texts = np.resize(np.array(["Долго ждали запчасти", "Грязная машина после ремонта",
                                "Менеджер не перезвонил"], dtype=object), int(below.sum()))
    comments = one.responses["comment"].astype(object).copy()
    comments.loc[below] = texts
    bent = _bend(one, responses=one.responses.assign(comment=comments))
    assert_notes(monkeypatch, bent, {"regions": "one_region", "dealers": "one_dealer",
                                     "growth_zones": "one_dealer",
                                     "root_causes": "few_comments"})
    need = bent.need("root_causes")
    assert (need.found, need.needed) == (3, 10)
    assert "3" in line(bent, "root_causes", "en") and "10" in line(bent, "root_causes", "en")


def test_the_clustering_fits_a_handful_of_distinct_comments():
    # _cluster's k-means shortcut used to skip its eigengap scores: _fit_guided then crashed
    texts = ["долго ждал в сервисе", "грязная машина после мойки", "хамство менеджера",
             "дорого обслуживание"]
    for seeds in (True, False):
        model = rootcause.make_model(use_seeds=seeds, random_state=0).fit(texts)
        assert len(model.labels_) == 4 and model.k_scores_.empty
        assert model.n_clusters_ >= 1


# --- one month, optional tables, CSS, city ----------------------------------------------------

def test_the_first_month_in_the_data(monkeypatch, data):
    bent = _bend(data, responses=data.current)
    pages = assert_notes(monkeypatch, bent, {"trend": "no_previous_month"},
                         names=["summary", "headline", "touchpoints", "regions", "dealers",
                                "loyalty_drivers", "root_causes", "css_index"])
    for language, page in pages.items():
        # the summary's facts: the first list of the page
        summary = page.split("<ul class='summary'>")[1].split("</ul>")[0]
        first = L.text("summary", "headline_first_month", language=language)
        assert html_escape(first.split("}")[-1]) in summary
        # nothing "really changed" without a month before
        for word in ("real change", "really changed", "реальн"):
            assert word not in summary, (language, word)


def test_no_optional_tables_and_no_css(monkeypatch, data):
    css = [c for c in data.responses if c.startswith("css_")]
    bent = _bend(data, invitations=None, cases=None, repair_orders=None, incidents=None,
                 actions=None, contacts=None,
                 responses=data.responses.assign(**{c: np.nan for c in css}))
    assert_notes(monkeypatch, bent, {
        "response_rates": "no_invitations", "red_flags": "no_cases",
        "incidents": "no_incidents", "repeat_repairs": "no_repair_orders",
        "customers": "no_repair_orders", "actions": "no_actions",
        "survey_funnel": "no_contacts", "css_index": "no_css"})


def test_with_region_without_a_city_column():
    frame = pd.DataFrame({"dealer_id": ["D1", "D2"], "nps": [9, 3]})
    dealers = pd.DataFrame({"dealer_id": ["D1", "D2"], "dealer_name": ["A", "B"],
                            "region": ["North", "South"]})
    out = store.with_region(frame, dealers)
    assert list(out.columns) == ["dealer_id", "nps", "dealer_name", "region"]
    assert out["region"].tolist() == ["North", "South"]


@pytest.fixture(scope="module")
def thin_store(tmp_path_factory):
    """An export as thin as they come, stored as ingest stores it: one dealer without a city,
    one month, no driver ratings, comments that say nothing, no other table."""
    net = make_network(n_dealers=4, n_regions=2, months=2, responses_per_month=300, seed=5)
    directory = tmp_path_factory.mktemp("thinnest") / "processed"
    dealer = net.dealers["dealer_id"].iloc[0]
    responses = net.responses.loc[net.responses["dealer_id"] == dealer]
    month = responses["responded_at"].dt.to_period("M").max()
    responses = responses.loc[responses["responded_at"].dt.to_period("M") == month]
    responses = responses.assign(**{d: np.nan for d in DRIVERS}, comment=np.resize(
        np.array(["нет", "", "-", None], dtype=object), len(responses)))
    store.append("dealers", net.dealers.loc[net.dealers["dealer_id"] == dealer].drop(
        columns="city"), data_dir=directory)
    store.append("responses", responses, data_dir=directory)
    return directory, str(month)


def test_a_store_whose_dealers_have_no_city(monkeypatch, thin_store):
    directory, month = thin_store
    assert "city" not in store.load("dealers", data_dir=directory)
    data = load_report_data(region="all", month=month, data_dir=directory)
    assert coverage.verdict(data.coverage(), "cities").reason == "no_city"
    assert_notes(monkeypatch, data, {
        "trend": "no_previous_month", "regions": "one_region", "dealers": "one_dealer",
        "loyalty_drivers": "no_ratings", "root_causes": "no_comments",
        "growth_zones": "no_ratings", "red_flags": "no_cases",
        "repeat_repairs": "no_repair_orders", "response_rates": "no_invitations"})


def test_the_report_notebook_on_the_thinnest_store(thin_store, tmp_path):
    from analysis.report.batch import run_report

    directory, month = thin_store
    result = run_report("all", month, data_dir=directory, out_dir=tmp_path, language="ru",
                        formats=("html",), timeout=600)
    assert result.ok, (result.ename, result.evalue)
    page = result.html.read_text(encoding="utf-8")
    text = visible(page)
    for word in ("Traceback", "Exception", "Error"):
        assert word not in text, word
    assert html_escape(L.text("coverage", "no_ratings", language="ru",
                              drivers=", ".join(L.driver_labels("ru").values()))) in page


# --- ratings on their own scales --------------------------------------------------------------

def _on_scales(data):
    """booking asked on 1-5, staff on 0-10: the same answers, rescaled."""
    booking = np.ceil(data.responses["booking"] / 2)
    staff = data.responses["staff"]
    staff = np.round((staff - staff.min()) * 10 / (staff.max() - staff.min()))
    scales = {"booking": (1, 5), "staff": (0, 10)}
    return replace(data, responses=data.responses.assign(booking=booking, staff=staff),
                   scales=scales)


def test_ratings_on_their_own_scales(monkeypatch, data):
    bent = _on_scales(data)
    assert (bent.responses["staff"] == 0).any()
    # on the params' 1-10 scale a 0 is refused; with the drivers' own scales it is read
    with pytest.raises(growth.GrowthDataError, match="outside the scale 1-10"):
        growth.rank_dealers_by_driver(bent.responses, drivers=["staff"])
    zones = shared.growth_result(bent)
    assert zones.scales["booking"] == (1, 5) and zones.scales["staff"] == (0, 10)
    table = zones.table.set_index("driver")
    assert table.loc["booking", "benchmark"].max() <= 5
    assert table.loc["booking", "current"].max() <= 5
    for language in LANGUAGES:
        html, book = render(monkeypatch, bent, language, ["summary", "loyalty_drivers",
                                                          "importance_performance",
                                                          "growth_zones"])
        assert not book.failures
        booking = L.driver_labels(language)["booking"]
        shown = "".join(frame.astype(str).to_csv() for frame in book.tables.values())
        assert f"{booking} (1–5)" in shown and f"{L.driver_labels(language)['staff']} (0–10)" \
            in shown
    from analysis import drivers

    ip = drivers.importance_performance(bent.current, scales=bent.scales)
    row = ip.set_index("driver").loc["booking"]
    assert row["performance"] <= 5 and 0 <= row["position"] <= 1
    assert row["position"] == pytest.approx((row["performance"] - 1) / 4)


def test_the_report_reads_each_drivers_scale_from_the_ingest_log(six_dealer_store, tmp_path):
    copy = tmp_path / "processed"
    shutil.copytree(six_dealer_store, copy)
    log = copy / "_ingest_log.jsonl"
    entries = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x]
    last = [e for e in entries if e["table"] == "responses"][-1]
    entries.append({**last, "scales": {"booking": [1, 5], "staff": [0, 10]}})
    log.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries),
                   encoding="utf-8")
    data = load_report_data(region="all", data_dir=copy)
    assert data.scales["booking"] == (1, 5) and data.scales["staff"] == (0, 10)
    assert data.scale("atmosphere") == (1, 10) and data.scale("booking") == (1, 5)


def test_every_coverage_reason_has_its_line_in_both_languages(data):
    reasons = set(data.coverage()["reason"]) | set(coverage.assess({})["reason"]) | {
        "no_ratings", "few_ratings", "no_comments", "few_comments", "one_dealer",
        "one_region", "no_previous_month", "no_css", "no_praise", "no_city"}
    reasons.discard("")
    for reason in sorted(reasons):
        need = coverage.Need("any", False, reason, 3, 10)
        for language in LANGUAGES:
            text = ReportBook(language).coverage_line(need, data.month)
            assert text and "{" not in text, (reason, language)
            if language == "ru":
                assert not re.findall(r"\b[a-z]{3,}\b", text), reason
    # without answers, a section's own missing table is the fix it names
    verdicts = coverage.assess({}).set_index("section")["reason"]
    assert verdicts["red_flags"] == "no_cases" and verdicts["dealers"] == "no_answers"
