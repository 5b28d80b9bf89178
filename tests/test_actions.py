"""Improvement actions: completion on hand-made plans, and the difference-in-differences
effect against the demo network's planted effects and placebo actions."""

import numpy as np
import pandas as pd
import pytest

from analysis import actions
from analysis.config import load_params
from analysis.synthetic import make_network

DRIVERS = list(load_params("drivers")["drivers"])
LEVEL = load_params("loop")["actions"]["level"]


@pytest.fixture(scope="module")
def net():
    # 14 months: room for three months before and after every planted action
    return make_network(n_dealers=40, n_regions=4, months=14, responses_per_month=4000, seed=3)


@pytest.fixture(scope="module")
def effects(net):
    out = actions.action_effects(net.actions, net.responses, dealers=net.dealers)
    return out.assign(truth=out["action_id"].map(net.truth["action_effects"]),
                      kind=out["action_id"].map(net.truth["action_kinds"]))


def test_effects_have_the_promised_columns_one_row_per_closed_action(net, effects):
    closed = net.actions.loc[net.actions["closed_at"].notna(), "action_id"]
    assert sorted(effects["action_id"]) == sorted(closed)
    for col in ("action_id", "effect", "effect_low", "effect_high", "effective"):
        assert col in effects.columns
    assert effects["effective"].dtype == bool
    measured = effects.dropna(subset=["effect"])
    assert (measured["effect_low"] < measured["effect"]).all()
    assert (measured["effect"] < measured["effect_high"]).all()
    assert set(effects["kind"]) <= {"works", "no_effect"}


def _coverage(measured: pd.DataFrame) -> float:
    """The share of measured actions whose interval holds the planted effect."""
    return float(measured["truth"].between(measured["effect_low"],
                                           measured["effect_high"]).mean())


def test_planted_effects_are_recovered_within_their_intervals(effects):
    measured = effects.dropna(subset=["effect"])
    assert len(measured) >= 25
    assert _coverage(measured) >= 0.85
    works = measured.loc[measured["kind"] == "works"]
    assert works["effective"].mean() >= 0.75
    assert (works["effect"] - works["truth"]).abs().mean() < 0.2
    idle = measured.loc[measured["kind"] == "no_effect"]
    assert len(idle) >= 8 and idle["effective"].mean() <= 0.2


def test_do_nothing_actions_are_called_effective_at_about_the_significance_level():
    # a network without actions and 150 placebo actions at random dealers, targets and dates
    params = {**load_params("network")["demo"], "action_dealer_share": 0.0}
    quiet = make_network(n_dealers=30, n_regions=3, months=12, responses_per_month=3000,
                         seed=5, params=params)
    assert quiet.actions.empty
    rng = np.random.default_rng(0)
    n = 150
    opened = pd.Timestamp("2026-02-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    placebo = pd.DataFrame({
        "action_id": [f"P{i:03d}" for i in range(n)],
        "dealer_id": rng.choice(quiet.dealers["dealer_id"], n),
        "target": rng.choice(DRIVERS, n), "opened_at": opened,
        "due_at": opened + pd.Timedelta(days=40),
        "closed_at": opened + pd.to_timedelta(rng.integers(20, 60, n), unit="D"),
        "status": "done"})
    # each measured alone: the other placebos are no reason to leave a dealer out
    out = pd.concat([actions.action_effects(placebo.iloc[[i]], quiet.responses,
                                            dealers=quiet.dealers) for i in range(n)])
    assert out["effect"].notna().all()
    alpha = 1 - LEVEL
    assert out["effective"].mean() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / n)
    assert abs(out["effect"].mean()) < 0.05


def _cause_effects(net):
    causes = pd.Series(net.truth["response_cause"])
    out = actions.action_effects(net.actions, net.responses, dealers=net.dealers, causes=causes)
    return out.assign(truth=out["action_id"].map(net.truth["action_effects"]),
                      kind=out["action_id"].map(net.truth["action_kinds"]))


