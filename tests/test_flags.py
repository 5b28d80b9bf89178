"""Honest flags (issue 15): multiplicity control, rank intervals, the CSS Welch test, month codes
with a gap, the cluster bootstrap of driver importance."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from analysis import css, drivers, nps, store
from analysis.config import load_params
from analysis.estimators import bh_adjust, bh_flags, joint_flags

# --- Benjamini-Hochberg -------------------------------------------------------------------------


def test_bh_matches_statsmodels_and_keeps_nan():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5, 0.002])
    expected = multipletests(p[~np.isnan(p)], method="fdr_bh")[1]
    got = bh_adjust(p)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[~np.isnan(p)], expected)
    # the textbook example: 0.01, 0.02, 0.03, 0.04 of m = 4 all adjust to 0.04
    np.testing.assert_allclose(bh_adjust([0.01, 0.02, 0.03, 0.04]), [0.04] * 4)


def test_bh_families_are_adjusted_apart():
    p = np.array([0.01, 0.02, 0.01, 0.9])
    got = bh_adjust(p, groups=["a", "a", "b", "b"])
    np.testing.assert_allclose(got, [0.02, 0.02, 0.02, 0.9])
    adjusted, flags = bh_flags(p, q=0.05, groups=["a", "a", "b", "b"])
    assert flags.tolist() == [True, True, True, False]
    joint = joint_flags({"x": [0.01, 0.02], "y": [0.01, 0.9]}, q=0.05)
    np.testing.assert_allclose(np.concatenate([joint["x"][0], joint["y"][0]]),
                               bh_adjust([0.01, 0.02, 0.01, 0.9]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bh_properties(values):
    p = np.array(values)
    adj = bh_adjust(p)
    assert (adj >= p - 1e-12).all() and (adj <= 1).all()
    order = np.argsort(p)
    assert (np.diff(adj[order]) >= -1e-12).all()  # monotone in p
    perm = np.random.default_rng(0).permutation(len(p))
    np.testing.assert_allclose(bh_adjust(p[perm]), adj[perm])


# --- NPS flags and rank intervals --------------------------------------------------------------




def test_rank_dealers_carries_flags_and_rank_intervals(answers, month):
    ranked = nps.rank_dealers(answers, period=month)
    q = load_params("flags")["q"]
    for name in ("vs_region", "change"):
        p_raw, p_adj = ranked[f"{name}_p_value"], ranked[f"{name}_p_adj"]
        assert ((p_adj >= p_raw - 1e-12) | p_raw.isna()).all()
        assert (ranked[f"{name}_flag"] == (p_adj <= q)).all()
    k = len(ranked)
    assert (ranked["rank_low"] <= ranked["rank_network"]).all()
    assert (ranked["rank_network"] <= ranked["rank_high"]).all()
    assert ranked["rank_low"].ge(1).all() and ranked["rank_high"].le(k).all()
    assert ranked[["p_top_quarter", "p_bottom_quarter"]].stack().between(0, 1).all()
    assert (ranked["p_top_quarter"] + ranked["p_bottom_quarter"] <= 1 + 1e-12).all()
    # the best-ranked dealer is more often in the top quarter than the worst
    assert ranked["p_top_quarter"].iloc[0] > ranked["p_top_quarter"].iloc[-1]
    again = nps.rank_dealers(answers, period=month)
    pd.testing.assert_frame_equal(ranked, again)  # the draws are seeded


def test_rank_intervals_narrow_with_more_answers():
    est = np.array([10.0, 20.0, 30.0, 40.0])
    wide = nps.rank_uncertainty(est, np.full(4, 30.0))
    narrow = nps.rank_uncertainty(est, np.full(4, 0.1))
    assert narrow["rank_low"].tolist() == [4, 3, 2, 1] == narrow["rank_high"].tolist()
    assert ((wide["rank_high"] - wide["rank_low"]) > 0).all()
    assert narrow["p_top_quarter"].tolist() == [0, 0, 0, 1]


def test_rolling_window_ranks_the_window(answers, month):
    period = pd.Period(month, freq="M")
    rolled = nps.rank_dealers(answers, period=month, rolling=3)
    months = answers["responded_at"].dt.to_period("M")
    window = answers.loc[(months > period - 3) & (months <= period)]
    assert rolled["n"].sum() == len(window)
    previous = answers.loc[(months > period - 6) & (months <= period - 3)]
    counts = previous.groupby("dealer_id").size()
    changed = rolled.dropna(subset=["change_vs_previous"])
    assert set(changed["dealer_id"]) <= set(counts.index)


def test_summary_flags_are_bh_within_each_period(answers):
    table = nps.summarize(answers, by=("touchpoint",), period="M")
    q = load_params("flags")["q"]
    for _, part in table.groupby("period"):
        np.testing.assert_allclose(part["change_p_adj"], bh_adjust(part["change_p_value"]))
        assert (part["change_flag"] == (part["change_p_adj"] <= q)).all()
    assert (table["nps_shrunk_sd"] > 0).all()


def test_a_gap_month_is_not_compared_across_the_gap():
    # issue 15: data in January and March only, time-zone aware: March has no previous month
    times = pd.to_datetime(["2026-01-10 12:00"] * 40 + ["2026-03-10 12:00"] * 40).tz_localize(
        "Europe/Moscow")
    scores = [10] * 40 + [0] * 40
    frame = pd.DataFrame({"responded_at": times, "nps": scores})
    for t in (frame, frame.assign(responded_at=frame["responded_at"].dt.tz_localize(None))):
        out = nps.summarize(t, by=(), period="M").set_index("period")
        assert np.isnan(out.loc[pd.Period("2026-03", "M"), "change_vs_previous"])


# --- CSS: Welch t and no star below min_n ------------------------------------------------------


def test_welch_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(1)
    a, b = rng.normal(60, 10, 7), rng.normal(70, 20, 4)
    t, df, p = css.welch_test(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert float(t) == pytest.approx(ref.statistic) and float(p) == pytest.approx(ref.pvalue)
    assert 3 < float(df) < 9


def test_css_change_flags_follow_the_rule(answers):
    table = css.summarize_css(answers, by=("region", "dealer_id"))
    min_n = css.load_css_params()["min_n"]
    small = table["n"] < min_n
    assert not table.loc[small, "change_flag"].any()
    assert table.loc[small, "change_p_adj"].isna().all()
    assert table["change_df"].dropna().gt(0).all()


def test_css_false_stars_at_small_n_are_near_nominal():
    # the normal z gave 18.8 % false stars at n = 2 per group and 8.5 % at n = 5
    rng = np.random.default_rng(3)
    for n in (2, 3, 5):
        a = rng.normal(70, 15, (20000, n))
        b = rng.normal(70, 15, (20000, n))
        _, _, p = css.welch_test(a.mean(1), a.std(1, ddof=1), n, b.mean(1), b.std(1, ddof=1), n)
        assert np.nanmean(p < 0.05) < 0.056, n


# --- drivers: cluster bootstrap and BH on importance changes -----------------------------------


def _clustered(n_dealers=30, per=60, seed=0):
    rng = np.random.default_rng(seed)
    dealer = np.repeat(np.arange(n_dealers), per)
    effect = rng.normal(0, 1.5, n_dealers)[dealer]
    x1 = effect + rng.normal(0, 1, len(dealer))
    x2 = rng.normal(0, 1, len(dealer))
    y = 0.5 * x1 + 0.5 * x2 + 1.5 * effect + rng.normal(0, 1, len(dealer))
    return pd.DataFrame({"dealer_id": dealer, "x1": x1, "x2": x2, "y": y})


def test_cluster_bootstrap_is_wider_when_answers_cluster():
    frame = _clustered()
    rows = drivers.relative_importance(frame, target="y", drivers=["x1", "x2"], n_boot=300,
                                       random_state=0)
    clustered = drivers.relative_importance(frame, target="y", drivers=["x1", "x2"],
                                            n_boot=300, random_state=0, cluster="dealer_id")
    pd.testing.assert_series_equal(rows.table["importance"], clustered.table["importance"])
    width = (clustered.table["high"] - clustered.table["low"]) / (rows.table["high"]
                                                                   - rows.table["low"])
    assert width["x1"] > 1.5


def test_importance_change_has_bh_flags(small_net):
    change = drivers.importance_change(small_net.responses, n_boot=60, random_state=0,
                                       cluster="dealer_id")
    assert change["p_value"].between(0, 1).all()
    np.testing.assert_allclose(change["p_adj"], bh_adjust(change["p_value"]))
    assert (change["change_flag"] == (change["p_adj"] <= load_params("flags")["q"])).all()


# --- response-rate weights ---------------------------------------------------------------------


def test_weighted_nps_gives_each_cell_its_invitations():
    t = pd.Timestamp("2026-05-10")
    # cell A: 10 promoters of 10 invited; cell B: 10 detractors of 90 invited
    responses = pd.DataFrame({"region": "R", "dealer_id": ["A"] * 10 + ["B"] * 10,
                              "touchpoint": "service", "responded_at": t,
                              "nps": [10] * 10 + [0] * 10})
    invitations = pd.DataFrame({"region": "R", "dealer_id": ["A", "B"],
                                "touchpoint": "service", "month": "2026-05",
                                "invited": [10, 90]})
    out = nps.summarize_weighted(responses, invitations).iloc[0]
    assert out["nps"] == pytest.approx(0.0)
    assert out["nps_weighted"] == pytest.approx((10 * 100 + 90 * -100) / 100)
    assert out["nps_weighted_low"] < out["nps_weighted"] < out["nps_weighted_high"]
    assert out["n_effective"] < 20


def test_weighted_nps_on_the_demo(small_net):
    answers = store.with_region(small_net.responses, small_net.dealers)
    invitations = store.with_region(small_net.invitations, small_net.dealers)
    out = nps.summarize_weighted(answers, invitations, by=("region",))
    plain = nps.summarize(answers, by=("region",), period="M")
    merged = out.merge(plain[["region", "period", "n", "nps"]], on=["region", "period"])
    np.testing.assert_allclose(merged["nps_x"], merged["nps_y"])
    assert (merged["n_x"] == merged["n_y"]).all()
    assert out["nps_weighted"].between(-100, 100).all()


def test_driver_rankings_carry_rank_intervals(answers):
    from analysis import growth

    out = growth.rank_dealers_by_driver(answers, drivers=["staff", "booking"])
    for _, part in out.groupby("driver"):
        assert part["rank_low"].ge(1).all() and part["rank_high"].le(len(part)).all()
        assert (part["rank_low"] <= part["rank_high"]).all()
        assert part["p_top_quarter"].iloc[0] >= part["p_top_quarter"].iloc[-1]


def test_importance_change_does_not_compare_across_a_gap(small_net):
    answers = small_net.responses
    months = answers["responded_at"].dt.to_period("M")
    last = months.max()
    gap = answers.loc[months != last - 1]
    with pytest.raises(drivers.DriverDataError, match="period before"):
        drivers.importance_change(gap, n_boot=10, random_state=0)
