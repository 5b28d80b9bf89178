"""Customers who come back: Kaplan-Meier return rates against hand-computed values and the
demo's planted return probability by NPS category; customer flow, value at stake, win-back."""

import numpy as np
import pandas as pd
import pytest

from analysis import retention
from analysis.synthetic import make_network


@pytest.fixture(scope="module")
def net():
    # 20 months: answers of the first 8 are watched a whole year
    return make_network(n_dealers=12, n_regions=2, months=20, responses_per_month=1500, seed=4)


@pytest.fixture(scope="module")
def rates(net):
    return retention.return_rates(net.repair_orders, net.responses)


def test_planted_return_rates_by_category_are_recovered(net, rates):
    assert rates["category"].tolist() == ["promoter", "passive", "detractor"]
    assert {"category", "n", "rate", "rate_low", "rate_high"} <= set(rates.columns)
    truth = net.truth["return_rate_by_category"]
    for row in rates.itertuples():
        assert row.rate_low <= truth[row.category] <= row.rate_high, row.category
        assert row.rate_high - row.rate_low < 0.08
    assert rates["rate"].is_monotonic_decreasing


def test_kaplan_meier_without_censoring_is_the_plain_share():
    days = np.array([10, 50, 100, 200, 400, 500, 30, 700])
    returned = np.array([True, True, True, True, True, False, True, False])
    rate, low, high, watched = retention.kaplan_meier(days, returned, horizon=365)
    assert rate == pytest.approx(5 / 8) and low < rate < high and watched == 3


def test_kaplan_meier_with_censoring_by_hand():
    # times 2, 3+, 4, 5+, 6, 8 (+ censored): S(7) = (5/6) (3/4) (1/2) = 0.3125
    days = np.array([2, 3, 4, 5, 6, 8])
    returned = np.array([True, False, True, False, True, False])
    rate, low, high, watched = retention.kaplan_meier(days, returned, horizon=7)
    assert rate == pytest.approx(1 - 0.3125)
    # Greenwood: sum d / (n (n - d)) = 1/30 + 1/12 + 1/2; log(-log) interval of S
    se = np.sqrt(1 / 30 + 1 / 12 + 1 / 2) / abs(np.log(0.3125))
    assert low == pytest.approx(1 - 0.3125 ** np.exp(-1.959964 * se), rel=1e-6)
    assert high == pytest.approx(1 - 0.3125 ** np.exp(1.959964 * se), rel=1e-6)
    assert watched == 1
    assert np.isnan(retention.kaplan_meier(days, returned, horizon=9)[0])  # nobody watched


ROS = pd.DataFrame({
    "ro_id": [f"R{i}" for i in range(7)],
    "vin": ["V1", "V1", "V2", "V3", "V2", "V1", "V4"],
    "dealer_id": ["D1", "D1", "D1", "D1", "D1", "D2", "D1"],
    "opened_at": pd.to_datetime(["2025-01-10", "2025-03-05", "2025-01-20", "2025-02-01",
                                 "2026-03-01", "2025-04-01", "2026-04-10"]),
})


def test_new_returning_and_lost_customers_by_hand():
    flow = retention.customer_flow(ROS, lost_after_months=12).set_index(["dealer_id", "month"])
    assert flow.loc[("D1", "2025-01"), ["customers", "new", "returning"]].tolist() == [2, 2, 0]
    assert flow.loc[("D1", "2025-03"), ["customers", "new", "returning"]].tolist() == [1, 0, 1]
    # V3 last came 2025-02: lost in 2026-02; V1's last visit at D1 2025-03: lost 2026-03
    assert flow.loc[("D1", "2026-02"), "lost"] == 1 and flow.loc[("D1", "2026-03"), "lost"] == 1
    # V2 came back in 2026-03 after 14 months: returning, not new
    assert flow.loc[("D1", "2026-03"), ["new", "returning"]].tolist() == [0, 1]
    assert flow.loc[("D2", "2025-04"), "new"] == 1
    # V2 came back, so only V1 and V3 at D1 and V1 at D2 (lost in 2026-04) are lost
    assert flow["lost"].sum() == 3 and flow.loc[("D2", "2026-04"), "lost"] == 1
    assert not flow.loc[("D1", "2025-05"), "history"]
    assert flow.loc[("D1", "2026-01"), "history"]


def test_return_times_skip_comebacks_and_censor_at_the_end():
    answers = pd.DataFrame({"response_id": ["a", "b", "c"], "dealer_id": "D1",
                            "touchpoint": "service", "vin": ["V1", "V2", "V4"],
                            "responded_at": pd.to_datetime(["2025-01-11", "2025-01-21",
                                                            "2026-04-10"]),
                            "nps": [10, 3, 8]})
    times = retention.return_times(ROS, answers, comeback_days=60,
                                   as_of="2026-04-30").set_index("response_id")
    # V1's visit 53 days later is a comeback; its next is 2025-04-01 (80 days, at D2)
    assert times.loc["a", "returned"] and times.loc["a", "days"] == pytest.approx(80)
    assert times.loc["b", "returned"] and times.loc["b", "category"] == "detractor"
    assert not times.loc["c", "returned"] and times.loc["c", "days"] == pytest.approx(20)