def test_planted_cause_effects_are_recovered_within_their_intervals(net, effects):
    with_causes = _cause_effects(net)
    # the drivers' actions are measured as before; the causes' now have their share
    drivers_ = with_causes.loc[with_causes["unit"] == "rating"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        drivers_, effects.loc[effects["unit"] == "rating"].reset_index(drop=True))
    on_causes = with_causes.loc[with_causes["unit"] == "share"]
    assert not set(on_causes["target"]) & set(DRIVERS)
    assert (on_causes["truth"] <= 0).all()  # a working action removes complaints
    measured = on_causes.dropna(subset=["effect"])
    assert len(measured) >= 10
    assert _coverage(measured) >= 0.8
    works = measured.loc[measured["kind"] == "works"]
    assert len(works) >= 5 and works["effective"].mean() >= 0.5
    assert (works["effect"] < 0).mean() >= 0.8
    assert abs(works["effect"].mean() - works["truth"].mean()) < 0.02
    idle = measured.loc[measured["kind"] == "no_effect"]
    assert not idle["effective"].any()


def test_do_nothing_cause_actions_are_called_effective_at_about_the_significance_level():
    # placebo actions on root causes in a network without actions; in each call the targets
    # differ, so no placebo keeps another's dealer out of the comparison (as if measured alone)
    from analysis.synthetic import CAUSES

    params = {**load_params("network")["demo"], "action_dealer_share": 0.0}
    quiet = make_network(n_dealers=24, n_regions=3, months=10, responses_per_month=2400,
                         seed=8, params=params)
    causes = pd.Series(quiet.truth["response_cause"])
    targets = [c for c in CAUSES if c not in DRIVERS]
    rng = np.random.default_rng(1)
    n = 180
    opened = pd.Timestamp("2026-04-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    placebo = pd.DataFrame({
        "action_id": [f"P{i:03d}" for i in range(n)],
        "dealer_id": rng.choice(quiet.dealers["dealer_id"], n),
        "target": np.array(targets)[np.arange(n) % len(targets)], "opened_at": opened,
        "due_at": opened + pd.Timedelta(days=40),
        "closed_at": opened + pd.to_timedelta(rng.integers(20, 60, n), unit="D"),
        "status": "done"})
    batches = np.arange(n) // len(targets)
    out = pd.concat([actions.action_effects(placebo.loc[batches == b], quiet.responses,
                                            dealers=quiet.dealers, causes=causes)
                     for b in np.unique(batches)])
    assert len(out) == n and out["effect"].notna().all() and (out["unit"] == "share").all()
    alpha = 1 - LEVEL
    assert out["effective"].mean() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / n)
    assert abs(out["effect"].mean()) < 0.005
    # the intervals are honest: the spread of the placebo effects matches their standard errors
    assert 0.7 < out["effect"].std() / np.sqrt((out["effect_se"] ** 2).mean()) < 1.3


def _cause_frame():
    """4 dealers, 2 months before and after 2026-03: D1's "booking" complaints fall from 30 %
    to 10 % of its answers; elsewhere they stay at 20 %."""
    rows = []
    for dealer in ("D1", "D2", "D3", "D4"):
        for month, share in (("2026-01", .3), ("2026-02", .3), ("2026-04", .1), ("2026-05", .1)):
            share = share if dealer == "D1" else 0.2
            for i in range(100):
                rid = f"{dealer}-{month}-{i}"
                rows.append((rid, dealer, pd.Timestamp(f"{month}-10"),
                             "booking" if i < share * 100 else "price"))
    frame = pd.DataFrame(rows, columns=["response_id", "dealer_id", "responded_at", "cause"])
    return frame.drop(columns="cause"), frame[["response_id", "cause"]]


def test_an_action_on_a_root_cause_is_measured_on_the_causes_share():
    responses, causes = _cause_frame()
    plan = pd.DataFrame({"action_id": ["A1"], "dealer_id": ["D1"], "target": ["booking"],
                         "opened_at": [pd.Timestamp("2026-03-01")],
                         "due_at": [pd.Timestamp("2026-03-31")],
                         "closed_at": [pd.Timestamp("2026-03-20")], "status": ["done"]})
    out = actions.action_effects(plan, responses, causes=causes, comparison="network",
                                 window_months=3)
    row = out.iloc[0]
    assert row["unit"] == "share" and row["n_comparison"] == 3
    assert row["before"] == pytest.approx(0.3) and row["after"] == pytest.approx(0.1)
    assert row["effect"] == pytest.approx(-0.2) and row["effective"]
    # the same share everywhere: the comparison dealers' spread is 0
    assert row["tau"] == 0
    se = row["effect_se"]
    assert row["effect_low"] == pytest.approx(-0.2 - 1.959964 * se, abs=1e-6)
    without = actions.action_effects(plan, responses, comparison="network", window_months=3)
    assert np.isnan(without["effect"].iloc[0]) and not without["effective"].iloc[0]


