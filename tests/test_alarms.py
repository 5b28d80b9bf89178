"""Sustained-change alarms (analysis.alarms) against planted truth, and the synthetic network's
monthly shocks and sustained shifts (issue 25, items 1 and 8)."""

import numpy as np
import pandas as pd
import pytest

from analysis import alarms, nps, store
from analysis.config import load_params
from analysis.report import sections, tables
from analysis.report.book import ReportBook
from analysis.report.data import ReportData
from analysis.synthetic import TABLES, make_network

DEMO = load_params("network")["demo"]
SIZE = {"n_dealers": 10, "n_regions": 2, "months": 13, "responses_per_month": 2000}


@pytest.fixture(scope="module")
def shifted():
    """Ten dealers of ~200 answers a month with monthly shocks (SD 0.2 per driver), one
    dealer down about 25 NPS points and another up as much from four months before the end."""
    params = {**DEMO, "monthly_shock_sd": 0.2, "action_dealer_share": 0.0,
              "sustained_shifts": [{"dealers": ["D003"], "shift": -0.8, "start": "2026-07"},
                                   {"dealers": ["D009"], "shift": 0.8, "start": -4}]}
    net = make_network(**SIZE, seed=4, params=params)
    return net, alarms.detect(store.with_region(net.responses, net.dealers))


def _row(found, dealer, direction, level="dealer"):
    t = found.table
    return t.loc[(t["level"] == level) & (t["dealer_id"] == dealer)
                 & (t["direction"] == direction)].iloc[0]


def test_synthetic_truth_records_shifts_and_shocks(shifted):
    net, _ = shifted
    truth = {s["dealer_id"]: s for s in net.truth["sustained_shifts"]}
    assert set(truth) == {"D003", "D009"}
    assert truth["D003"]["start_month"] == truth["D009"]["start_month"] == "2026-07"
    # about 31 NPS points per rating point of every driver near the demo's level
    assert -32 < truth["D003"]["nps_change"] < -18 and 18 < truth["D009"]["nps_change"] < 32
    shocks = net.truth["monthly_shocks"]
    assert shocks["sd"] == 0.2 and len(shocks["score"]["D001"]) == SIZE["months"]
    # a shock of each driver moves the score by sum(weight * shock): SD 0.2 * |weights|
    weights = np.array(list(DEMO["driver_weights"].values()))
    sd = np.std(np.concatenate(list(shocks["score"].values())))
    assert sd == pytest.approx(0.2 * np.sqrt((weights**2).sum()), rel=0.25)


def test_planted_drop_found_at_its_dealer_and_month(shifted):
    net, found = shifted
    row = _row(found, "D003", "drop")
    assert row["alarmed"]
    planted = pd.Period("2026-07", freq="M")
    assert abs((pd.Period(row["start"], freq="M") - planted).n) <= 1
    truth = next(s for s in net.truth["sustained_shifts"] if s["dealer_id"] == "D003")
    assert row["change"] == pytest.approx(truth["nps_change"], abs=12)
    assert row["change_low"] < row["change"] < row["change_high"]
    assert row["alarm_month"] >= row["start"]


def test_planted_rise_is_a_rise(shifted):
    _, found = shifted
    assert _row(found, "D009", "rise")["alarmed"]
    assert not _row(found, "D009", "drop")["alarmed"]
    assert _row(found, "D009", "rise")["change"] > 10


def test_other_dealers_rarely_alarm(shifted):
    _, found = shifted
    t = found.table
    others = t.loc[(t["level"] == "dealer") & ~t["dealer_id"].isin(["D003", "D009"])]
    assert others["alarmed"].sum() <= 1
    # every unit has its statistic, alarmed or not
    assert t.loc[t["level"] == "dealer", "statistic"].notna().all()
    assert set(t["level"]) == {"network", "touchpoint", "region", "dealer", "dealer_touchpoint"}


def test_null_network_with_shocks_stays_quiet():
    params = {**DEMO, "monthly_shock_sd": 0.2, "action_dealer_share": 0.0}
    net = make_network(**SIZE, seed=8, params=params)
    counts = store.with_region(net.responses, net.dealers)
    flagged = 0
    for month in ("2026-08", "2026-09", "2026-10"):
        t = alarms.detect(counts, month=month).table
        flagged += int(t.loc[t["level"] == "dealer", "alarmed"].sum())
    # about 0.1 false alarms per dealer-year: three monthly reports of ten dealers
    # expect well under one; a bound of two leaves room without hiding a broken calibration
    assert flagged <= 2


def _null_counts(rng, runs, dealers, months, n=100, tau=3.0):
    """Monthly counts of dealers without a change but with their own monthly shocks of
    ``tau`` NPS points (shares of promoters and detractors move by half a point each)."""
    shock = rng.normal(0, tau / 200, (runs, dealers, months))
    pro, det = 0.47 + shock, 0.11 - shock
    p = np.stack([pro, 1 - pro - det, det], axis=-1)
    return rng.multinomial(rng.poisson(n, (runs, dealers, months)), p).astype(float)


