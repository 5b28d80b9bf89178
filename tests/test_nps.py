import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis import counting, nps, store
from analysis.config import load_params
from analysis.report import kinds, tables

Z95 = 1.959963984540054  # the standard normal 97.5 % quantile


def test_classify_cutoffs():
    cats = nps.classify([0, 6, 7, 8, 9, 10])
    assert list(cats) == ["detractor", "detractor", "passive", "passive", "promoter", "promoter"]


def test_nps_hand_computed():
    # 3 promoters, 2 passives, 3 detractors of 8: (3 - 3) / 8 = 0
    assert nps.nps([10, 9, 9, 8, 7, 6, 0, 3]) == 0.0
    # 2 promoters, 1 passive, 1 detractor: (2 - 1) / 4 = +25
    assert nps.nps([9, 10, 7, 0]) == pytest.approx(25.0)
    assert nps.nps([10] * 5) == 100.0
    assert nps.nps([0, 6]) == -100.0
    assert np.isnan(nps.nps([]))


@pytest.mark.parametrize("bad", [[11], [-1], [7.5], [None], ["nine"], [np.nan]])
def test_bad_scores_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="whole numbers from 0 to 10") as err:
        nps.nps([9, *bad])
    assert "position 1" in str(err.value)


@pytest.mark.parametrize("bad", [np.array([9, 11, 3]), np.array([9.0, 7.5, 3.0]),
                                 pd.Series([9, None, 3], dtype="Int64")])
def test_bad_scores_in_numeric_arrays_are_named_too(bad):
    with pytest.raises(ValueError, match="position 1"):
        nps.validate_scores(bad)


def test_summarize_by_group_and_month():
    frame = pd.DataFrame({
        "region": ["A", "A", "A", "B", "B", "A"],
        "nps": [10, 6, 8, 9, 9, 0],
        "responded_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-01-31",
                                        "2026-01-02", "2026-02-01", "2026-02-10"]),
    })
    out = nps.summarize(frame, by=("region",), period="M")
    a_jan = out[(out.region == "A") & (out.period == pd.Period("2026-01", "M"))].iloc[0]
    assert (a_jan.n, a_jan.promoters, a_jan.passives, a_jan.detractors) == (3, 1, 1, 1)
    assert a_jan.nps == pytest.approx(0.0)
    a_feb = out[(out.region == "A") & (out.period == pd.Period("2026-02", "M"))].iloc[0]
    assert a_feb.nps == -100.0
    assert out["n"].sum() == len(frame)
    whole = nps.summarize(frame, by=(), period=None)
    assert whole.iloc[0]["nps"] == pytest.approx(100 * (3 - 2) / 6)


def test_summarize_names_missing_columns():
    with pytest.raises(KeyError, match="region"):
        nps.summarize(pd.DataFrame({"nps": [1]}), by=("region",), period=None)


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200), st.randoms())
def test_nps_bounds_and_order_invariance(scores, rnd):
    value = nps.nps(scores)
    assert -100 <= value <= 100
    shuffled = scores[:]
    rnd.shuffle(shuffled)
    assert nps.nps(shuffled) == value


# --- intervals: hand-computed reference cases ----------------------------------------------
# Adjusted Wald (Rocks 2016; MeasuringU): add 0.75 promoters, 1.5 passives, 0.75 detractors,
# n + 3; est = p_pro - p_det; var = ((p_pro + p_det) - est^2) / n; est +- z * sqrt(var).


def test_adjusted_wald_hand_computed_50_30_20():
    # p_pro = 50.75/103 = 0.49272, p_det = 20.75/103 = 0.20146, est = 30/103 = 0.29126
    # var = (71.5/103 - 0.29126^2) / 103 = (0.69417 - 0.08483) / 103 = 0.0059159
    # half width = 1.95996 * 0.076915 = 0.15075 -> [14.05, 44.20]
    low, high = nps.nps_interval(50, 30, 20)
    est = (50.75 - 20.75) / 103
    half = Z95 * np.sqrt((71.5 / 103 - est**2) / 103)
    assert (low, high) == pytest.approx((100 * (est - half), 100 * (est + half)), abs=1e-9)
    assert (low, high) == pytest.approx((14.05, 44.20), abs=0.01)


