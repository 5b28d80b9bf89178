import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import repairs
from analysis.privacy import PHONE_MASK
from analysis.report import charts, tables

t = pd.Timestamp
COLUMNS = ["ro_id", "vin", "dealer_id", "opened_at", "closed_at", "fault_code", "fault",
           "mechanic", "foreman"]


def _ros(rows):
    return pd.DataFrame(rows, columns=COLUMNS).astype({"opened_at": "datetime64[ns]",
                                                       "closed_at": "datetime64[ns]"})


@pytest.fixture
def orders():
    """Hand-made repair orders around the 14-day boundary."""
    return _ros([
        # VIN A: closed 1 March 18:00; back on day 14 (15 March, any hour) -> repeat
        ("A1", "VINA", "D1", t("2026-03-01 09:00"), t("2026-03-01 18:00"), "SUS-01",
         "Стук в передней подвеске", "Mech 1", "Fore 1"),
        ("A2", "VINA", "D1", t("2026-03-15 08:00"), t("2026-03-15 12:00"), "sus 01",
         " СТУК в передней  подвеске. ", "Mech 2", "Fore 1"),
        # VIN B: back on day 15 -> not a repeat
        ("B1", "VINB", "D1", t("2026-03-01 09:00"), t("2026-03-01 23:59"), "BRK-01",
         "Скрип колодок", "Mech 1", "Fore 1"),
        ("B2", "VINB", "D1", t("2026-03-16 00:01"), t("2026-03-16 12:00"), "BRK-01",
         "Скрип колодок", "Mech 2", "Fore 1"),
        # VIN C: another fault inside the window -> not a repeat; then the same fault again
        # on day 0 (reopened the day it closed) -> a repeat of C1, then of C3 (a chain)
        ("C1", "VINC", "D2", t("2026-03-02 09:00"), t("2026-03-02 12:00"), "ELC-01",
         "Не работает кондиционер", "Mech 3", "Fore 2"),
        ("C2", "VINC", "D2", t("2026-03-03 09:00"), t("2026-03-03 12:00"), "ENG-01",
         "Пропуски зажигания", "Mech 3", "Fore 2"),
        ("C3", "VINC", "D2", t("2026-03-02 17:00"), t("2026-03-02 19:00"), "ELC-01",
         "не работает кондиционер", "Mech 4", "Fore 2"),
        ("C4", "VINC", "D2", t("2026-03-10 10:00"), t("2026-03-10 12:00"), "ELC-01",
         "Не работает кондиционер", "Mech 1", "Fore 2"),
        # VIN D: opened while the previous order was still open -> parallel, not a repeat
        ("D1", "VIND", "D2", t("2026-03-05 09:00"), t("2026-03-07 12:00"), "TRN-01",
         "Рывки", "Mech 3", "Fore 2"),
        ("D2", "VIND", "D2", t("2026-03-06 09:00"), t("2026-03-06 12:00"), "TRN-01",
         "Рывки", "Mech 4", "Fore 2"),
        # VIN E: the previous order is still open -> nothing to repeat yet
        ("E1", "VINE", "D2", t("2026-03-05 09:00"), pd.NaT, "TRN-02", "Шум", "Mech 3", "Fore 2"),
        ("E2", "VINE", "D2", t("2026-03-06 09:00"), t("2026-03-06 12:00"), "TRN-02", "Шум",
         "Mech 4", "Fore 2"),
    ])


def test_window_boundaries_and_decoys(orders):
    pairs = repairs.repeat_repairs(orders)
    found = list(zip(pairs["first_ro_id"], pairs["repeat_ro_id"], pairs["days"]))
    assert found == [("C1", "C3", 0), ("C3", "C4", 8), ("A1", "A2", 14)]
    a = pairs.set_index("repeat_ro_id").loc["A2"]
    # responsibility lies with the first order
    assert (a["mechanic"], a["foreman"], a["dealer_id"], a["repeat_mechanic"]) == (
        "Mech 1", "Fore 1", "D1", "Mech 2")
    assert a["fault"] == "Стук в передней подвеске"


def test_window_is_a_parameter(orders):
    wide = repairs.repeat_repairs(orders, window_days=15)
    assert set(wide["repeat_ro_id"]) == {"A2", "B2", "C3", "C4"}
    narrow = repairs.repeat_repairs(orders, window_days=0)
    assert narrow["repeat_ro_id"].tolist() == ["C3"]
    with pytest.raises(ValueError, match="window_days"):
        repairs.repeat_repairs(orders, window_days=-1)


