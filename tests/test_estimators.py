"""The shared estimators (analysis/estimators.py): published values, hand-computed cases and
properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import estimators as est

ROCKS = {"promoters": 0.75, "passives": 1.5, "detractors": 0.75}  # Rocks 2016 pseudo-counts


# --- level -> z, t, p ------------------------------------------------------------------------


@pytest.mark.parametrize("level, z", [(0.90, 1.644854), (0.95, 1.959964), (0.99, 2.575829)])
def test_z_of_a_level_matches_the_normal_table(level, z):
    assert est.z_value(level) == pytest.approx(z, abs=1e-6)


@pytest.mark.parametrize("bad", [0, 1, 95, -0.5, 1.5])
def test_a_level_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        est.check_level(bad)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 0.999))
def test_the_p_value_of_a_levels_z_is_one_minus_the_level(level):
    assert est.two_sided_p(est.z_value(level)) == pytest.approx(1 - level, rel=1e-9)


def test_t_interval_matches_the_t_table():
    # t(9, 0.975) = 2.262157: a mean of 10 answers with variance 1 -> +-0.715357
    low, high = est.t_interval(np.array([5.0, 5.0]), np.array([1.0, 1.0]),
                               np.array([10.0, 1.0]), 0.95)
    assert (low[0], high[0]) == pytest.approx((5 - 0.715357, 5 + 0.715357), abs=1e-6)
    assert np.isnan(low[1]) and np.isnan(high[1])  # one answer: no spread, no interval


# --- Wilson ----------------------------------------------------------------------------------


@pytest.mark.parametrize("successes, trials, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:857-872, table II, method 3 (score interval)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (8, 10, 0.4902, 0.9433),
])
def test_wilson_interval_matches_newcombe_1998(successes, trials, low, high):
    got = est.wilson_interval(successes, trials)
    assert (float(got[0]), float(got[1])) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_is_vectorised_and_nan_without_trials():
    low, high = est.wilson_interval([81, 0, 3], [263, 0, 3], level=0.9)
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert high[2] == pytest.approx(1.0) and low[2] < 1


proportions = st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=200, deadline=None)
@given(proportions, st.integers(2, 20), st.floats(0.5, 0.99))
def test_wilson_bounds_and_narrowing_with_n(kn, k, level):
    successes, trials = kn
    low, high = est.wilson_interval(successes, trials, level=level)
    share = successes / trials
    assert -1e-12 <= low <= share + 1e-12 and share - 1e-12 <= high <= 1 + 1e-12
    low_k, high_k = est.wilson_interval(k * successes, k * trials, level=level)
    assert high_k - low_k <= high - low + 1e-12


# --- the NPS interval (adjusted Wald) ----------------------------------------------------------


def test_adjusted_wald_matches_rocks_hand_computed():
    # Rocks (2016), The American Statistician 70(4): add 3/4, 3/2, 3/4 -> 50.75, 31.5, 20.75 of
    # 103; est = 30/103, var = (71.5/103 - est^2)/103 -> [14.05, 44.20] at 95 %
    low, high = est.nps_wald_interval(50, 30, 20, pseudo_counts=ROCKS)
    assert (low, high) == pytest.approx((14.05, 44.20), abs=0.01)
    # 10 promoters: est = 10/13, [47.50, 106.34] clipped to 100
    assert est.nps_wald_interval(10, 0, 0, pseudo_counts=ROCKS) == pytest.approx(
        (47.50, 100.0), abs=0.01)


def test_plain_wald_hand_computed():
    # 30/10/10: est = 0.4, var = (0.8 - 0.16)/50 = 0.0128 -> [17.83, 62.17]; 90 %: [21.39, 58.61]
    assert est.nps_wald_interval(30, 10, 10) == pytest.approx((17.83, 62.17), abs=0.01)
    assert est.nps_wald_interval(30, 10, 10, level=0.9) == pytest.approx((21.39, 58.61),
                                                                         abs=0.01)
    value, var = est.nps_estimate(30, 10, 10)
    assert (float(value), float(var)) == pytest.approx((0.4, 0.0128))


def test_nps_estimate_refuses_negative_counts_and_is_nan_when_empty():
    with pytest.raises(ValueError, match="must not be negative"):
        est.nps_estimate(3, -1, 0)
    value, var = est.nps_estimate([0, 5], [0, 0], [0, 0], pseudo_counts=ROCKS)
    assert np.isnan(value[0]) and np.isnan(var[0]) and value[1] == pytest.approx(5 / 8)


counts = st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)).filter(
    lambda c: sum(c) >= 2)


@settings(max_examples=200, deadline=None)
@given(counts, st.integers(2, 10), st.sampled_from([None, ROCKS]))
def test_nps_interval_bounds_and_narrowing_with_n(c, k, pseudo):
    low, high = est.nps_wald_interval(*c, pseudo_counts=pseudo)
    raw = 100 * (c[0] - c[2]) / sum(c)
    assert -100 <= low <= raw + 1e-9 and raw - 1e-9 <= high <= 100
    low_k, high_k = est.nps_wald_interval(*(k * x for x in c), pseudo_counts=pseudo)
    assert high_k - low_k <= high - low + 1e-9


# --- empirical-Bayes shrinkage -----------------------------------------------------------------


def _groups(*answers):
    """n, mean and within sum of squares of each group's answers."""
    arrays = [np.asarray(a, dtype=float) for a in answers]
    return (np.array([len(a) for a in arrays], dtype=float), np.array([a.mean() for a in arrays]),
            np.array([((a - a.mean()) ** 2).sum() for a in arrays]))