def test_adjusted_wald_all_promoters_is_clipped_at_100():
    # 10 promoters: p_pro = 10.75/13, p_det = 0.75/13, est = 10/13 = 0.76923
    # var = (11.5/13 - 0.76923^2) / 13 = 0.022531 -> [47.50, 106.34], clipped to 100;
    # the plain Wald interval of a unanimous group collapses to the point
    assert nps.nps_interval(10, 0, 0) == pytest.approx((47.50, 100.0), abs=0.01)
    assert nps.nps_interval(10, 0, 0, method="wald") == (100.0, 100.0)


def test_wald_hand_computed_30_10_10():
    # p_pro = 0.6, p_det = 0.2, est = 0.4, var = (0.8 - 0.16) / 50 = 0.0128
    # half width = 1.95996 * 0.113137 = 0.221745 -> [17.83, 62.17]
    assert nps.nps_interval(30, 10, 10, method="wald") == pytest.approx((17.83, 62.17), abs=0.01)
    # 90 %: z = 1.64485 -> half width 0.18610
    low, high = nps.nps_interval(30, 10, 10, method="wald", level=0.90)
    assert (low, high) == pytest.approx((21.39, 58.61), abs=0.01)


def test_adjusted_interval_of_one_answer_excludes_its_raw_score():
    # documented limitation: 1 promoter -> est = 1/4, var = (2.5/4 - 1/16) / 4 = 0.140625
    # -> [-48.50, 98.50]; the raw +100 is outside. From n = 2 on the interval contains it.
    assert nps.nps_interval(1, 0, 0) == pytest.approx((-48.50, 98.50), abs=0.01)
    low, high = nps.nps_interval(2, 0, 0)
    assert low <= 100 <= high


def test_interval_is_vectorised_and_nan_without_answers():
    pro, pas, det = np.array([50, 10, 0, 3]), np.array([30, 0, 0, 4]), np.array([20, 0, 0, 5])
    low, high = nps.nps_interval(pro, pas, det)
    for i in range(4):
        one = nps.nps_interval(pro[i], pas[i], det[i])
        assert (low[i], high[i]) == pytest.approx(one, nan_ok=True)
    assert np.isnan(low[2]) and np.isnan(high[2])


@pytest.mark.parametrize("kwargs, message", [({"method": "wilson"}, "method must be one of"),
                                             ({"level": 95}, "between 0 and 1")])
def test_interval_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nps.nps_interval(5, 3, 2, **kwargs)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        nps.nps_interval(5, -1, 2)


# --- intervals: coverage ------------------------------------------------------------------


def _exact_coverage(n, probs, method="adjusted_wald"):
    """Coverage of the 95 % interval summed over every trinomial outcome (no randomness)."""
    pro, det = np.array([(a, d) for a in range(n + 1) for d in range(n + 1 - a)]).T
    pas = n - pro - det
    pmf = stats.multinomial.pmf(np.stack([pro, pas, det], axis=1), n, probs)
    low, high = nps.nps_interval(pro, pas, det, method=method)
    true = 100 * (probs[0] - probs[2])
    return pmf[(low <= true) & (true <= high)].sum()


@pytest.mark.parametrize("n", [30, 100, 1000])
def test_simulated_coverage_of_the_95_interval(n):
    # (0.5, 0.3, 0.2), true NPS +30: its exact coverage is 0.9461 at n = 30, 0.9491 at 100.
    # 40 000 draws give a Monte Carlo s.e. of 0.0011; the seed is fixed, so never flaky.
    rng = np.random.default_rng(20260 + n)
    draws = rng.multinomial(n, [0.5, 0.3, 0.2], size=40_000)
    low, high = nps.nps_interval(draws[:, 0], draws[:, 1], draws[:, 2])
    coverage = np.mean((low <= 30.0) & (high >= 30.0))
    assert 0.94 <= coverage <= 0.96


@pytest.mark.parametrize("probs", [(0.5, 0.3, 0.2), (0.3, 0.4, 0.3), (0.6, 0.3, 0.1),
                                   (0.7, 0.2, 0.1)])
def test_exact_coverage_near_nominal_from_30_answers(probs):
    # near the +-100 edge with few answers (0.8, 0.15, 0.05 at n = 30: 0.9625) the adjusted
    # interval is conservative; the typical NPS mixes above stay within 94-96 %
    for n in (30, 100):
        assert 0.94 <= _exact_coverage(n, probs) <= 0.96


def test_adjusted_wald_covers_better_than_wald_near_the_edge():
    probs = (0.8, 0.15, 0.05)
    assert _exact_coverage(30, probs, "wald") < 0.94 < _exact_coverage(30, probs)


# --- intervals: properties ----------------------------------------------------------------