def test_fault_matching_by_code_text_or_auto(orders):
    # by text only: A2's text normalises to A1's; codes differ in spelling but normalise equal
    assert repairs.normalise_fault(orders["fault"]).iloc[1] == "стук в передней подвеске"
    assert repairs.normalise_fault(orders["fault_code"]).iloc[1] == "sus 01"
    by_text = repairs.repeat_repairs(orders, how="text")
    assert set(by_text["repeat_ro_id"]) == {"A2", "C3", "C4"}
    # without codes, auto falls back to the text
    no_code = orders.assign(fault_code=None)
    assert set(repairs.repeat_repairs(no_code)["repeat_ro_id"]) == {"A2", "C3", "C4"}
    with pytest.raises(ValueError, match="fault_key"):
        repairs.repeat_repairs(orders, how="vin")
    with pytest.raises(repairs.OperationsDataError, match="fault"):
        repairs.repeat_repairs(orders.drop(columns=["fault", "fault_code"]))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_row_order_does_not_matter(seed):
    base = _ros([(f"R{i}", f"V{i % 3}", "D1", t("2026-03-01") + pd.Timedelta(days=int(d)),
                  t("2026-03-01") + pd.Timedelta(days=int(d), hours=5), f"F{i % 2}", "x",
                  f"M{i % 4}", "F") for i, d in enumerate(
                      np.random.default_rng(seed).integers(0, 60, 25))])
    pairs = repairs.repeat_repairs(base)
    shuffled = repairs.repeat_repairs(base.sample(frac=1, random_state=seed))
    pd.testing.assert_frame_equal(pairs, shuffled)
    assert pairs["days"].between(0, 14).all()
    assert (pairs["first_ro_id"] != pairs["repeat_ro_id"]).all()


def test_demo_planted_repeats_are_recovered_exactly(small_net):
    pairs = repairs.repeat_repairs(small_net.repair_orders)
    truth = {(p["first_ro_id"], p["repeat_ro_id"])
             for p in small_net.truth["repeat_repair_pairs"]}
    found = set(zip(pairs["first_ro_id"], pairs["repeat_ro_id"]))
    assert found == truth  # precision and recall 1.0, decoys included in the data
    assert set(pairs["repeat_ro_id"]) == set(small_net.truth["repeat_repair_ro_ids"])
    assert pairs["days"].min() == 0 and pairs["days"].max() == 14


def test_demo_careless_mechanics_lead_the_statistics(small_net):
    pairs = repairs.repeat_repairs(small_net.repair_orders)
    stats = repairs.repeat_stats(pairs, small_net.repair_orders, role="mechanic", period="M")
    total = stats.groupby(["dealer_id", "mechanic"])[["orders", "repeats"]].sum()
    rate = (total["repeats"] / total["orders"]).sort_values(ascending=False)
    careless = {tuple(x.split("|")) for x in small_net.truth["careless_mechanics"]}
    top = set(rate.index[: len(careless)])
    assert len(top & careless) >= len(careless) / 2


# --- weeks, statistics and KPI ---------------------------------------------------------------


def test_iso_weeks_and_bounds():
    weeks = repairs.iso_week(pd.Series(pd.to_datetime(["2026-01-01 00:00", "2025-12-29 00:00",
                                                       "2026-03-15 23:59"])))
    assert weeks.tolist() == ["2026-W01", "2026-W01", "2026-W11"]
    start, end = repairs.week_bounds("2026-W11")
    assert (start, end) == (t("2026-03-09"), t("2026-03-16"))
    with pytest.raises(ValueError, match="2026-W07"):
        repairs.week_bounds("2026-11")
    opened = pd.Series(pd.to_datetime(["2026-03-01 00:00", "2026-03-18 10:00"]))
    assert repairs.last_complete_week(opened) == "2026-W11"
    assert repairs.last_complete_week(opened, now="2026-03-16 00:00") == "2026-W11"
    assert repairs.months_for_week("2026-W11", history_days=45) == ["2026-01", "2026-02",
                                                                     "2026-03"]


def test_weekly_stats_count_repeats_in_the_week_the_car_came_back(orders):
    pairs = repairs.repeat_repairs(orders)
    stats = repairs.repeat_stats(pairs, orders, role="mechanic", period="W")
    w11 = stats.loc[stats["period"] == "2026-W11"].set_index(["dealer_id", "mechanic"])
    assert w11.loc[("D1", "Mech 1"), "repeats"] == 1  # A2 came back on Sunday 15 March
    w10 = stats.loc[stats["period"] == "2026-W10"].set_index(["dealer_id", "mechanic"])
    assert w10.loc[("D2", "Mech 3"), "repeats"] == 1  # C3 came back on 2 March
    assert w11.loc[("D2", "Mech 4"), "repeats"] == 1  # C4 (Tuesday 10 March) repeats C3
    assert stats["repeats"].sum() == len(pairs)
    # everyone who closed an order that week has a row, zeros included
    assert tuple(w11.loc[("D1", "Mech 2"), ["orders", "repeats"]]) == (1, 0)
    assert ("D1", "Mech 2") not in w10.index
    foremen = repairs.repeat_stats(pairs, orders, role="foreman", period="W")
    assert foremen.groupby("foreman")["repeats"].sum().to_dict() == {"Fore 1": 1, "Fore 2": 2}


