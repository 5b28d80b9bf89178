"""Small and empty scopes never crash a report (issue 16, item 6).

Each hostile scope is the tiny demo bent one way; every section of the monthly report runs on
it with a strict book (an exception fails the test) and must show what it can.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from report_pages import render_sections

from analysis.__main__ import main
from analysis.report import batch, charts, sections
from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report.book import ReportBook, SectionsFailed, html_escape

MONTHLY = ["title", "summary", "headline", "touchpoints", "response_rates", "dealers",
           "loyalty_drivers", "importance_performance", "root_causes", "growth_zones",
           "css_index", "red_flags", "golden_stars", "incident_section", "repeat_repairs",
           "data_quality"]


@pytest.fixture(scope="module")
def store(six_dealer_store):
    return six_dealer_store


@pytest.fixture(scope="module")
def data(six_dealer_data):
    return six_dealer_data


def render(monkeypatch, data, names=MONTHLY, language="en"):
    """Every section on ``data`` with a strict book: the HTML shown, charts, and the book."""
    return render_sections(monkeypatch, data, names, language=language)


def _only_dealers(data, ids):
    def keep(frame):
        return None if frame is None else frame.loc[frame["dealer_id"].isin(ids)]

    return replace(data, responses=keep(data.responses), invitations=keep(data.invitations),
                   cases=keep(data.cases), repair_orders=keep(data.repair_orders),
                   incidents=keep(data.incidents), dealers=keep(data.dealers))


def test_the_tiny_network_renders_with_charts(monkeypatch, data):
    html, images, book = render(monkeypatch, data)
    assert images >= 10 and not book.failures
    assert "&lt;NA&gt;" not in html and "\\n" not in html


def test_a_region_with_one_dealer(monkeypatch, data):
    one = data.dealers["dealer_id"].iloc[0]
    scope = replace(_only_dealers(data, [one]), region=data.dealers["region"].iloc[0],
                    network_responses=data.responses, network_dealers=data.dealers)
    html, images, _ = render(monkeypatch, scope)
    assert images >= 5


def test_a_dealer_with_one_answer_and_a_touchpoint_month_with_one(monkeypatch, data):
    responses = data.responses
    current = responses["month"] == data.month
    dealer = responses.loc[current, "dealer_id"].iloc[0]
    point = responses.loc[current, "touchpoint"].iloc[0]
    drop = current & (responses["dealer_id"] == dealer)
    keep_one = responses.loc[drop].index[:1]
    thin = responses.loc[~drop | responses.index.isin(keep_one)]
    drop = (thin["month"] == data.month) & (thin["touchpoint"] == point)
    thin = thin.loc[~drop | thin.index.isin(thin.loc[drop].index[:1])]
    render(monkeypatch, replace(data, responses=thin))


def test_a_month_with_no_comments(monkeypatch, data):
    responses = data.responses.assign(comment=lambda d: d["comment"].where(
        d["month"] != data.month, None))
    html, _, _ = render(monkeypatch, replace(data, responses=responses),
                        ["summary", "root_causes"])
    assert "No comments below 9" in html


@pytest.mark.parametrize("table", ["cases", "repair_orders", "incidents", "invitations"])
def test_a_scope_without_an_optional_table(monkeypatch, data, table):
    for value in (None, getattr(data, table).iloc[0:0]):
        html, _, _ = render(monkeypatch, replace(data, **{table: value}),
                            ["summary", "headline", "response_rates", "red_flags",
                             "incident_section", "repeat_repairs"])
        # the section says in one line what is missing and what would fill it
        line = L.text("coverage", f"no_{table}", language="en",
                      period=F.month(data.month, language="en"))
        assert html_escape(line) in html


def test_a_dealer_missing_from_the_dealers_table(monkeypatch, data):
    gone = data.dealers["dealer_id"].iloc[0]
    html, images, _ = render(monkeypatch, replace(
        data, dealers=data.dealers.loc[data.dealers["dealer_id"] != gone]))
    assert images >= 8


def test_a_failing_section_is_one_line_and_the_report_goes_on(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    book = ReportBook(keep_going=True)
    with book.section("Broken"):
        raise RuntimeError("boom\nsecond line")
    with book.section("Fine"):
        book.note("still here")
    assert "could not be computed (RuntimeError: boom)" in "".join(shown)
    assert "still here" in shown[-1]
    with pytest.raises(SectionsFailed, match="Broken"):
        book.finish()


def test_error_bars_take_a_raw_value_outside_its_adjusted_interval():
    import matplotlib

    matplotlib.use("Agg")
    ranking = pd.DataFrame({"dealer_id": ["D1", "D2"], "dealer_name": ["A", "B"],
                            "rank_network": [1, 2], "nps": [100.0, -100.0],
                            "nps_low": [60.0, -90.0], "nps_high": [98.0, -40.0],
                            "nps_shrunk": [50.0, -30.0], "small_sample": [True, True]})
    charts.dealer_ranking(ranking)
    charts.dealer_caterpillar(ranking, region_mean=0.0)
    monthly = pd.DataFrame({"period": pd.period_range("2026-09", periods=2, freq="M"),
                            "nps": [100.0, 50.0], "nps_low": [70.0, np.nan],
                            "nps_high": [99.0, np.nan], "change_vs_previous": [np.nan, -50.0],
                            "change_p_value": [np.nan, 0.01]})
    charts.nps_errorbars(monthly)
    charts.nps_trend(monthly)


def test_charts_without_data_say_so():
    import matplotlib

    matplotlib.use("Agg")
    empty = pd.DataFrame(columns=["period", "nps", "nps_low", "nps_high"])
    ax = charts.nps_trend(empty, title="t")
    assert "Not enough data" in " ".join(t.get_text() for t in ax.texts)
    ax = charts.repeat_rates(pd.DataFrame(columns=["dealer_name", "orders", "repeats",
                                                   "repeat_rate"]))
    assert "Not enough data" in " ".join(t.get_text() for t in ax.texts)


def test_labels_are_masked_in_index_columns_and_charts(monkeypatch, tmp_path):
    import matplotlib
    import openpyxl

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    name = "Auto +7 916 123-45-67 ivan@mail.ru"
    matrix = pd.DataFrame({"=cmd|' /C calc'!A0": [1.0]},
                          index=pd.Index([name], name="Dealer"))
    book = ReportBook()
    book.show("m", matrix)
    assert "123-45-67" not in shown[-1] and "ivan@mail.ru" not in shown[-1]
    path = book.save_excel(tmp_path / "m.xlsx")
    values = [c.value for row in openpyxl.load_workbook(path)["m"].iter_rows() for c in row]
    assert not any("123-45-67" in str(v) or "ivan@" in str(v) for v in values)
    assert not any(str(v).startswith("=") for v in values)
    ranking = pd.DataFrame({"dealer_id": ["D1"], "dealer_name": [name], "rank_network": [1],
                            "nps": [10.0], "nps_low": [0.0], "nps_high": [20.0],
                            "nps_shrunk": [8.0], "small_sample": [False]})
    ax = charts.dealer_caterpillar(ranking)
    ticks = " ".join(t.get_text() for t in ax.get_yticklabels())
    assert "123-45-67" not in ticks and "ivan@mail.ru" not in ticks


def test_report_file_names_are_unique_per_scope():
    names = batch.file_names(["all", "Central<script>", "Central script", "South"])
    assert len(set(names.values())) == 4
    assert names["all"] == "network" and names["South"] == "south"


def test_a_month_without_answers_stops_before_any_notebook(store, tmp_path, capsys):
    code = main(["report", "--month", "2019-01", "--data", str(store), "--out", str(tmp_path)])
    assert code == 2
    assert "no answers in 2019-01" in capsys.readouterr().err
    assert not (tmp_path / "notebooks").exists()


def test_russian_report_words_and_numbers(monkeypatch, data):
    html, _, _ = render(monkeypatch, data, ["title", "summary", "headline"], language="ru")
    assert "Кратко" in html and "Что сделать в этом месяце" in html
    assert "окт. 2026" in html or "сент. 2026" in html or "авг. 2026" in html
    assert any(f"{d},{e}" in html for d in "0123456789" for e in "0123456789")


# --- root causes learnt from the team's labels (issue 18) -------------------------------------

def test_root_causes_show_the_agreement_with_the_team(monkeypatch, data):
    from analysis import rootcause

    html, _, book = render(monkeypatch, data, ["root_causes"])
    assert "The model agrees with the team on" in html and "Review queue:" in html
    assert "Cause from" in html and not book.failures
    # the sentence's share is the cross-validated accuracy on the scope's labelled answers
    learned = sections._learned(data)
    window = data.responses.loc[data.responses["month"].isin(learned.months)]
    agree = learned.scope_agreement(window)
    acc = agree.overall.set_index("metric").loc["accuracy"]
    held = agree.predictions
    assert acc["value"] == pytest.approx((held["label"] == held["predicted"]).mean())
    assert acc["low"] <= acc["value"] <= acc["high"]
    assert f"{round(100 * acc['value'])}%" in html
    # the report's shares: the team's label wins wherever it exists
    comments = rootcause.labelled_comments(window, data.cases)
    team = comments.dropna(subset=["root_cause"]).set_index("response_id")["root_cause"]
    causes = learned.causes(window)
    assert (causes.reindex(team.index) == team).all()
    assert {"team", "model"} <= set(learned.scope(window)["source"])


def test_root_causes_without_team_labels_say_so_in_one_line(monkeypatch, data):
    for cases in (None, data.cases.assign(root_cause=None), data.cases.drop(
            columns="root_cause")):
        html, images, book = render(monkeypatch, replace(data, cases=cases), ["root_causes"])
        assert "too few root causes to learn from" in html and not book.failures
        assert images == 1  # the Pareto of the clustering's causes


def test_a_region_whose_team_labelled_nothing(monkeypatch, data):
    # the region with the fewest labels loses them; the other's still teach the model
    labelled = data.cases.dropna(subset=["root_cause"])["dealer_id"].map(
        data.dealers.set_index("dealer_id")["region"])
    region = labelled.value_counts().index[-1]
    ids = data.dealers.loc[data.dealers["region"] == region, "dealer_id"]
    scoped = _only_dealers(data, ids)
    unlabelled = scoped.cases.assign(root_cause=None)
    network_cases = pd.concat([data.cases.loc[~data.cases["dealer_id"].isin(ids)],
                               unlabelled])
    scope = replace(scoped, region=region, cases=unlabelled, network_responses=data.responses,
                    network_dealers=data.dealers)
    monkeypatch.setattr("analysis.report.shared._network_cases", lambda d: network_cases)
    html, _, book = render(monkeypatch, scope, ["summary", "root_causes"])
    assert "the team recorded no cause in this scope" in html and not book.failures
    assert "Review queue:" in html


def test_a_month_whose_comments_are_all_gone_keeps_the_one_line_note(monkeypatch, data):
    responses = data.responses.assign(comment=None)
    html, _, book = render(monkeypatch, replace(data, responses=responses),
                           ["summary", "root_causes"])
    assert "No comments below 9" in html and not book.failures