counts = st.tuples(st.integers(0, 400), st.integers(0, 400), st.integers(0, 400)).filter(
    lambda c: sum(c) >= 2)


@settings(max_examples=300, deadline=None)
@given(counts, st.sampled_from(nps.METHODS))
def test_interval_bounds_and_contains_the_estimate(c, method):
    low, high = nps.nps_interval(*c, method=method)
    value = nps.nps_from_counts(*c)
    assert -100 <= low <= value + 1e-9
    assert value - 1e-9 <= high <= 100


@settings(max_examples=300, deadline=None)
@given(counts, st.integers(2, 20), st.sampled_from(nps.METHODS))
def test_interval_narrows_as_n_grows(c, k, method):
    low, high = nps.nps_interval(*c, method=method)
    low_k, high_k = nps.nps_interval(*(k * x for x in c), method=method)
    assert high_k - low_k <= high - low + 1e-9


# --- compare ------------------------------------------------------------------------------


def test_compare_wald_matches_rocks_two_sample_test():
    # Rocks' NPS::nps_test (Wald): a = 60/20/20 (+40), b = 40/30/30 (+10)
    # var_a = (0.8 - 0.16)/100 = 0.0064, var_b = (0.7 - 0.01)/100 = 0.0069
    # se = sqrt(0.0133) = 0.115326, z = 0.3 / 0.115326 = 2.6013, p = 0.00929
    res = nps.compare(nps.NPSCounts(60, 20, 20), nps.NPSCounts(40, 30, 30), method="wald")
    assert res.difference == pytest.approx(30.0)
    assert res.z == pytest.approx(2.6013, abs=1e-4)
    assert res.p_value == pytest.approx(0.00929, abs=1e-5)
    assert (res.low, res.high) == pytest.approx((7.40, 52.60), abs=0.01)
    assert res.significant


def test_compare_adjusted_hand_computed():
    # adjusted: est_a = 40/103, var_a = (81.5/103 - est_a^2)/103; est_b = 10/103,
    # var_b = (71.5/103 - est_b^2)/103 -> z = 2.5678, p = 0.01023, [6.89, 51.36]
    res = nps.compare({"promoters": 60, "passives": 20, "detractors": 20},
                      {"promoters": 40, "passives": 30, "detractors": 30})
    assert res.z == pytest.approx(2.5678, abs=1e-4)
    assert res.p_value == pytest.approx(0.01023, abs=1e-5)
    assert (res.low, res.high) == pytest.approx((6.89, 51.36), abs=0.01)
    assert "significant" in res.summary() and res.to_frame().shape[0] == 1


def test_compare_accepts_scores_and_summary_rows():
    a = [10, 10, 9, 8, 3, 10, 9]
    b = [5, 6, 9, 7, 8]
    from_scores = nps.compare(a, b)
    assert from_scores.nps_a == pytest.approx(nps.nps(a))
    assert from_scores.n_b == 5
    row = pd.Series({"n": 7, "promoters": 5, "passives": 1, "detractors": 1, "nps": 57.1})
    assert nps.compare(row, b).z == pytest.approx(from_scores.z)


@settings(max_examples=200, deadline=None)
@given(counts, counts, st.floats(0.5, 0.99))
def test_compare_significance_agrees_with_interval_and_is_antisymmetric(a, b, level):
    ab = nps.compare(nps.NPSCounts(*a), nps.NPSCounts(*b), level=level)
    ba = nps.compare(nps.NPSCounts(*b), nps.NPSCounts(*a), level=level)
    assert ab.difference == pytest.approx(-ba.difference)
    assert ab.p_value == pytest.approx(ba.p_value)
    excludes_zero = ab.low > 0 or ab.high < 0
    if abs(ab.p_value - (1 - level)) > 1e-9:  # on the boundary either answer is right
        assert ab.significant == excludes_zero


# --- counting ------------------------------------------------------------------------------

frames = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", None]), st.sampled_from(["x", "y"]),
              st.integers(0, 10), st.integers(0, 400)),
    min_size=1, max_size=60,
).map(lambda rows: pd.DataFrame(rows, columns=["dealer_id", "touchpoint", "nps", "day"])
      .assign(responded_at=lambda d: pd.Timestamp("2025-11-20") + pd.to_timedelta(d["day"], "D"))
      .drop(columns="day"))