@pytest.mark.parametrize("role, shares", [
    ("mechanic", [0.10, 0.05, 0.0, 0.0]),   # exactly 1: 5 %, the choice in params
    ("foreman", [0.10, 0.05, 0.0, 0.0]),
])
def test_bonus_ladder(role, shares):
    assert repairs.bonus_share([0, 1, 2, 7], role=role).tolist() == pytest.approx(shares)
    with pytest.raises(ValueError, match="negative"):
        repairs.bonus_share([-1], role=role)
    with pytest.raises(ValueError, match="role"):
        repairs.bonus_share([0], role="cashier")


def test_kpi_table_per_month(orders):
    pairs = repairs.repeat_repairs(orders)
    kpi = repairs.kpi_table(pairs, orders, role="foreman")
    row = kpi.set_index("foreman").loc["Fore 2"]
    assert (row["period"], row["repeats"], row["bonus_share"]) == ("2026-03", 2, 0.0)
    assert kpi.set_index("foreman").loc["Fore 1", "bonus_share"] == pytest.approx(0.05)
    mech = repairs.kpi_table(pairs, orders, role="mechanic").set_index(["dealer_id", "mechanic"])
    assert mech.loc[("D1", "Mech 2"), "bonus_share"] == pytest.approx(0.10)
    assert mech.loc[("D1", "Mech 1"), "bonus_share"] == pytest.approx(0.05)
    shown = tables.repeat_kpi_table(mech.reset_index(), role="mechanic")
    assert shown["Bonus share, %"].tolist()[-1] == 10.0


# --- survey answers --------------------------------------------------------------------------


def test_survey_answers_open_a_review_linked_to_the_latest_order(orders):
    responses = pd.DataFrame({
        "response_id": ["S1", "S2", "S3", "S4", "S5"],
        "dealer_id": ["D1"] * 5,
        "responded_at": pd.to_datetime(["2026-03-16 10:00", "2026-03-16 10:00",
                                        "2026-03-20 00:00", "2026-03-20 00:00", "2026-02-01 00:00"]),
        "nps": [3, 9, 5, 2, 4],
        "vin": ["VINA", "VINA", "VINC", "VINX", "VINA"],
        "comment": ["Некачестенно отремонтировали, звоните 89161234567",
                    "Всё отлично, спасибо",
                    "Приезжаю уже трретий раз с этой же проблемой",
                    "came back several times with the same fault",
                    "после ремона проблема осталась"],
    })
    pairs = repairs.repeat_repairs(orders)
    out = repairs.survey_repair_reviews(responses, orders, pairs=pairs).set_index("response_id")
    assert set(out.index) == {"S1", "S3", "S4", "S5"}
    assert out.loc["S1", "ro_id"] == "A2"                # the latest closed before the answer
    assert out.loc["S1", "quote"].endswith(PHONE_MASK)
    assert out.loc["S1", "already_repeat"]
    assert out.loc["S3", "ro_id"] == "C4"
    assert pd.isna(out.loc["S4", "ro_id"])               # no order for that car
    assert pd.isna(out.loc["S5", "ro_id"])               # the answer predates every order
    assert out.loc["S3", "days_since_repair"] == 9


def test_demo_survey_reviews_match_the_repair_quality_cause(small_net):
    out = repairs.survey_repair_reviews(small_net.responses, small_net.repair_orders)
    causes = pd.Series(small_net.truth["response_cause"])
    truth = set(causes.index[causes == "repair_quality"])
    found = set(out["response_id"])
    assert len(found & truth) / len(found) >= 0.95
    assert len(found & truth) / len(truth) >= 0.95
    linked = out.dropna(subset=["ro_id"]).merge(
        small_net.repair_orders[["ro_id", "vin", "closed_at"]], on="ro_id")
    assert (linked["vin_x"] == linked["vin_y"]).all()
    assert (linked["closed_at"] <= linked["responded_at"]).all()


# --- the weekly and monthly reviews ----------------------------------------------------------


