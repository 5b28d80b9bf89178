"""The closing-the-loop sections of the monthly report (issue 17): actions, customers, funnel.

They run on a small demo store (with planted actions, returns and channel rates) through the
report layer, and the tables they show are checked against the statistics they come from.
"""

import pandas as pd
import pytest

from analysis import actions, funnel
from analysis.report import catalogue as L
from analysis.report import kinds, sections, tables
from analysis.report.book import ReportBook
from analysis.report.data import ReportData, load_report_data
from analysis.synthetic import make_network


@pytest.fixture(scope="module")
def store(ingested_store):
    return ingested_store("loop", make_network(
        n_dealers=12, n_regions=2, months=8, responses_per_month=1500, seed=11))


@pytest.fixture(scope="module")
def network(store):
    data = load_report_data(region="all", data_dir=store)
    yield data
    data.close()


def _run(monkeypatch, data, name, language=None):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    book = ReportBook(language)
    getattr(sections, name)(book, data)
    return book, shown


def _images(shown) -> int:
    from IPython.display import Image

    return sum(isinstance(obj, Image) for obj in shown)


def test_actions_section_shows_completion_and_the_measured_effects(monkeypatch, network):
    book, shown = _run(monkeypatch, network, "actions_review")
    titles = list(book.tables)
    assert titles[:2] == ["Action plans: completion", "Actions of the month and their effect"]
    review = actions.monthly_review(network.actions, network.network, month=network.month,
                                    dealers=network.all_dealers,
                                    causes=sections._action_causes(network))
    table = kinds.page(book.tables["Actions of the month and their effect"])[0]
    assert table["Action"].tolist() == review["action_id"].tolist()
    measured = review["effect"].notna().to_numpy()
    # an effect is a signed value with its interval, or the dash while it cannot be measured
    assert table.loc[measured, "Effect vs comparable dealers"].str.fullmatch(
        r"[+-]?\d+\.\d\d \[[+-]?\d+\.\d\d, [+-]?\d+\.\d\d\]").all()
    assert (table.loc[~measured, "Effect vs comparable dealers"] == "–").all()
    completion = book.tables["Action plans: completion"]
    assert completion["Actions"].sum() == len(network.actions)
    assert _images(shown) == (1 if measured.any() else 0)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_review_table_shows_the_comparable_dealers_and_the_verdict_in_words(network,
                                                                                language):
    month = str(network.actions["closed_at"].max().to_period("M"))
    review = actions.monthly_review(network.actions, network.network, month=month,
                                    dealers=network.all_dealers)
    done = (review["state"] == "done").to_numpy()
    assert done.any()
    table = tables.action_review_table(review, language=language)
    c = L.columns(language)
    assert table.loc[done, c("n_comparison")].astype(str).str.fullmatch(r"\d+").all()
    words = L.names("action_verdicts", language=language)
    assert table.loc[done, c("verdict")].tolist() == [words[v] for v in
                                                      review.loc[done, "verdict"]]


def test_customers_section_shows_flow_returns_and_value_without_personal_data(monkeypatch,
                                                                               network):
    book, shown = _run(monkeypatch, network, "customers")
    assert _images(shown) >= 2
    titles = " | ".join(book.tables)
    assert "Customers by dealer" in titles
    rates = next(f for t, f in book.tables.items() if t.startswith("Came back within"))
    assert rates["NPS category"].tolist() == ["promoters", "passives", "detractors"]
    shares = rates["Return rate"]
    assert shares.iloc[0] > shares.iloc[2]  # the demo plants promoters coming back more
    text = pd.concat([f.astype(str) for f in book.tables.values()]).to_string()
    responses = network.responses
    for column in ("phone", "email", "vin"):
        if column in responses:
            values = responses[column].dropna().astype(str)
            assert not values.loc[values.str.len() > 5].map(text.__contains__).any()


def test_funnel_section_matches_the_statistics_in_both_languages(monkeypatch, network):
    book, shown = _run(monkeypatch, network, "survey_funnel")
    month = network.contacts.loc[network.contacts["month"] == network.month]
    rates = funnel.funnel_rates(month, by=("channel",))
    table = book.tables["Survey funnel by channel"]
    assert table["Attempted"].tolist() == rates["attempted"].tolist()
    assert table["Reach rate"].tolist() == rates["reach_rate"].tolist()
    assert kinds.page(table)[0]["Reach rate"].tolist() == [
        f"{round(100 * r)}%" for r in rates["reach_rate"]]
    assert _images(shown) == 1
    ru, _ = _run(monkeypatch, network, "survey_funnel", language="ru")
    assert "Воронка опроса по каналам" in ru.tables


def test_sections_without_their_tables_say_so(monkeypatch):
    empty = ReportData("Central", "2026-10", ("2026-10",), pd.DataFrame(), pd.DataFrame())
    for name, what in (("actions_review", "action plans"), ("customers", "repair orders"),
                       ("survey_funnel", "survey contacts")):
        _, shown = _run(monkeypatch, empty, name)
        text = " ".join(str(getattr(obj, "data", "")) for obj in shown)
        assert f"No {what} data for Oct 2026" in text


def test_growth_zones_show_the_value_associated_with_closing_the_gap(monkeypatch, network):
    from analysis import retention
    from analysis.report import shared

    book, shown = _run(monkeypatch, network, "growth_zones")
    title = "Value associated with closing the gap, by zone"
    table = book.tables[title]
    # the same numbers as the statistics: every top zone, the largest value first
    leaders = shared.growth_result(network).top()
    service = network.responses.loc[network.responses["touchpoint"] == "service"]
    months = min(12, network.responses["month"].nunique() - 1)
    rates = retention.return_rates(network.repair_orders, service, months=months)
    customers = retention.service_customers(
        network.repair_orders, as_of=pd.Period(network.month, freq="M").end_time)
    value = retention.uplift_value(leaders.merge(customers, on="dealer_id"), rates,
                                   gain="uplift", gain_interval=("uplift_low", "uplift_high"))
    assert len(table) == len(value) > 0
    expected = value["value"].round(0).sort_values(ascending=False).astype("int64").tolist()
    assert table["Value associated a year, RUB"].round(0).astype("int64").tolist() == expected
    assert (value["value_low"] <= value["value"]).all()
    assert (value["value"] <= value["value_high"]).all()
    # worded as an association; the HTML keeps the top rows, the Excel file has them all
    html = " ".join(str(getattr(obj, "data", "")) for obj in shown)
    assert "An association, not a promise" in html and "detractor to promoter" in html
    more = len(table) - 3
    assert more <= 0 or f"{more} more {'row' if more == 1 else 'rows'} in the Excel file" in html
    top = html[html.index(title):]
    assert top.count("<tr") == 1 + min(3, len(table))  # the header and the top rows
    assert "Value associated a year [95% interval]" in top
    ru, _ = _run(monkeypatch, network, "growth_zones", language="ru")
    assert "Ценность, связанная с закрытием разрыва, по зонам" in ru.tables