def _reference_counts(frame, keys, period):
    keyed = frame.assign(
        period=frame["responded_at"].dt.to_period(period) if period else None,
        promoters=(frame["nps"] >= 9).astype(int), detractors=(frame["nps"] <= 6).astype(int),
        n=1)
    group = [*keys, "period"] if period else keys
    out = keyed.groupby(group)[["n", "promoters", "detractors"]].sum().reset_index()
    return out.assign(passives=out["n"] - out["promoters"] - out["detractors"])


@settings(max_examples=40, deadline=None)
@given(frames, st.sampled_from(["M", "W", "Q", "D"]), st.booleans())
def test_count_categories_matches_pandas_groupby(frame, period, categorical):
    if categorical:
        frame = frame.astype({"dealer_id": "category", "touchpoint": "category"})
    keys = ["dealer_id", "touchpoint"]
    ours = nps.count_categories(frame, by=keys, period=period)
    ref = _reference_counts(frame, keys, period)
    cols = [*keys, "period", "n", "promoters", "passives", "detractors"]
    pd.testing.assert_frame_equal(
        ours[cols].astype({k: str for k in keys}).reset_index(drop=True),
        ref[cols].astype({k: str for k in keys}).reset_index(drop=True),
        check_dtype=False)


def test_count_categories_with_more_groups_than_answers():
    # one group per answer: the hashed (sparse) path, not the dense bincount
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"response_id": [f"R{i}" for i in range(3000)],
                          "dealer_id": rng.choice([f"D{i}" for i in range(900)], 3000),
                          "nps": rng.integers(0, 11, 3000)})
    out = nps.count_categories(frame, by=("dealer_id", "response_id"), period=None)
    assert len(out) == 3000 and out["n"].eq(1).all()
    merged = out.merge(frame, on=["dealer_id", "response_id"])
    assert (merged["promoters"] == (merged["nps"] >= 9)).all()
    assert list(out["dealer_id"]) == sorted(out["dealer_id"])


@settings(max_examples=40, deadline=None)
@given(frames, st.randoms())
def test_summarize_is_invariant_to_row_order(frame, rnd):
    order = list(range(len(frame)))
    rnd.shuffle(order)
    kwargs = {"by": ("dealer_id", "touchpoint"), "period": "M"}
    pd.testing.assert_frame_equal(nps.summarize(frame, **kwargs),
                                  nps.summarize(frame.iloc[order], **kwargs))


# --- summarize: change, response rate, small samples --------------------------------------


def _monthly(rows):
    """rows: (region, dealer_id, month, promoters, passives, detractors) -> answers."""
    out = []
    for region, dealer, month, pro, pas, det in rows:
        when = pd.Timestamp(f"{month}-15")
        out += [(region, dealer, when, s) for s in [10] * pro + [8] * pas + [2] * det]
    return pd.DataFrame(out, columns=["region", "dealer_id", "responded_at", "nps"])


def test_change_is_against_the_previous_period_of_the_same_group():
    frame = _monthly([("R", "A", "2026-01", 60, 20, 20), ("R", "A", "2026-02", 40, 30, 30),
                      ("R", "A", "2026-04", 5, 0, 0), ("R", "B", "2026-02", 1, 0, 0)])
    out = nps.summarize(frame, by=("dealer_id",), period="M").set_index(["dealer_id", "period"])
    feb = out.loc[("A", pd.Period("2026-02", "M"))]
    ref = nps.compare(nps.NPSCounts(40, 30, 30), nps.NPSCounts(60, 20, 20))
    assert feb["change_vs_previous"] == pytest.approx(-30.0)
    assert feb["change_p_value"] == pytest.approx(ref.p_value)
    # April follows an empty March, and B has no January: no change to show
    assert np.isnan(out.loc[("A", pd.Period("2026-04", "M")), "change_vs_previous"])
    assert np.isnan(out.loc[("B", pd.Period("2026-02", "M")), "change_p_value"])
    assert out.loc[("A", pd.Period("2026-04", "M")), "small_sample"]
    assert not out.loc[("A", pd.Period("2026-01", "M")), "small_sample"]


def test_interval_columns_match_nps_interval():
    frame = _monthly([("R", "A", "2026-01", 50, 30, 20)])
    row = nps.summarize(frame, by=("dealer_id",), period="M", level=0.9).iloc[0]
    assert (row["nps_low"], row["nps_high"]) == pytest.approx(
        nps.nps_interval(50, 30, 20, level=0.9))