def test_balanced_one_way_anova_hand_computed():
    # means 7, 9, 8 of 4 answers each: MSB = 4 * 2 / 2 = 4, MSW = 6 / 9 = 2/3,
    # tau^2 = (4 - 2/3) / 4 = 5/6, weight = (5/6) / (5/6 + (2/3) / 4) = 5/6
    n, mean, ss = _groups([6, 7, 8, 7], [8, 9, 9, 10], [7, 8, 8, 9])
    for parent_mean in est.PARENT_MEANS:
        out = est.eb_shrink(n, mean, ss, parent=[0, 0, 0], parent_mean=parent_mean)
        assert out.tau2 == pytest.approx([5 / 6]) and out.sigma2 == pytest.approx([2 / 3])
        assert out.weight == pytest.approx([5 / 6] * 3)
        assert out.shrunk == pytest.approx([8 - 5 / 6, 8 + 5 / 6, 8])
    # a parent mean given by the caller: 5/6 of the own mean, 1/6 of the parent's
    out = est.eb_shrink(n, mean, ss, parent=[0, 0, 0], parent_mean=[10.0])
    assert out.shrunk == pytest.approx([5 / 6 * m + 1 / 6 * 10 for m in (7, 9, 8)])
    assert out.target == pytest.approx([10.0] * 3)


def test_unbalanced_case_hand_computed():
    # a = [1, 3]: n 2, mean 2, SS 2; b = [4, 6, 5, 5]: n 4, mean 5, SS 2; one parent.
    # pooled mean 24/6 = 4; SSB = 2 * 4 + 4 * 1 = 12, MSB = 12 / (2 - 1) = 12;
    # MSW = 4 / (6 - 2) = 1; n0 = (6 - (4 + 16) / 6) / 1 = 8/3; tau^2 = (12 - 1) / (8/3) = 33/8
    # weights: a (33/8) / (33/8 + 1/2) = 33/37, b (33/8) / (33/8 + 1/4) = 33/35
    n, mean, ss = _groups([1, 3], [4, 6, 5, 5])
    pooled = est.eb_shrink(n, mean, ss, parent=[0, 0], parent_mean="pooled")
    assert pooled.tau2 == pytest.approx([33 / 8])
    assert pooled.weight == pytest.approx([33 / 37, 33 / 35])
    assert pooled.shrunk == pytest.approx([82 / 37, 173 / 35])
    # precision weights 1 / (tau^2 + MSW / n): 8/37 and 8/35 -> (2 * 35 + 5 * 37) / 72 = 255/72
    precise = est.eb_shrink(n, mean, ss, parent=[0, 0], parent_mean="precision_weighted")
    assert precise.target == pytest.approx([255 / 72] * 2)
    assert precise.shrunk == pytest.approx([33 / 37 * 2 + 4 / 37 * 255 / 72,
                                            33 / 35 * 5 + 2 / 35 * 255 / 72])


