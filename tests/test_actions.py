"""Improvement actions: completion on hand-made plans, and the difference-in-differences
effect against the demo network's planted effects and placebo actions."""

import numpy as np
import pandas as pd
import pytest

from analysis import actions
from analysis.config import load_params
from analysis.settings import settings_or
from analysis.synthetic import make_network

DRIVERS = list(load_params("drivers")["drivers"])
LEVEL = settings_or(None).level


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
    # a planted effect of about -0.05 against a standard error of about 0.02: found about
    # half the time (4 of these 9 with the baseline before the trigger month, 6 without)
    assert len(works) >= 5 and works["effective"].mean() >= 0.4
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
    """8 dealers, 2 months before and after 2026-03: D1's "booking" complaints fall from 30 %
    to 10 % of its answers; elsewhere they stay at 20 %."""
    rows = []
    for dealer in [f"D{k}" for k in range(1, 9)]:
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
    assert row["unit"] == "share" and row["n_comparison"] == 7
    assert row["before"] == pytest.approx(0.3) and row["after"] == pytest.approx(0.1)
    # fewer answers naming the cause: the way such an action means to move it
    assert row["effect"] == pytest.approx(-0.2) and row["verdict"] == "effective"
    assert row["effective"]
    # the same share everywhere: the comparison dealers' spread is 0
    assert row["tau"] == 0
    se = row["effect_se"]
    # Student t with 7 - 1 degrees of freedom
    assert row["df"] == 6
    assert row["effect_low"] == pytest.approx(-0.2 - 2.446912 * se, abs=1e-6)
    without = actions.action_effects(plan, responses, comparison="network", window_months=3)
    assert np.isnan(without["effect"].iloc[0]) and not without["effective"].iloc[0]
    assert without["verdict"].iloc[0] == "causes_unknown"


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


# --- issue 25: effects only where measurable ---------------------------------------------------

MONTHS = [f"2026-{m:02d}" for m in range(1, 10)]


def _rating_frame(means: dict[str, dict[str, float]], *, n: int = 40,
                  spread: float = 1.0) -> pd.DataFrame:
    """``n`` answers a month at each dealer, rating ``staff`` at the month's mean plus and
    minus ``spread`` in turn (a month without a mean: no answers)."""
    rows = [(f"{dealer}-{month}-{i}", dealer, pd.Timestamp(f"{month}-10"),
             mean + spread * (-1) ** i)
            for dealer, by_month in means.items() for month, mean in by_month.items()
            for i in range(n)]
    return pd.DataFrame(rows, columns=["response_id", "dealer_id", "responded_at", "staff"])


def _plan(dealers=("D1",), target="staff", opened="2026-05-05", closed="2026-05-25"):
    return pd.DataFrame({"action_id": [f"A{i}" for i in range(len(dealers))],
                         "dealer_id": list(dealers), "target": target,
                         "opened_at": pd.Timestamp(opened), "due_at": pd.Timestamp(closed),
                         "closed_at": pd.Timestamp(closed), "status": "done"})


def _flat(level: float = 8.0, *, after: float | None = None) -> dict[str, float]:
    """A dealer's monthly means: ``level`` before the action's month (2026-05), ``after``
    (default the same) from it on."""
    after = level if after is None else after
    return {m: (level if m < "2026-05" else after) for m in MONTHS}