def test_response_rate_from_invitations():
    frame = _monthly([("R", "A", "2026-01", 6, 2, 2), ("R", "A", "2026-02", 3, 0, 1),
                      ("R", "B", "2026-01", 2, 2, 1)]).assign(touchpoint="service")
    invitations = pd.DataFrame({
        "dealer_id": ["A", "A", "A", "B", "B"],
        "touchpoint": ["service", "service", "sales_new", "service", "service"],
        "month": ["2026-01", "2026-02", "2026-01", "2026-01", "2026-03"],
        "invited": [40, 20, 10, 25, 30]})
    out = nps.summarize(frame, by=("dealer_id", "touchpoint"), period="M",
                        invitations=invitations).set_index(["dealer_id", "period"])
    assert out.loc[("A", pd.Period("2026-01", "M")), "response_rate"] == pytest.approx(10 / 40)
    assert out.loc[("B", pd.Period("2026-01", "M")), "response_rate"] == pytest.approx(5 / 25)
    by_dealer = nps.summarize(frame, by=("dealer_id",), period=None,
                              invitations=invitations).set_index("dealer_id")
    # without a period only the months that have answers count: B's March is left out
    assert by_dealer.loc["A", "invited"] == 70 and by_dealer.loc["B", "invited"] == 25
    quarterly = nps.summarize(frame, by=(), period="Q", invitations=invitations)
    assert quarterly.loc[0, "response_rate"] == pytest.approx(19 / 125)


def test_response_rate_needs_the_keys_in_invitations():
    frame = _monthly([("R", "A", "2026-01", 6, 2, 2)])
    invitations = pd.DataFrame({"dealer_id": ["A"], "touchpoint": ["service"],
                                "month": ["2026-01"], "invited": [40]})
    with pytest.raises(KeyError, match=r"lack column\(s\) \['region'\].*with_region"):
        nps.summarize(frame, by=("region",), invitations=invitations)
    with pytest.raises(ValueError, match="whole months"):
        nps.summarize(frame, by=("dealer_id",), period="W", invitations=invitations)


# --- shrinkage ----------------------------------------------------------------------------


def _simulated_network(rng, *, tau, n_regions=6, per_region=40):
    """Dealers whose true NPS spreads by ``tau`` points around their region's."""
    rows, truth = [], {}
    for r in range(n_regions):
        region_nps = rng.normal(30, 8)
        for d in range(per_region):
            dealer = f"R{r}D{d}"
            true = float(np.clip(rng.normal(region_nps, tau), -60, 70))
            # promoters and detractors around the true NPS with 30 % passives
            p_pro = 0.35 + true / 200
            probs = [p_pro, 0.30, 0.70 - p_pro]
            n = int(rng.choice([3, 8, 20, 60, 200]))
            pro, pas, det = rng.multinomial(n, probs)
            truth[dealer] = 100 * (probs[0] - probs[2])
            rows.append((f"R{r}", dealer, "2026-01", pro, pas, det))
    return _monthly(rows), pd.Series(truth)


def test_shrinkage_recovers_planted_dealer_nps_better_than_raw():
    rng = np.random.default_rng(11)
    frame, truth = _simulated_network(rng, tau=12)
    out = nps.summarize(frame, by=("region", "dealer_id"), period=None).set_index("dealer_id")
    err_raw = ((out["nps"] - truth) ** 2).mean()
    err_shrunk = ((out["nps_shrunk"] - truth) ** 2).mean()
    assert err_shrunk < 0.6 * err_raw
    # large dealers keep most of their own value, small ones move most of the way
    big, small = out["n"] == 200, out["n"] == 3
    pull = (out["nps_shrunk"] - out["nps"]).abs() / (out["nps"] - out["nps_shrunk"].mean()).abs()
    assert pull[big].median() < 0.2 < 0.6 < pull[small].median()