def test_alarm_rate_under_the_null_is_calibrated():
    a = alarms.alarm_params()
    rng = np.random.default_rng(0)
    counts = _null_counts(rng, runs=300, dealers=20, months=24)
    _, tests = alarms.level_tests(counts, a, stratum=np.zeros((300, 20), dtype=int),
                                  pseudo=alarms.pseudo_counts(), max_window=6)
    on = np.zeros((300, 20), dtype=bool)
    for sign in (-1.0, 1.0):
        on |= alarms.alarm_state(tests, sign=sign, windows=a["windows"],
                                 threshold=a["threshold"], release=a["release"],
                                 min_change=a["min_change"])["alarmed"]
    # an alarm lasts a few months: the share alarmed in a month is a few times the monthly
    # rate of new ones (0.1 a year / 12), but far below what a z of 2 would give
    assert on.mean() < 0.04
    # tau is estimated across the dealers: about the 3 points planted
    series = alarms.monthly_deviations(counts, alarms.rest_counts(
        counts, np.zeros((300, 20), dtype=int)), pseudo=alarms.pseudo_counts())
    assert np.sqrt(series["tau2"].mean()) == pytest.approx(3.0, abs=0.6)


def test_window_test_by_hand():
    # nine months at 0, three at -10, every month with variance 25: the quarter's change is
    # -10 with variance 25/3 + 25/9, z = -10 / sqrt(100/9) = -3
    d = np.array([[0.0] * 9 + [-10.0] * 3])
    v = np.full_like(d, 25.0)
    n = np.full_like(d, 100.0)
    tests = alarms.window_tests(d, v, n, max_window=6, history_months=12, min_answers=30,
                                min_baseline_months=6)
    assert tests["change"][0, -1, 2] == pytest.approx(-10.0)
    assert tests["z"][0, -1, 2] == pytest.approx(-3.0)
    # the half-year window holds three months of each: -5 against six months at 0
    assert tests["change"][0, -1, 5] == pytest.approx(-5.0)
    state = alarms.alarm_state(tests, sign=-1.0, windows=[3, 6], threshold=2.7, release=1.0,
                               min_change=5.0)
    assert state["alarmed"][0] and state["start"][0] == 9
    assert state["change"][0] == pytest.approx(-10.0)


def test_tiny_units_do_not_alarm_on_noise():
    # a dealer with three answers a month that swings from all promoters to all detractors:
    # the quarter holds nine answers, too few to test (min_answers)
    months = pd.period_range("2025-11", periods=12, freq="M")
    rows = []
    for i, m in enumerate(months):
        late = i >= 9
        rows.append({"dealer_id": "tiny", "region": "R", "touchpoint": "service", "period": m,
                     "promoters": 0 if late else 3, "passives": 0, "detractors": 3 if late else 0})
        rows.append({"dealer_id": "big", "region": "R", "touchpoint": "service", "period": m,
                     "promoters": 55, "passives": 30, "detractors": 15})
    found = alarms.detect_counts(pd.DataFrame(rows), levels=[("dealer_id",)])
    tiny = found.table.loc[found.table["dealer_id"] == "tiny"]
    assert not tiny["alarmed"].any()
    assert tiny["statistic"].isna().all()


def test_regional_trend_is_recovered():
    # region 1's NPS climbs a point a month (30 -> 53), region 0 stays at 60. A dealer of
    # region 1 against the rest of the network (its two peers among the five others) climbs
    # (1 - 2/5) of a point a month; a dealer of region 0 falls as much: the trend taken off
    t = np.arange(24)
    climbing = np.stack([0.5 + 0.005 * t, 0.3 + 0 * t, 0.2 - 0.005 * t], axis=-1)
    flat = np.broadcast_to([0.7, 0.2, 0.1], climbing.shape)
    counts = np.stack([flat] * 3 + [climbing] * 3) * 1e6
    found = alarms.regional_trend(counts, np.zeros(6, dtype=int), np.array([0, 0, 0, 1, 1, 1]),
                                  pseudo=alarms.pseudo_counts())
    assert np.diff(found["trend"][4]) == pytest.approx(0.6, abs=1e-6)
    assert np.diff(found["trend"][0]) == pytest.approx(-0.6, abs=1e-6)
    assert (found["slope_var"] > 0).all() and (found["slope_var"] < 1e-5).all()


def test_same_seed_same_alarms(shifted):
    net, found = shifted
    again = alarms.detect(store.with_region(net.responses, net.dealers))
    pd.testing.assert_frame_equal(found.table, again.table)
    assert "dealer" in found.summary()


def test_switched_off_moves_leave_the_network_as_it_was():
    small = {"n_dealers": 6, "n_regions": 2, "months": 2, "responses_per_month": 300, "seed": 5}
    without = make_network(**small, params={k: v for k, v in DEMO.items()
                                            if k not in ("monthly_shock_sd",
                                                         "monthly_shock_common_sd",
                                                         "sustained_shifts")})
    switched_off = make_network(**small)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(without, name), getattr(switched_off, name))
    assert without.truth == switched_off.truth
    assert "sustained_shifts" not in switched_off.truth


def _report_data(net) -> ReportData:
    responses = store.with_region(net.responses, net.dealers).assign(
        month=lambda d: d["responded_at"].dt.to_period("M").astype(str))
    months = tuple(sorted(responses["month"].unique()))
    return ReportData("all", months[-1], months, net.dealers, responses)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_summary_and_dealer_table_name_the_alarm(shifted, language):
    net, _ = shifted
    data = _report_data(net)
    book = ReportBook(language)
    fact, todo = sections._summary_alarms(book, data)
    name = net.dealers.set_index("dealer_id").loc["D003", "dealer_name"]
    assert name in fact
    assert ("fell about" if language == "en" else "снизился примерно") in fact
    assert any(name in line for line in todo)
    ranked = nps.rank_dealers(data.responses, period=data.month, dealers=data.dealers)
    table = tables.dealer_table(ranked, language=language, alarms=data.alarms().alarms)
    column = table.columns[-1]
    assert column == ("Sustained change" if language == "en" else "Устойчивое изменение")
    assert (table[column] != "").sum() >= 2