def test_baseline_window_ends_before_the_month_that_triggered_the_action():
    start, end = actions.baseline_window(pd.Timestamp("2026-05-17 10:00"), months=3,
                                         gap_months=1)
    assert (start, end) == (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-04-01"))
    assert actions.baseline_window(pd.Timestamp("2026-05-17"), months=2, gap_months=0) == (
        pd.Timestamp("2026-03-01"), pd.Timestamp("2026-05-01"))


def test_the_baseline_leaves_out_the_dip_that_triggered_the_action():
    # D1 dipped in April (6.0 instead of 8.0) and acted in May; nothing changed after
    means = {"D1": {**_flat(), "2026-04": 6.0}, **{f"C{k}": _flat() for k in range(4)}}
    out = actions.action_effects(_plan(), _rating_frame(means), comparison="network")
    row = out.iloc[0]
    assert row["before"] == pytest.approx(8.0) and row["effect"] == pytest.approx(0.0)
    assert row["verdict"] == "no_evidence"
    # a baseline up to the action would start in the dip: a rise of 0.67 out of nothing
    naive = actions.action_effects(_plan(), _rating_frame(means), comparison="network",
                                   baseline_gap_months=0).iloc[0]
    assert naive["before"] == pytest.approx(22 / 3) and naive["effect"] == pytest.approx(2 / 3)


def test_too_few_or_no_comparable_dealers_is_not_measurable():
    means = {"D1": _flat(8.0, after=9.0), "C1": _flat(8.0, after=8.1),
             "C2": _flat(8.0, after=7.9)}
    frame = _rating_frame(means)
    row = actions.action_effects(_plan(), frame, comparison="network").iloc[0]
    assert row["verdict"] == "few_comparison" and row["n_comparison"] == 2
    assert np.isnan(row["effect"]) and np.isnan(row["effect_low"]) and not row["effective"]
    # the dealer's own numbers stay, and what the comparable dealers did
    assert row["change"] == pytest.approx(1.0) and row["comparison_change"] == pytest.approx(0)
    allowed = actions.action_effects(_plan(), frame, comparison="network",
                                     min_comparison=2).iloc[0]
    assert allowed["verdict"] in actions.MEASURED and allowed["effect"] == pytest.approx(1.0)
    # a network-wide campaign: every dealer acts, none is left to compare with; never a
    # silent before/after
    campaign = actions.action_effects(_plan(("D1", "C1", "C2")), frame, comparison="network")
    assert (campaign["verdict"] == "no_comparison").all()
    assert (campaign["n_comparison"] == 0).all() and campaign["effect"].isna().all()
    assert campaign["comparison_change"].isna().all()
    with pytest.raises(ValueError, match="min_comparison"):
        actions.action_effects(_plan(), frame, min_comparison=1)


def test_effective_only_in_the_intended_direction_worse_the_other_way():
    comparison = {f"C{k}": _flat(8.0, after=8.0 + d) for k, d in enumerate((-.05, 0, .05, .1))}
    up = actions.action_effects(
        _plan(), _rating_frame({"D1": _flat(8.0, after=9.0), **comparison}),
        comparison="network").iloc[0]
    down = actions.action_effects(
        _plan(), _rating_frame({"D1": _flat(8.0, after=7.0), **comparison}),
        comparison="network").iloc[0]
    assert up["effect_low"] > 0 and up["verdict"] == "effective" and up["effective"]
    assert down["effect_high"] < 0 and down["verdict"] == "worse" and not down["effective"]
    # a cause's share: down is the intended way
    assert actions.verdicts([-0.2, 0.1, -0.1], [-0.1, 0.2, 0.1],
                            ["share", "share", "share"]).tolist() == [
        "effective", "worse", "no_evidence"]
    assert actions.verdicts([0.1, -0.3, np.nan], [0.4, -0.1, np.nan],
                            ["rating", "rating", "rating"]).tolist() == [
        "effective", "worse", "no_evidence"]


def test_with_few_comparable_dealers_the_interval_is_wider_than_the_normal_one():
    from scipy import stats

    rng = np.random.default_rng(4)
    means = {"D1": _flat(8.0, after=8.3),
             **{f"C{k}": _flat(8.0, after=8.0 + d) for k, d in enumerate(rng.normal(0, .2, 8))}}
    frame = _rating_frame(means)
    half = {}
    for k in (3, 8):
        keep = frame["dealer_id"].isin(["D1", *[f"C{j}" for j in range(k)]])
        row = actions.action_effects(_plan(), frame.loc[keep], comparison="network").iloc[0]
        assert row["n_comparison"] == k
        half[k] = (row["effect_high"] - row["effect_low"]) / 2
        # Student t with k - 1 degrees of freedom, not the normal z of a known spread
        assert half[k] == pytest.approx(stats.t.ppf(0.975, k - 1) * row["effect_se"])
        assert half[k] > stats.norm.ppf(0.975) * row["effect_se"]
    assert stats.t.ppf(0.975, 2) / stats.norm.ppf(0.975) > 2


def _hard_network(**extra):
    params = {**load_params("network")["demo"], "campaigns": [{"target": "booking",
                                                               "start": "2026-02"}],
              "dip_actions": 6, **extra}
    return make_network(n_dealers=16, n_regions=2, months=14, responses_per_month=2400,
                        seed=11, params=params)


def test_synthetic_campaigns_and_dip_actions_carry_their_planted_truth():
    net = _hard_network()
    truth, acts = net.truth, net.actions.set_index("action_id")
    [campaign] = truth["campaigns"]
    ids = campaign["action_ids"]
    assert campaign == {"target": "booking", "start_month": "2026-02", "action_ids": ids}
    # every dealer joins, on the same day, in place of its own actions on booking
    assert sorted(acts.loc[ids, "dealer_id"]) == sorted(net.dealers["dealer_id"])
    assert acts.loc[ids, "opened_at"].dt.normalize().nunique() == 1
    assert set(acts.loc[acts["target"] == "booking"].index) == set(ids)
    dips = truth["dip_actions"]
    assert len(dips) == 6 and set(ids).isdisjoint(dips)
    for action_id in [*ids, *dips]:
        kind, effect = truth["action_kinds"][action_id], truth["action_effects"][action_id]
        assert (effect > 0) == (kind == "works") and pd.isna(acts.loc[action_id, "closed_at"]) \
            == (kind == "not_done")
    # the dip: one month below the dealer's months around it; the action opens the month after
    quiet = _hard_network(dip_depth=0.0)
    on_drivers = net.actions["target"].isin(DRIVERS)  # causes' actions follow the complaints
    pd.testing.assert_frame_equal(quiet.actions.loc[quiet.actions["target"].isin(DRIVERS)],
                                  net.actions.loc[on_drivers])
    month = net.responses["responded_at"].dt.to_period("M").astype(str)
    drop = []
    for action_id, dip in dips.items():
        assert str(acts.loc[action_id, "opened_at"].to_period("M") - 1) == dip["dip_month"]
        assert dip["dip"] == -0.6 and acts.loc[action_id, "target"] == dip["target"]
        mine = ((net.responses["dealer_id"] == dip["dealer_id"])
                & (month == dip["dip_month"])).to_numpy()
        drop.append(net.responses.loc[mine, dip["target"]].mean()
                    - quiet.responses.loc[mine, dip["target"]].mean())
    assert np.mean(drop) < -0.3
    # the default demo plants neither: its network is the one of params without them
    small = dict(n_dealers=8, n_regions=2, months=3, responses_per_month=300, seed=1)
    demo = make_network(**small)
    without = make_network(**small, params={
        k: v for k, v in load_params("network")["demo"].items()
        if k not in ("campaigns", "dip_actions", "dip_depth")})
    assert "campaigns" not in demo.truth and "dip_actions" not in demo.truth
    assert demo.truth == without.truth
    pd.testing.assert_frame_equal(demo.actions, without.actions)
    pd.testing.assert_frame_equal(demo.responses, without.responses)


def test_campaigns_are_not_measurable_and_dips_do_not_pass_for_effects():
    net = _hard_network(monthly_shock_sd=0.2)
    out = actions.action_effects(net.actions, net.responses, dealers=net.dealers)
    out = out.assign(truth=out["action_id"].map(net.truth["action_effects"]))
    campaign = out["action_id"].isin(net.truth["campaigns"][0]["action_ids"])
    assert (out.loc[campaign, "verdict"] == "no_comparison").all()
    dips = out.loc[out["action_id"].isin(net.truth["dip_actions"])].dropna(subset=["effect"])
    assert len(dips) >= 3
    assert dips["truth"].between(dips["effect_low"], dips["effect_high"]).all()
    assert not ((dips["truth"] == 0) & dips["effective"]).any()


def test_pooling_is_dersimonian_laird_as_statsmodels_combines_effects():
    # the oracle: statsmodels' random-effects meta-analysis, where it estimates what ours
    # does (one group, the spread estimated from the dealers pooled, Q above its df)
    from statsmodels.stats.meta_analysis import combine_effects

    change = np.array([0.23, -1.26, 0.31, 1.47, -0.86, 0.85, 1.24, -0.12])
    var = np.array([0.21, 0.45, 0.12, 0.33, 0.27, 0.18, 0.49, 0.30])
    tau2, df = actions._spread(change, var, np.zeros(len(change)))
    mean, mean_var = actions._pool(change, var, tau2)
    sm = combine_effects(change, var, method_re="dl")
    assert df == len(change) - 1
    assert tau2 > 0
    assert tau2 == pytest.approx(sm.tau2, rel=1e-12)
    assert mean == pytest.approx(sm.mean_effect_re, rel=1e-12)
    assert mean_var == pytest.approx(sm.var_eff_w_re, rel=1e-12)


def test_pooling_differs_from_statsmodels_where_it_should():
    from statsmodels.stats.meta_analysis import combine_effects

    # dealers that agree more than their sampling noise says: Q < df. statsmodels keeps a
    # negative tau^2 (narrower than the sampling noise); ours truncates it at 0
    change = np.array([0.10, 0.12, 0.09, 0.11])
    var = np.array([0.5, 0.4, 0.6, 0.5])
    tau2, _ = actions._spread(change, var, np.zeros(4))
    assert tau2 == 0.0
    assert combine_effects(change, var, method_re="dl").tau2 < 0
    _, mean_var = actions._pool(change, var, tau2)
    assert mean_var == pytest.approx(1 / np.sum(1 / var))
    # two regions each moving together: around the regions' means the spread is small,
    # around one network mean (statsmodels) the regions' gap passes for dealers' spread
    change = np.array([1.0, 1.1, 0.9, -1.0, -1.1, -0.9])
    var = np.full(6, 0.05)
    tau2, df = actions._spread(change, var, np.array(list("aaabbb")))
    assert df == 4
    assert tau2 < combine_effects(change, var, method_re="dl").tau2