def test_shrinkage_weights_match_textbook_one_way_anova():
    # one level under the network: tau^2 = (MSB - MSW) / n0 from the answers themselves
    # (+100 / 0 / -100), n0 = (N - sum n_g^2 / N) / (G - 1); w_g = tau^2 / (tau^2 + MSW / n_g)
    rng = np.random.default_rng(8)
    sizes = {"a": 12, "b": 40, "c": 90, "d": 25, "e": 60}
    mix = {"a": 0.2, "b": 0.45, "c": 0.6, "d": 0.3, "e": 0.5}
    frame = pd.DataFrame([(g, s) for g, n in sizes.items()
                          for s in rng.choice([10, 8, 3], n, p=[mix[g], 0.3, 0.7 - mix[g]])],
                         columns=["touchpoint", "nps"])
    out = nps.summarize(frame, by=("touchpoint",), period=None).set_index("touchpoint")
    x = np.select([frame["nps"] >= 9, frame["nps"] <= 6], [100.0, -100.0], 0.0)
    groups = frame["touchpoint"].to_numpy()
    means = pd.Series(x).groupby(groups).mean()
    n = pd.Series(x).groupby(groups).size()
    big_n, g = len(x), len(n)
    msw = ((x - means[groups].to_numpy()) ** 2).sum() / (big_n - g)
    msb = (n * (means - x.mean()) ** 2).sum() / (g - 1)
    tau2 = max((msb - msw) / ((big_n - (n**2).sum() / big_n) / (g - 1)), 0.0)
    assert tau2 > 0
    weight = tau2 / (tau2 + msw / n)
    expected = weight * means + (1 - weight) * x.mean()
    assert out["nps_shrunk"].to_numpy() == pytest.approx(expected[out.index].to_numpy())


def test_no_between_dealer_spread_shrinks_everyone_to_the_region():
    rng = np.random.default_rng(5)
    frame, _ = _simulated_network(rng, tau=0.0, n_regions=3)
    out = nps.summarize(frame, by=("region", "dealer_id"), period=None)
    spread = out.groupby("region")[["nps", "nps_shrunk"]].std()
    assert (spread["nps_shrunk"] < 0.25 * spread["nps"]).all()


def test_identical_groups_are_not_moved():
    frame = _monthly([("R1", "A", "2026-01", 6, 2, 2), ("R1", "B", "2026-01", 12, 4, 4),
                      ("R2", "C", "2026-01", 3, 1, 1)])
    out = nps.summarize(frame, by=("region", "dealer_id"), period="M")
    assert out["nps_shrunk"].to_numpy() == pytest.approx(out["nps"].to_numpy())


@settings(max_examples=40, deadline=None)
@given(frames)
def test_shrunk_value_lies_between_own_and_network(frame):
    out = nps.summarize(frame.dropna(), by=("dealer_id",), period=None)
    network = nps.nps(frame.dropna()["nps"])
    lo = np.minimum(out["nps"], network) - 1e-9
    hi = np.maximum(out["nps"], network) + 1e-9
    assert ((out["nps_shrunk"] >= lo) & (out["nps_shrunk"] <= hi)).all()


def test_dealers_shrink_toward_their_region_when_it_is_known():
    frame = _monthly([("North", "A", "2026-01", 2, 0, 0), ("North", "B", "2026-01", 5, 30, 60),
                      ("North", "C", "2026-01", 10, 40, 50), ("South", "D", "2026-01", 80, 15, 5),
                      ("South", "E", "2026-01", 70, 20, 10)])
    with_region = nps.summarize(frame, by=("dealer_id",), period=None).set_index("dealer_id")
    assert "region" not in with_region
    # A's 2 promoters say little: it lands near the weak North, well below the network
    assert with_region.loc["A", "nps_shrunk"] < nps.nps(frame["nps"])



# --- pinned values: the shrinkage as it was before it moved to analysis.estimators ----------

@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads((Path(__file__).parent / "data" / "pinned_estimators.json").read_text())


def pinned_nps_frame() -> pd.DataFrame:
    """Answers of 6 dealers in 3 regions (R3 has one dealer), 2 touchpoints, 3 months."""
    rng = np.random.default_rng(14)
    dealers = {"A": "R1", "B": "R1", "C": "R1", "D": "R2", "E": "R2", "F": "R3"}
    rows = []
    for j, (dealer, region) in enumerate(dealers.items()):
        for touchpoint in ("service", "sales_new"):
            for month in ("2026-01", "2026-02", "2026-03"):
                n = int(rng.choice([1, 3, 8, 25, 60, 120]))
                mix = 0.08 + 0.1 * j + (0.06 if touchpoint == "service" else 0.0)
                scores = rng.choice([10, 9, 8, 7, 5, 2], n,
                                    p=[mix / 2, mix / 2, 0.15, 0.15, (0.7 - mix) / 2,
                                       (0.7 - mix) / 2])
                rows += [(region, dealer, touchpoint, pd.Timestamp(f"{month}-10"), int(s))
                         for s in scores]
    return pd.DataFrame(rows, columns=["region", "dealer_id", "touchpoint", "responded_at",
                                       "nps"])