PLAN = pd.DataFrame({
    "action_id": ["A1", "A2", "A3", "A4", "A5"],
    "dealer_id": ["D1", "D1", "D2", "D2", "D3"],
    "target": ["staff", "booking", "staff", "repair_quality", "staff"],
    "opened_at": pd.to_datetime(["2026-08-01", "2026-08-01", "2026-09-01", "2026-09-01",
                                 "2026-10-20"]),
    "due_at": pd.to_datetime(["2026-09-01", "2026-09-01", "2026-09-30", "2026-09-15",
                              "2026-11-30"]),
    "closed_at": pd.to_datetime(["2026-08-25", "2026-09-10", None, None, None]),
    "status": ["done", "done", "open", "cancelled", "open"],
})
DEALERS = pd.DataFrame({"dealer_id": ["D1", "D2", "D3"], "region": ["N", "S", "S"]})


def test_status_and_completion_of_a_hand_made_plan():
    status = actions.action_status(PLAN, as_of="2026-10-31")
    assert status["state"].tolist() == ["done", "done", "overdue", "cancelled", "open"]
    assert status["on_time"].tolist() == [True, False, pd.NA, pd.NA, pd.NA]
    by_region = actions.completion(PLAN, by=("region",), dealers=DEALERS, as_of="2026-10-31")
    north = by_region.set_index("region").loc["N"]
    assert north[["n", "done", "overdue", "open", "cancelled", "on_time"]].tolist() == [
        2, 2, 0, 0, 0, 1]
    assert north["on_time_rate"] == 0.5 and 0 < north["on_time_low"] < 0.5
    south = by_region.set_index("region").loc["S"]
    assert south[["done", "overdue", "open", "cancelled"]].tolist() == [0, 1, 1, 1]
    assert np.isnan(south["on_time_rate"])
    # before A2 closed it was overdue; A5 did not exist yet
    early = actions.action_status(PLAN, as_of="2026-09-05")
    assert early["state"].tolist() == ["done", "overdue", "open", "cancelled"]
    network = actions.completion(PLAN, by=(), as_of="2026-10-31")
    assert network[["n", "done"]].iloc[0].tolist() == [5, 2]


def test_effects_by_region_and_the_monthly_review(net, effects):
    regional = actions.effects_by_region(effects, dealers=net.dealers)
    assert {"region", "target", "n_actions", "effect", "effect_low", "effect_high",
            "effective"} <= set(regional.columns)
    assert regional["n_actions"].sum() == effects["effect"].notna().sum()
    month = str(net.actions["closed_at"].max().to_period("M"))
    review = actions.monthly_review(net.actions, net.responses, month=month,
                                    dealers=net.dealers)
    closed_in = net.actions.loc[net.actions["closed_at"].dt.to_period("M") == month,
                                "action_id"]
    assert set(closed_in) <= set(review["action_id"])
    assert set(review["state"]) <= set(actions.STATES)
    assert "effect" in review.columns


def test_target_values_are_ratings_or_whether_an_answer_names_the_cause():
    answers = pd.DataFrame({"response_id": ["r1", "r2", "r3"], "staff": [9.0, 4.0, np.nan]})
    pd.testing.assert_series_equal(actions.target_values(answers, "staff"), answers["staff"])
    causes = pd.Series({"r1": "price", "r3": "cleanliness"})
    assert actions.target_values(answers, "price", causes=causes).tolist() == [1.0, 0.0, 0.0]
    frame = causes.rename("cause").rename_axis("response_id").reset_index()
    assert actions.target_values(answers, "cleanliness", causes=frame).tolist() == [0, 0, 1]
    assert actions.target_values(answers, "price").isna().all()  # causes unknown