def test_value_at_stake_and_uplift_arithmetic():
    rates = pd.DataFrame({"category": ["promoter", "passive", "detractor"],
                          "rate": [0.8, 0.6, 0.5], "rate_low": [0.75, 0.55, 0.4],
                          "rate_high": [0.85, 0.65, 0.6]})
    answers = pd.DataFrame({"dealer_id": ["D1"] * 4 + ["D2"], "nps": [2, 5, 9, 3, 10],
                            "vin": ["V1", "V2", "V3", "V1", None],
                            "responded_at": pd.to_datetime(["2026-01-01", "2026-01-02",
                                                            "2026-01-03", "2026-02-01",
                                                            "2026-01-05"])})
    out = retention.value_at_stake(answers, rates, visits_per_year=4,
                                   average_order_value=10_000).set_index("dealer_id")
    assert out.loc["D1", "detractors"] == 2 and out.loc["D2", "detractors"] == 0  # V1 once
    assert out.loc["D1", "gap"] == pytest.approx(0.3)
    assert out.loc["D1", "value"] == pytest.approx(2 * 0.3 * 4 * 10_000)
    half = np.hypot(0.05, 0.1)
    assert out.loc["D1", "value_low"] == pytest.approx(2 * (0.3 - half) * 40_000)
    up = retention.uplift_value(pd.DataFrame({"nps_gain": [4.0], "customers": [500]}), rates,
                                visits_per_year=4, average_order_value=10_000)
    assert up["customers_moved"].iloc[0] == pytest.approx(10)
    assert up["value"].iloc[0] == pytest.approx(10 * 0.3 * 40_000)
    zones = pd.DataFrame({"uplift": [4.0], "uplift_low": [2.0], "uplift_high": [6.0],
                          "customers": [500]})
    up = retention.uplift_value(zones, rates, gain="uplift", gain_interval=("uplift_low",
                                                                          "uplift_high"),
                                visits_per_year=4, average_order_value=10_000)
    assert up["value_low"].iloc[0] == pytest.approx(5 * (0.3 - half) * 40_000)
    assert up["value_high"].iloc[0] == pytest.approx(15 * (0.3 + half) * 40_000)


def test_win_back_list_carries_contacts_only_behind_the_flag(net):
    as_of = net.repair_orders["opened_at"].max()
    plain = retention.win_back(net.repair_orders, net.responses, as_of=as_of)
    assert not {"phone", "email"} & set(plain.columns)
    assert set(plain["reason"]) == {"detractor", "lapsed"}
    det = plain.loc[plain["reason"] == "detractor"]
    assert (det["last_nps"] <= 6).all()
    assert (det["last_answer_at"] >= as_of - pd.Timedelta(days=90)).all()
    lapsed = plain.loc[plain["reason"] == "lapsed"]
    assert lapsed["months_since_visit"].between(9, 12).all()
    full = retention.win_back(net.repair_orders, net.responses, as_of=as_of,
                              include_contacts=True)
    assert {"phone", "email"} <= set(full.columns) and len(full) == len(plain)


def test_uplift_value_interval_when_the_gap_is_uncertain_and_service_customers():
    # a return-rate gap whose interval crosses 0: the value's ends are the extreme products
    rates = pd.DataFrame({"category": ["promoter", "detractor"], "rate": [0.55, 0.5],
                          "rate_low": [0.45, 0.4], "rate_high": [0.65, 0.6]})
    zones = pd.DataFrame({"uplift": [4.0], "uplift_low": [2.0], "uplift_high": [6.0],
                          "customers": [200]})
    up = retention.uplift_value(zones, rates, gain="uplift",
                                gain_interval=("uplift_low", "uplift_high"),
                                visits_per_year=4, average_order_value=10_000).iloc[0]
    half = np.hypot(0.1, 0.1)
    per = 200 / 200 * 40_000
    assert up["value"] == pytest.approx(4 * 0.05 * per)
    assert up["value_low"] == pytest.approx(6 * (0.05 - half) * per)  # the gap's low end < 0
    assert up["value_high"] == pytest.approx(6 * (0.05 + half) * per)
    assert up["value_low"] < 0 < up["value"] < up["value_high"]
    orders = pd.DataFrame({"vin": ["V1", "V1", "V2", "V3", None],
                           "dealer_id": ["D1", "D1", "D1", "D2", "D2"],
                           "opened_at": pd.to_datetime(["2025-09-01", "2026-05-01",
                                                        "2026-06-01", "2025-10-15",
                                                        "2026-06-01"])})
    counts = retention.service_customers(orders, as_of="2026-09-30").set_index("dealer_id")
    assert counts["customers"].to_dict() == {"D1": 2, "D2": 1}