@pytest.mark.parametrize("name, by, period", [
    ("by_region_dealer_M", ("region", "dealer_id"), "M"),
    ("by_dealer_touchpoint", ("dealer_id", "touchpoint"), None),
    ("by_region_M", ("region",), "M"),
    ("by_touchpoint_Q", ("touchpoint",), "Q"),
    ("by_region_dealer_touchpoint_M", ("region", "dealer_id", "touchpoint"), "M"),
])
def test_shrunk_nps_is_pinned(pinned, name, by, period):
    # values computed on the code before the shrinkage moved (tests/data/README.md)
    out = nps.summarize(pinned_nps_frame(), by=by, period=period)
    np.testing.assert_allclose(out["nps_shrunk"], pinned[name], rtol=1e-12, atol=1e-12)


def test_dealer_ranking_is_pinned(pinned):
    # pinned before dealers borrowed from their own earlier months: with ranks.history off
    # the ranking is today's to the last digit
    flags = load_params("flags")
    p = dict(load_params("nps"), flags=dict(flags, ranks=dict(flags["ranks"], history=False)))
    out = nps.rank_dealers(pinned_nps_frame(), period="2026-02", params=p)
    assert out["dealer_id"].tolist() == [d for d, _ in pinned["rank"]]
    np.testing.assert_allclose(out["nps_shrunk"], [v for _, v in pinned["rank"]], rtol=1e-12,
                               atol=1e-12)


# --- rankings and report tables -----------------------------------------------------------


def test_a_lucky_small_dealer_does_not_top_the_ranking():
    # dealers of region R spread a few points around +35; Lucky has three promoters
    frame = _monthly([("R", "Lucky", "2026-01", 3, 0, 0), ("R", "Solid", "2026-01", 110, 60, 30),
                      ("R", "D1", "2026-01", 50, 30, 20), ("R", "D2", "2026-01", 45, 35, 20),
                      ("R", "D3", "2026-01", 52, 28, 20), ("R", "D4", "2026-01", 47, 30, 23),
                      ("S", "Other", "2026-01", 90, 60, 50)])
    ranked = nps.rank_dealers(frame)
    assert ranked["dealer_id"].iloc[0] == "Solid"
    ranked = ranked.set_index("dealer_id")
    assert ranked.loc["Lucky", "nps"] > ranked.loc["Solid", "nps"]
    # the median rank: with places this uncertain no dealer is first in half of the draws
    assert ranked.loc["Solid", "rank_network"] < ranked.loc["Lucky", "rank_network"]
    assert ranked.loc["Lucky", "small_sample"]
    assert sorted(ranked.loc[ranked["region"] == "R", "rank_region"]) == [1, 2, 3, 4, 5, 6]
    assert ranked.loc["Other", "rank_region"] == 1


def test_planted_weak_dealers_rank_in_the_bottom_half(small_net):
    responses = store.with_region(small_net.responses, small_net.dealers)
    ranked = nps.rank_dealers(responses)
    weak = ranked["dealer_id"].isin(list(small_net.truth["dealer_weak_driver"]))
    assert weak.sum() == len(small_net.truth["dealer_weak_driver"])
    assert (ranked.loc[weak, "rank_network"] > len(ranked) / 2).all()
    assert ranked["rank_network"].is_monotonic_increasing


def test_rank_dealers_for_a_month_adds_the_change(small_net):
    month = str(small_net.responses["responded_at"].max().to_period("M"))
    ranked = nps.rank_dealers(small_net.responses, period=month, dealers=small_net.dealers)
    assert {"change_vs_previous", "change_p_value", "dealer_name"} <= set(ranked)
    assert len(ranked) == small_net.dealers["dealer_id"].nunique()
    with pytest.raises(KeyError, match="dealers="):
        nps.rank_dealers(small_net.responses)
    with pytest.raises(ValueError, match="no answers in 2020-01"):
        nps.rank_dealers(small_net.responses, period="2020-01", dealers=small_net.dealers)