def test_no_evidence_of_spread_or_of_noise():
    # one group per parent: no siblings, tau^2 = 0, each group takes its parent's mean
    n, mean, ss = _groups([1, 3], [4, 6])
    out = est.eb_shrink(n, mean, ss, parent=[0, 1], parent_mean=[0.0, 10.0])
    assert out.tau2 == pytest.approx([0.0]) and out.shrunk == pytest.approx([0.0, 10.0])
    # one answer per group: no estimate of the noise, every group keeps its own mean
    n, mean, ss = _groups([1], [5], [9])
    out = est.eb_shrink(n, mean, ss, parent=[0, 0, 0])
    assert out.shrunk == pytest.approx([1, 5, 9]) and out.weight == pytest.approx([1, 1, 1])


def test_parent_mean_is_checked():
    n, mean, ss = _groups([1, 3], [4, 6])
    with pytest.raises(ValueError, match="parent_mean must be one of"):
        est.eb_shrink(n, mean, ss, parent=[0, 0], parent_mean="network")
    with pytest.raises(ValueError, match="one per parent"):
        est.eb_shrink(n, mean, ss, parent=[0, 0], parent_mean=[1.0, 2.0])


@st.composite
def nested_groups(draw):
    """Groups of 1-30 answers (0-10) in 1-4 parents, in 1-2 strata."""
    n_parents = draw(st.integers(1, 4))
    rows = []
    for parent in range(n_parents):
        for _ in range(draw(st.integers(1, 4))):
            answers = draw(st.lists(st.integers(0, 10), min_size=1, max_size=30))
            rows.append((parent, parent % 2, answers))
    parent, stratum, answers = zip(*rows, strict=True)
    n, mean, ss = _groups(*answers)
    return n, mean, ss, np.array(parent), np.array(stratum)


@settings(max_examples=150, deadline=None)
@given(nested_groups(), st.sampled_from(est.PARENT_MEANS), st.randoms(use_true_random=False))
def test_shrinkage_properties(groups, parent_mean, rnd):
    n, mean, ss, parent, stratum = groups
    out = est.eb_shrink(n, mean, ss, parent=parent, parent_mean=parent_mean, stratum=stratum)
    assert ((out.weight >= 0) & (out.weight <= 1)).all() and (out.tau2 >= 0).all()
    lo, hi = np.minimum(mean, out.target), np.maximum(mean, out.target)
    assert ((out.shrunk >= lo - 1e-9) & (out.shrunk <= hi + 1e-9)).all()
    # the order of the groups does not matter
    order = list(range(len(n)))
    rnd.shuffle(order)
    again = est.eb_shrink(n[order], mean[order], ss[order], parent=parent[order],
                          parent_mean=parent_mean, stratum=stratum[order])
    np.testing.assert_allclose(again.shrunk, out.shrunk[order], rtol=1e-9, atol=1e-9)
    # each stratum is shrunk on its own
    alone = stratum == 0
    first = est.eb_shrink(n[alone], mean[alone], ss[alone], parent=parent[alone] // 2,
                          parent_mean=parent_mean)
    np.testing.assert_allclose(first.shrunk, out.shrunk[alone], rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(nested_groups(), st.integers(2, 10))
def test_more_answers_of_the_same_spread_shrink_less(groups, k):
    # k times the answers with the same means and per-answer variance: weights do not fall
    n, mean, ss, parent, stratum = groups
    out = est.eb_shrink(n, mean, ss, parent=parent, stratum=stratum)
    more = est.eb_shrink(k * n, mean, k * ss, parent=parent, stratum=stratum)
    assert (more.weight >= out.weight - 1e-9).all()