def test_weekly_review_on_the_demo(small_net):
    ros = small_net.repair_orders
    week = "2026-W40"
    start, end = repairs.week_bounds(week)
    review = repairs.weekly_review(ros, week=week, responses=small_net.responses)
    truth = {p["repeat_ro_id"] for p in small_net.truth["repeat_repair_pairs"]}
    opened = ros.set_index("ro_id")["opened_at"]
    expected = {r for r in truth if start <= opened[r] < end}
    assert set(review.pairs["repeat_ro_id"]) == expected
    assert review.by_mechanic["repeats"].sum() == len(expected)
    assert review.by_foreman["repeats"].sum() == len(expected)
    assert review.kpi_mechanic["period"].unique().tolist() == ["2026-10"]
    assert f"Week {week}" in review.summary()
    assert (review.survey_reviews["responded_at"] >= start).all()
    table = tables.pairs_table(review.pairs, dealers=small_net.dealers)
    assert "vin" not in table.columns and len(table) == len(expected)
    assert charts.repeats_by_person(review.by_mechanic).get_xlabel() == "repeat repairs"
    assert list(tables.reviews_table(review.survey_reviews).columns)[:3] == [
        "Answered", "Dealer ID", "Score"]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_weekly_page_reads_in_its_language(small_net, monkeypatch, language):
    """The weekly report's sections (notebooks/reports/weekly_repeat_repairs.py) on a demo
    week: every heading and note from the catalogue, counts in plural forms, the chart's
    axis in whole repairs, and no English words on the Russian page."""
    import matplotlib

    from analysis.report import weekly
    from analysis.report.book import ReportBook

    matplotlib.use("Agg")
    shown: list = []
    monkeypatch.setattr("IPython.display.display",
                        lambda obj: shown.append(getattr(obj, "data", obj)))
    review = repairs.weekly_review(small_net.repair_orders, week="2026-W40",
                                   responses=small_net.responses)
    book = ReportBook(language)
    for name in ("title", "pairs", "people", "kpi", "reviews"):
        getattr(weekly, name)(book, review)
    html = "".join(x for x in shown if isinstance(x, str))
    n = len(review.pairs)
    assert n > 0 and sum(isinstance(x, bytes) for x in shown) == 1
    if language == "ru":
        assert "40-я неделя" in html and "окт. 2026" in html
        form = {1: "повторный ремонт", 2: "повторных ремонта", 5: "повторных ремонтов"}
        assert f"{n} {form[_ru_form(n)]}" in html
        words = re.sub(r"<td[^>]*>.*?</td>", "", html, flags=re.S)  # customers' quotes aside
        english = re.findall(r"\b(?:week|repairs?|orders?|mechanics?|answers?|the)\b", words)
        assert not english, english
    else:
        assert "Repeat repairs, week 40" in html and f"{n} repeat repair" in html
    sheets = {"en": "Repeats of the week", "ru": "Повторные за неделю"}[language]
    assert sheets in book.sheets.values() and len(book.tables) == 6


def _ru_form(n: int) -> int:
    """The Russian plural form of ``n`` as 1 (one), 2 (few) or 5 (many)."""
    if n % 10 == 1 and n % 100 != 11:
        return 1
    return 2 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 5


def test_monthly_report_on_the_demo(small_net):
    ros = small_net.repair_orders
    report = repairs.monthly_report(ros, month="2026-09", dealers=small_net.dealers)
    came_back = report.pairs["repeat_opened_at"].dt.strftime("%Y-%m")
    assert (came_back == "2026-09").all() and len(report.pairs) > 0
    assert report.by_dealer["repeats"].sum() == len(report.pairs)
    assert report.kpi_mechanic["repeats"].sum() == len(report.pairs)
    assert "Repeat repairs in 2026-09" in report.summary()


def test_cohort_repeat_rate_counts_orders_whose_window_elapsed():
    # issue 15: the rate is a cohort's - orders closed in the period whose 14 days are over
    day = pd.Timestamp("2026-03-02")
    d = pd.Timedelta(days=1)
    orders = pd.DataFrame({
        "ro_id": ["A", "B", "C", "D"],
        "vin": ["V1", "V1", "V2", "V3"],
        "dealer_id": "D1",
        "opened_at": [day - d, day + 5 * d, day - d, day + 26 * d],
        "closed_at": [day, day + 6 * d, day, day + 27 * d],
        "mechanic": ["M1", "M2", "M1", "M1"],
        "foreman": "F1",
        "fault_code": ["X", "X", "Y", "Z"],
    })
    pairs = repairs.repeat_repairs(orders)
    assert pairs[["first_ro_id", "repeat_ro_id"]].values.tolist() == [["A", "B"]]
    out = repairs.repeat_summary(pairs, orders, by=(), period=None, as_of=day + 30 * d).iloc[0]
    # D closed 3 days before as_of: it may still come back, so it is not in the cohort
    assert (out["cohort_orders"], out["cohort_repeats"]) == (3, 1)
    assert out["cohort_rate"] == pytest.approx(1 / 3)
    assert out["cohort_rate_low"] < 1 / 3 < out["cohort_rate_high"]
    stats = repairs.repeat_stats(pairs, orders, role="mechanic", period="M",
                                 as_of=day + 30 * d).set_index("mechanic")
    assert stats.loc["M1", "cohort_orders"] == 2 and stats.loc["M1", "cohort_repeats"] == 1
    assert (stats["cohort_rate"].dropna() <= 1).all()