def test_the_gap_to_the_region_is_judged_over_the_window_of_months(small_net):
    """issue 25: a dealer's gap to the rest of its region pools the last vs_region.months
    months (a month's answers cannot show a persistent 10-point gap); the same difference
    and test as nps.compare of the dealer's pooled answers against the rest of its region."""
    responses = store.with_region(small_net.responses, small_net.dealers)
    month = pd.Period(responses["responded_at"].max(), freq="M")
    ranked = nps.rank_dealers(responses, period=str(month)).set_index("dealer_id")
    months = load_params("flags")["vs_region"]["months"]
    inside = responses["responded_at"].dt.to_period("M").between(month - months + 1, month)
    window = responses.loc[inside]
    dealer = ranked.index[0]
    mine = window["dealer_id"] == dealer
    rest = ~mine & (window["region"] == ranked.loc[dealer, "region"])
    expected = nps.compare(window.loc[mine, "nps"], window.loc[rest, "nps"])
    row = ranked.loc[dealer]
    assert row["vs_region"] == pytest.approx(expected.difference)
    assert row["vs_region_p_value"] == pytest.approx(expected.p_value)
    assert (row["vs_region_low"], row["vs_region_high"]) == pytest.approx(
        (expected.low, expected.high))
    held = window["responded_at"].dt.to_period("M").nunique()  # the data may hold fewer
    assert row["vs_region_n"] == mine.sum() and row["vs_region_months"] == min(months, held)
    # the month's own NPS and answers stay the month's
    assert row["n"] == (responses["responded_at"].dt.to_period("M") == month)[
        responses["dealer_id"] == dealer].sum()


def test_report_tables_show_intervals_marks_and_no_personal_data(small_net):
    responses = store.with_region(small_net.responses, small_net.dealers)
    month = str(responses["responded_at"].max().to_period("M"))
    summary = nps.summarize(responses, by=("touchpoint",), period="M",
                            invitations=small_net.invitations)
    head = kinds.page(tables.headline_table(summary, month=month, by=("touchpoint",)))[0]
    assert list(head.columns[:4]) == ["Group", "Answers", "NPS", "95% interval"]
    assert head["Response rate"].str.endswith("%").all()
    table = kinds.page(tables.dealer_table(nps.rank_dealers(responses, period=month)))[0]
    assert len(table) == small_net.dealers["dealer_id"].nunique()
    assert table["95% interval"].str.match(r"^\[[+-]\d+\.\d, [+-]\d+\.\d\]$").all()
    shown = pd.concat([head.astype(str), table.astype(str)]).to_string()
    for column in ("phone", "email"):
        assert not responses[column].dropna().astype(str).map(shown.__contains__).any()
    # the significance mark appears exactly where the p-value is below 5 %
    ranked = nps.rank_dealers(responses, period=month)
    months = int(ranked["vs_region_months"].max())  # the window, or the months the data hold
    assert months == min(load_params("flags")["vs_region"]["months"],
                         responses["responded_at"].dt.to_period("M").nunique())
    marked = table[f"vs rest of region, last {months} months"].str.endswith("*").to_numpy()
    assert (marked == (ranked["vs_region_p_value"] < 0.05).to_numpy()).all()


# --- plots ---------------------------------------------------------------------------------


def test_errorbar_plot_marks_exactly_the_significant_changes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.report import charts

    frame = _monthly([("R", "A", "2026-01", 60, 20, 20), ("R", "A", "2026-02", 30, 30, 40),
                      ("R", "A", "2026-03", 32, 30, 38), ("R", "B", "2026-01", 5, 3, 2),
                      ("R", "B", "2026-02", 6, 2, 2), ("R", "B", "2026-03", 2, 3, 5)])
    summary = nps.summarize(frame, by=("dealer_id",), period="M")
    ax = charts.nps_errorbars(summary, hue="dealer_id")
    significant = int((summary["change_p_value"] < 0.05).sum())
    assert significant == 1  # A's fall from +40 to -10
    from matplotlib.collections import PathCollection

    marked = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert marked == significant
    assert len(ax.containers) == 2  # one errorbar set per dealer
    ranking = charts.dealer_ranking(nps.rank_dealers(frame))
    assert len(ranking.get_yticklabels()) == 2
    plt.close("all")


def test_threaded_counting_matches_the_single_threaded_result(monkeypatch):
    rng = np.random.default_rng(4)
    n = 20_000
    frame = pd.DataFrame({
        "dealer_id": pd.Series(rng.choice(["D1", "D2", "D3", None], n), dtype="str"),
        "touchpoint": rng.choice(["service", "hotline"], n),
        "responded_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
        "nps": rng.integers(0, 11, n)})
    single = nps.summarize(frame, by=("dealer_id", "touchpoint"), period="M")
    monkeypatch.setattr(counting, "_PARALLEL_MIN_ROWS", 1_000)
    threaded = nps.summarize(frame, by=("dealer_id", "touchpoint"), period="M")
    pd.testing.assert_frame_equal(single, threaded)
    ref = _reference_counts(frame, ["dealer_id", "touchpoint"], "M")
    assert threaded["n"].sum() == ref["n"].sum() == frame["dealer_id"].notna().sum()
