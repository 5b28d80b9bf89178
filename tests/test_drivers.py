"""Relative importance of loyalty drivers: published values, brute force, planted truth."""

import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.api as sm  # noqa: E402
import yaml  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from analysis import drivers as dr  # noqa: E402
from analysis.drivers import (  # noqa: E402
    QUADRANTS,
    DriverDataError,
    ImportanceResult,
    compare_methods,
    detractor_effects,
    importance_by_period,
    importance_change,
    importance_performance,
    kendalls_w,
    nonlinear_importance,
    ordinal_effects,
    relative_importance,
    relative_importance_from_corr,
)
from analysis.report.charts import (  # noqa: E402
    importance_performance as plot_importance_performance,
)

DATA = Path(__file__).parent / "data"
ATTITUDE_DRIVERS = ["complaints", "privileges", "learning", "raises", "critical", "advance"]
# the published values (also checked by notebooks/validation/published_values)
PUBLISHED = yaml.safe_load((DATA / "published_values.yaml").read_text(encoding="utf-8"))[
    "importance"]


@pytest.fixture(scope="module")
def mtcars():
    return pd.read_csv(DATA / "mtcars.csv")


@pytest.fixture(scope="module")
def attitude():
    return pd.read_csv(DATA / "attitude.csv")


def correlated_frame(n, p, *, seed, noise=1.0):
    """Correlated drivers with non-zero means and a linear target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + rng.uniform(-5, 20, p)
    y = x @ rng.uniform(-1, 1, p) + noise * rng.normal(size=n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(p)]).assign(y=y)
    return frame, [f"x{i}" for i in range(p)]


def ols_r2(frame, target, cols):
    if not cols:
        return 0.0
    return sm.OLS(frame[target], sm.add_constant(frame[list(cols)])).fit().rsquared


# --- published values ----------------------------------------------------------------------


def test_lmg_mtcars_matches_relaimpo(mtcars):
    # LMG of mpg ~ am + vs + cyl as quoted in issue 6 (see tests/data/README.md)
    published = PUBLISHED["mtcars_lmg"]
    res = relative_importance(mtcars, target="mpg", drivers=["am", "vs", "cyl"])
    for driver, value in published["importance"].items():
        assert res.table.loc[driver, "importance"] == pytest.approx(value, abs=1e-6)
    assert res.r2 == pytest.approx(published["r2"], abs=1e-7)
    assert list(res.table["rank"]) == [3, 2, 1]
    assert (res.n, res.n_dropped, res.method) == (32, 0, "lmg")


def test_relative_weights_mtcars_matches_rwa(mtcars):
    # R package rwa's documented example: raw weights in R^2 units
    res = relative_importance(mtcars, target="mpg", drivers=["cyl", "disp", "hp", "gear"],
                              method="relative_weights")
    for driver, value in PUBLISHED["mtcars_relative_weights"]["importance"].items():
        assert res.table.loc[driver, "importance"] == pytest.approx(value, abs=1e-6)
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    assert res.r2 == pytest.approx(ols_r2(mtcars, "mpg", ["cyl", "disp", "hp", "gear"]))


def test_general_dominance_attitude(attitude):
    # general dominance of rating ~ all six, published to 3 d.p.
    published = PUBLISHED["attitude_dominance"]
    res = relative_importance(attitude, target="rating", drivers=ATTITUDE_DRIVERS)
    expected = published["importance"]
    for driver, value in expected.items():
        assert res.table.loc[driver, "importance"] == pytest.approx(value, abs=1e-3)
    assert res.r2 == pytest.approx(published["r2"], abs=1e-7)
    assert res.table.sort_values("rank").index.tolist() == list(expected)


@pytest.mark.parametrize("method", dr.METHODS)
def test_from_corr_equals_from_frame(attitude, method):
    direct = relative_importance(attitude, target="rating", drivers=ATTITUDE_DRIVERS,
                                 method=method)
    from_corr = relative_importance_from_corr(attitude.corr(), target="rating",
                                              method=method, n=30)
    from_cov = relative_importance_from_corr(attitude.cov(), target="rating",
                                             drivers=ATTITUDE_DRIVERS, method=method)
    for other in (from_corr, from_cov):
        np.testing.assert_allclose(other.table["importance"], direct.table["importance"],
                                   rtol=0, atol=1e-12)
        assert other.r2 == pytest.approx(direct.r2, abs=1e-12)
    assert from_corr.n == 30 and from_cov.n is None


def test_from_corr_rejects_a_matrix_that_is_not_a_correlation():
    bad = pd.DataFrame([[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]],
                       index=list("abc"), columns=list("abc"))
    with pytest.raises(DriverDataError, match="positive semi-definite"):
        relative_importance_from_corr(bad, target="c")


# --- brute force -----------------------------------------------------------------------------


def brute_force_lmg(frame, target, cols):
    """Shapley value by its definition: mean over all orderings of the R^2 increments, with
    every subset's R^2 from its own statsmodels OLS fit."""
    r2 = {frozenset(s): ols_r2(frame, target, s)
          for k in range(len(cols) + 1) for s in itertools.combinations(cols, k)}
    total = dict.fromkeys(cols, 0.0)
    for order in itertools.permutations(cols):
        seen: frozenset = frozenset()
        for c in order:
            total[c] += r2[seen | {c}] - r2[seen]
            seen = seen | {c}
    n_orders = math.factorial(len(cols))
    return {c: v / n_orders for c, v in total.items()}, r2


def test_lmg_equals_brute_force_ols_refits():
    frame, cols = correlated_frame(150, 6, seed=11)
    expected, subset_r2 = brute_force_lmg(frame, "y", cols)
    res = relative_importance(frame, target="y", drivers=cols)
    for c in cols:
        assert res.table.loc[c, "importance"] == pytest.approx(expected[c], abs=1e-9)
    assert res.r2 == pytest.approx(subset_r2[frozenset(cols)], abs=1e-9)
    # and every one of the 64 subsets' R^2 from the sweep walk
    corr = frame[[*cols, "y"]].corr().to_numpy()
    walk = dr._subset_r2(corr)
    for subset, value in subset_r2.items():
        mask = sum(1 << cols.index(c) for c in subset)
        assert walk[mask] == pytest.approx(value, abs=1e-9)


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_collinear_driver_splits_credit_like_a_pseudo_inverse_fit():
    frame, cols = correlated_frame(120, 3, seed=5)
    frame = frame.assign(copy=2 * frame["x0"] + 3)
    with_copy = [*cols, "copy"]
    res = relative_importance(frame, target="y", drivers=with_copy)
    expected, _ = brute_force_lmg(frame, "y", with_copy)  # statsmodels uses a pinv
    for c in with_copy:
        assert res.table.loc[c, "importance"] == pytest.approx(expected[c], abs=1e-9)
    assert res.table.loc["copy", "importance"] == pytest.approx(
        res.table.loc["x0", "importance"], abs=1e-12)
    assert res.r2 == pytest.approx(ols_r2(frame, "y", cols), abs=1e-9)
    rw = relative_importance(frame, target="y", drivers=with_copy, method="relative_weights")
    assert rw.r2 == pytest.approx(res.r2, abs=1e-9)


def test_uncorrelated_drivers_get_their_squared_correlation():
    # Johnson (2000): with orthogonal predictors both methods reduce to r_j^2
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 3))
    x, _ = np.linalg.qr(z - z.mean(axis=0))  # orthonormal columns in the centred space
    y = x @ [3.0, 2.0, 1.0] + rng.normal(size=200) * 0.05
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
    r = frame.corr().loc[["a", "b", "c"], "y"].to_numpy()
    for method in dr.METHODS:
        res = relative_importance(frame, target="y", drivers=["a", "b", "c"], method=method)
        np.testing.assert_allclose(res.table["importance"], r**2, atol=1e-9)


def test_lmg_with_fifteen_drivers_sums_to_r2():
    frame, cols = correlated_frame(400, 15, seed=2)
    res = relative_importance(frame, target="y", drivers=cols)
    assert res.table["importance"].sum() == pytest.approx(ols_r2(frame, "y", cols), abs=1e-9)
    assert (res.table["importance"] >= 0).all()


# --- missing values, weights, errors --------------------------------------------------------


def test_complete_cases_and_dropped_count(mtcars):
    holed = mtcars.copy()
    holed.loc[[1, 5], "am"] = np.nan
    holed.loc[[5, 9], "mpg"] = np.nan
    holed.loc[12, "disp"] = np.nan  # not a driver here: the row stays
    res = relative_importance(holed, target="mpg", drivers=["am", "vs", "cyl"])
    clean = relative_importance(mtcars.drop(index=[1, 5, 9]), target="mpg",
                                drivers=["am", "vs", "cyl"])
    assert (res.n, res.n_dropped) == (29, 3)
    np.testing.assert_allclose(res.table["importance"], clean.table["importance"], atol=1e-12)
    assert "3 rows dropped" in res.summary()


def test_nullable_integer_columns_are_read_as_missing(mtcars):
    holed = mtcars.assign(am=mtcars["am"].astype("Int64"))
    holed.loc[1, "am"] = pd.NA
    res = relative_importance(holed, target="mpg", drivers=["am", "vs", "cyl"])
    assert (res.n, res.n_dropped) == (31, 1)


@pytest.mark.parametrize("method", dr.METHODS)
def test_integer_case_weights_act_as_repeated_rows(mtcars, method):
    counts = np.arange(len(mtcars)) % 3 + 1
    cols = ["cyl", "disp", "hp", "wt"]
    weighted = relative_importance(mtcars.assign(w=counts), target="mpg", drivers=cols,
                                   weights="w", method=method)
    repeated = relative_importance(mtcars.loc[mtcars.index.repeat(counts)], target="mpg",
                                   drivers=cols, method=method)
    np.testing.assert_allclose(weighted.table["importance"], repeated.table["importance"],
                               atol=1e-12)
    as_array = relative_importance(mtcars, target="mpg", drivers=cols, weights=counts,
                                   method=method)
    np.testing.assert_allclose(as_array.table["importance"], weighted.table["importance"],
                               atol=1e-14)


def test_weighted_fit_equals_weighted_least_squares(mtcars):
    w = np.linspace(0.2, 3.0, len(mtcars))
    cols = ["cyl", "hp", "wt"]
    res = relative_importance(mtcars, target="mpg", drivers=cols, weights=w)
    wls = sm.WLS(mtcars["mpg"], sm.add_constant(mtcars[cols]), weights=w).fit()
    assert res.r2 == pytest.approx(wls.rsquared, abs=1e-10)


def test_far_from_zero_columns_keep_their_digits():
    # the one-pass cross-product shortcut would lose digits here; the centred path must not
    frame, cols = correlated_frame(300, 3, seed=8)
    shifted = frame.assign(x0=frame["x0"] + 1e7, y=frame["y"] - 3e6)
    a = relative_importance(frame, target="y", drivers=cols)
    b = relative_importance(shifted, target="y", drivers=cols)
    np.testing.assert_allclose(b.table["importance"], a.table["importance"], atol=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(vs=1.0), "do not vary"),
        (lambda f: f.assign(vs=np.where(f.index == 3, np.inf, f["vs"])), "infinite"),
        (lambda f: f.assign(vs="x"), "must be numeric"),
        (lambda f: f.drop(columns="vs"), r"lack column\(s\) \['vs'\]"),
        (lambda f: f.head(4), "need at least 5 rows"),
    ],
)
def test_bad_input_raises_a_message_that_says_what_to_do(mtcars, change, message):
    with pytest.raises(DriverDataError, match=message):
        relative_importance(change(mtcars), target="mpg", drivers=["am", "vs", "cyl"])


def test_bad_arguments(mtcars):
    with pytest.raises(DriverDataError, match="also listed as a driver"):
        relative_importance(mtcars, target="mpg", drivers=["am", "mpg"])
    with pytest.raises(DriverDataError, match="more than once"):
        relative_importance(mtcars, target="mpg", drivers=["am", "am"])
    with pytest.raises(ValueError, match="method"):
        relative_importance(mtcars, target="mpg", drivers=["am"], method="shapley")
    with pytest.raises(DriverDataError, match="non-negative"):
        relative_importance(mtcars, target="mpg", drivers=["am"], weights=-np.ones(32))
    wide, cols = correlated_frame(40, 21, seed=1)
    with pytest.raises(DriverDataError, match="relative_weights"):
        relative_importance(wide, target="y", drivers=cols)
    assert relative_importance(wide, target="y", drivers=cols,
                               method="relative_weights").table.shape == (21, 5)


# --- bootstrap -------------------------------------------------------------------------------


def test_poisson_weights_have_the_poisson_1_distribution():
    counts = dr._poisson1(np.random.default_rng(0), (1000, 2000)).ravel()
    pmf = np.array([math.exp(-1) / math.factorial(k) for k in range(7)])
    freq = np.bincount(counts, minlength=7)[:7] / counts.size
    se = np.sqrt(pmf * (1 - pmf) / counts.size)
    assert np.all(np.abs(freq - pmf) < 5 * se)
    assert counts.max() < 15


def test_bootstrap_covariances_equal_direct_weighted_covariances():
    rng = np.random.default_rng(4)
    data = rng.normal(size=(100, 4)) + [1, 50, -3, 0]
    case_w = rng.uniform(0.5, 2, 100)
    for w in (None, case_w):
        mean = np.average(data, axis=0, weights=w)
        covs = dr._bootstrap_covs(data, w, mean, 20, np.random.default_rng(9))
        # one block of rows, drawn from the first child of the generator
        counts = dr._poisson1(np.random.default_rng(9).spawn(1)[0], (20, 100))
        for b in range(20):
            aw = counts[b] * (1 if w is None else w)
            direct = np.cov(data, rowvar=False, aweights=aw, bias=True)
            np.testing.assert_allclose(covs[b], direct, rtol=1e-10, atol=1e-10)


def test_bootstrap_blocks_add_up(monkeypatch):
    # force many row blocks and record the weights drawn for each
    rng = np.random.default_rng(1)
    data = rng.normal(size=(1000, 3))
    drawn = []
    real = dr._poisson1

    def recording(generator, shape):
        out = real(generator, shape)
        drawn.append(out.copy())
        return out

    monkeypatch.setattr(dr, "_poisson1", recording)
    monkeypatch.setattr(dr, "_BOOT_BLOCK_ELEMENTS", 700)  # 100 rows a block
    monkeypatch.setattr(dr, "_BOOT_BLOCKS_PER_RUN", 2)  # five runs, each its own stream
    monkeypatch.setattr(dr, "_BOOT_THREADS", 1)  # record the draws in row order
    covs = dr._bootstrap_covs(data, None, data.mean(axis=0), 7, np.random.default_rng(2))
    counts = np.concatenate(drawn, axis=1)
    assert len(drawn) == 10 and counts.shape == (7, 1000)
    for b in range(7):
        direct = np.cov(data, rowvar=False, aweights=counts[b], bias=True)
        np.testing.assert_allclose(covs[b], direct, rtol=1e-10, atol=1e-12)
    # and threads change nothing
    monkeypatch.setattr(dr, "_poisson1", real)
    monkeypatch.setattr(dr, "_BOOT_BLOCK_ELEMENTS", 70)  # 64-row blocks, eight runs
    one = dr._bootstrap_covs(data, None, data.mean(axis=0), 7, np.random.default_rng(2))
    monkeypatch.setattr(dr, "_BOOT_THREADS", 3)
    three = dr._bootstrap_covs(data, None, data.mean(axis=0), 7, np.random.default_rng(2))
    np.testing.assert_array_equal(one, three)


def test_bootstrap_is_deterministic_given_random_state(mtcars):
    kw = {"target": "mpg", "drivers": ["am", "vs", "cyl"], "n_boot": 50}
    a = relative_importance(mtcars, random_state=1, **kw)
    b = relative_importance(mtcars, random_state=1, **kw)
    c = relative_importance(mtcars, random_state=2, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table["low"], c.table["low"])
    assert a.draws.shape == (50, 3) and a.r2_draws.shape == (50,)
    assert (a.table["low"] <= a.table["high"]).all()
    assert "percentile intervals" in a.summary()


def test_shares_carry_the_percentile_interval_of_the_share_draws(mtcars):
    """ImportanceResult.shares: the interval a report's driver table shows, computed by the
    statistics (not the report): the level's percentiles of the share draws."""
    kw = {"target": "mpg", "drivers": ["am", "vs", "cyl"], "n_boot": 200}
    result = relative_importance(mtcars, random_state=3, level=0.9, **kw)
    shares = result.shares()
    draws = result.draws.div(result.r2_draws, axis=0)
    assert np.allclose(shares["share_low"], draws.quantile(0.05).to_numpy())
    assert np.allclose(shares["share_high"], draws.quantile(0.95).to_numpy())
    assert ((shares["share_low"] <= shares["share"]) & (shares["share"] <= shares["share_high"])
            ).all()
    bare = relative_importance(mtcars, **{**kw, "n_boot": 0}).shares()
    assert bare["share_low"].isna().all() and np.allclose(bare["share"], shares["share"])


def test_bootstrap_interval_agrees_with_the_delta_method():
    # one driver: importance = r^2, whose large-sample SE is 2|rho|(1 - rho^2)/sqrt(n)
    rng = np.random.default_rng(12)
    n, rho = 4000, 0.5
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    res = relative_importance(pd.DataFrame({"x": x, "y": y}), target="y", drivers=["x"],
                              n_boot=800, level=0.9, random_state=0)
    se = 2 * rho * (1 - rho**2) / np.sqrt(n)
    assert res.draws["x"].std() == pytest.approx(se, rel=0.1)
    width = res.table.loc["x", "high"] - res.table.loc["x", "low"]
    assert width == pytest.approx(2 * 1.6449 * se, rel=0.12)


# --- properties ------------------------------------------------------------------------------


@st.composite
def rating_frames(draw):
    """Small frames of 0-10 ratings: a target and 1-4 drivers, none constant."""
    p = draw(st.integers(1, 4))
    n = draw(st.integers(p + 8, 40))
    values = draw(arrays(np.int64, (n, p + 1), elements=st.integers(0, 10)))
    assume(np.all(np.ptp(values, axis=0) > 0))
    cols = [f"d{i}" for i in range(p)]
    return pd.DataFrame(values[:, :p], columns=cols).assign(score=values[:, p]), cols


PROPERTY_SETTINGS = settings(max_examples=60, deadline=None,
                             suppress_health_check=[HealthCheck.filter_too_much])


@PROPERTY_SETTINGS
@given(rating_frames(), st.sampled_from(dr.METHODS))
def test_importances_sum_to_r2_and_shares_to_one(case, method):
    frame, cols = case
    res = relative_importance(frame, target="score", drivers=cols, method=method)
    x = np.column_stack([np.ones(len(frame)), frame[cols].to_numpy(float)])
    y = frame["score"].to_numpy(float)
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    assert res.r2 == pytest.approx(r2, abs=1e-9)
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    assert (res.table["importance"] >= -1e-12).all()  # LMG: a mean of R^2 increments
    if res.r2 > 1e-9:
        assert res.table["share"].sum() == pytest.approx(1.0, abs=1e-9)


@PROPERTY_SETTINGS
@given(rating_frames(), st.sampled_from(dr.METHODS), st.randoms(use_true_random=False))
def test_invariant_to_row_order(case, method, rnd):
    frame, cols = case
    order = list(range(len(frame)))
    rnd.shuffle(order)
    a = relative_importance(frame, target="score", drivers=cols, method=method)
    b = relative_importance(frame.iloc[order], target="score", drivers=cols, method=method)
    np.testing.assert_allclose(b.table["importance"], a.table["importance"], atol=1e-10)


@PROPERTY_SETTINGS
@given(rating_frames(), st.sampled_from(dr.METHODS), st.data(),
       st.floats(0.01, 100), st.floats(-1000, 1000))
def test_invariant_to_positive_affine_rescaling_of_a_driver(case, method, data, scale, shift):
    frame, cols = case
    col = data.draw(st.sampled_from(cols))
    rescaled = frame.assign(**{col: frame[col] * scale + shift})
    a = relative_importance(frame, target="score", drivers=cols, method=method)
    b = relative_importance(rescaled, target="score", drivers=cols, method=method)
    np.testing.assert_allclose(b.table["importance"], a.table["importance"], atol=1e-9)
    assert b.r2 == pytest.approx(a.r2, abs=1e-9)


# --- cross-checks by other models -----------------------------------------------------------


def planted_ordinal(n, beta, *, seed):
    """0-10 scores from a proportional-odds model with known per-unit effects ``beta``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(5, 1.5, size=(n, len(beta)))
    latent = x @ np.asarray(beta) + rng.logistic(size=n)
    cuts = np.quantile(latent, np.linspace(0.04, 0.8, 10))  # 11 levels, skewed like NPS
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(len(beta))])
    return frame.assign(score=np.searchsorted(cuts, latent)), list(frame.columns)


def test_ordinal_and_detractor_models_recover_planted_effects():
    beta = [1.2, 0.6, 0.2]
    frame, cols = planted_ordinal(3000, beta, seed=21)
    truth = np.asarray(beta) * frame[cols].std().to_numpy()  # per SD, as reported
    ordinal = ordinal_effects(frame, target="score", drivers=cols)
    se = (ordinal["high"] - ordinal["low"]) / (2 * 1.96)
    assert np.all(np.abs(ordinal["effect"] - truth) < 4 * se)
    assert list(ordinal["rank"]) == [1, 2, 3]
    assert (ordinal["n"] == 3000).all()
    # P(score <= 6) = F(cut - x'beta): the detractor logit has slope -beta
    detractor = detractor_effects(frame, target="score", drivers=cols)
    se = (detractor["high"] - detractor["low"]) / (2 * 1.96)
    assert np.all(np.abs(detractor["effect"] + truth) < 4 * se)
    assert (detractor["odds_ratio"] < 1).all()


def test_models_subsample_large_frames_reproducibly():
    frame, cols = planted_ordinal(2500, [1.0, 0.5], seed=3)
    a = detractor_effects(frame, target="score", drivers=cols, max_rows=800, random_state=4)
    b = detractor_effects(frame, target="score", drivers=cols, max_rows=800, random_state=4)
    assert (a["n"] == 800).all()
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(DriverDataError, match="whole-number"):
        ordinal_effects(frame.assign(score=frame["score"] + 0.5), target="score",
                        drivers=cols)


def test_gradient_boosting_sees_the_effect_a_linear_model_misses():
    rng = np.random.default_rng(8)
    n = 3000
    frame = pd.DataFrame(rng.integers(1, 11, size=(n, 3)).astype(float),
                         columns=["curved", "linear", "noise"])
    # satisfaction falls off on both sides of a middle rating: no linear correlation
    frame["score"] = (-0.5 * (frame["curved"] - 5.5) ** 2 + 0.3 * frame["linear"]
                      + rng.normal(size=n))
    lmg = relative_importance(frame, target="score", drivers=["curved", "linear", "noise"])
    assert lmg.table.loc["curved", "importance"] < 0.01
    hgb = nonlinear_importance(frame, target="score", drivers=["curved", "linear", "noise"],
                               random_state=0)
    assert hgb["rank"].to_dict() == {"curved": 1, "linear": 2, "noise": 3}
    assert hgb.loc["curved", "importance"] > 0.5
    assert abs(hgb.loc["noise", "importance"]) < 0.02


def test_kendalls_w():
    same = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": [10, 20, 30, 40]})
    assert kendalls_w(same) == pytest.approx(1.0)
    assert kendalls_w(pd.DataFrame({"a": [1, 2, 3], "b": [3, 2, 1]})) == pytest.approx(0.0)
    # without ties, the mean pairwise Spearman correlation is (m W - 1) / (m - 1)
    rng = np.random.default_rng(0)
    ranks = pd.DataFrame({f"m{j}": rng.permutation(7) + 1 for j in range(4)})
    m = ranks.shape[1]
    rho = np.mean([spearmanr(ranks[a], ranks[b])[0]
                   for a, b in itertools.combinations(ranks.columns, 2)])
    assert (m * kendalls_w(ranks) - 1) / (m - 1) == pytest.approx(rho, abs=1e-12)


def test_compare_methods_agree_on_planted_ordinal_data():
    frame, cols = planted_ordinal(2500, [1.0, 0.6, 0.3, 0.05], seed=5)
    table = compare_methods(frame, target="score", drivers=cols, random_state=0)
    assert list(table.columns) == ["lmg", "relative_weights", "ordinal", "detractor_logit",
                                   "hgb_permutation"]
    assert table.loc["x0"].eq(1).all()
    assert table.attrs["kendall_w"] > 0.9
    assert table.attrs["n"] == 2500


# --- dynamics --------------------------------------------------------------------------------


def monthly_frame(weights_by_month, n, *, seed):
    rng = np.random.default_rng(seed)
    parts = []
    for month, beta in weights_by_month.items():
        x = rng.normal(7, 1.5, size=(n, len(beta)))
        day = pd.Timestamp(month) + pd.to_timedelta(rng.integers(0, 27 * 86400, n), unit="s")
        parts.append(pd.DataFrame(x, columns=["a", "b", "c"])
                     .assign(nps=x @ np.asarray(beta) + rng.normal(size=n), responded_at=day))
    return pd.concat(parts, ignore_index=True)


def test_importance_by_period_is_tidy_and_per_period():
    frame = monthly_frame({"2026-01": [1, .5, .2], "2026-02": [1, .5, .2],
                           "2026-03": [.2, .5, 1]}, 300, seed=1)
    out = importance_by_period(frame, drivers=["a", "b", "c"], n_boot=40, random_state=3)
    assert list(out.columns) == ["period", "driver", "importance", "share", "low", "high",
                                 "n", "r2"]
    assert len(out) == 9 and set(out["n"]) == {300}
    march = frame[frame["responded_at"] >= "2026-03-01"]
    direct = relative_importance(march, target="nps", drivers=["a", "b", "c"])
    got = out[out["period"] == pd.Period("2026-03", "M")].set_index("driver")
    np.testing.assert_allclose(got["importance"], direct.table["importance"], atol=1e-12)
    assert got["r2"].iloc[0] == pytest.approx(direct.r2)
    assert (out["low"] < out["high"]).all()
    # a period with too few complete cases gets NaN, and its count
    sparse = pd.concat([frame, frame.tail(3).assign(responded_at=pd.Timestamp("2026-04-02"))])
    april = importance_by_period(sparse, drivers=["a", "b", "c"], n_boot=0).tail(3)
    assert april["importance"].isna().all() and set(april["n"]) == {3}
    # each period's stream depends on the seed and the period only
    alone = importance_by_period(march, drivers=["a", "b", "c"], n_boot=40, random_state=3)
    np.testing.assert_allclose(alone["low"], got["low"].to_numpy(), atol=1e-14)


def test_importance_change_flags_the_drivers_that_moved():
    frame = monthly_frame({"2026-04": [1.0, 0.3, 0.6], "2026-05": [0.3, 1.0, 0.6]}, 1500,
                          seed=2)
    out = importance_change(frame, drivers=["a", "b", "c"], n_boot=300, random_state=0)
    flags = out.set_index("driver")
    assert flags["changed"].to_dict() == {"a": True, "b": True, "c": False}
    assert flags.loc["a", "diff"] < 0 < flags.loc["b", "diff"]
    assert (flags["before"] == pd.Period("2026-04", "M")).all()
    assert (flags["low"] <= flags["diff"]).all() and (flags["diff"] <= flags["high"]).all()
    same = importance_change(frame, drivers=["a", "b", "c"], n_boot=300, random_state=0,
                             periods=("2026-04", "2026-05"), measure="importance")
    assert same.set_index("driver")["changed"].to_dict() == {"a": True, "b": True, "c": False}
    with pytest.raises(DriverDataError, match="fewer than two periods"):
        importance_change(frame[frame["responded_at"] < "2026-05-01"],
                          drivers=["a", "b", "c"])


# --- importance-performance map -------------------------------------------------------------


def test_importance_performance_quadrants_by_hand():
    ratings = pd.DataFrame({"nps": [9, 7, 8, 10], "a": [6, 6, 5, 7], "b": [9, 9, 9, 9],
                            "c": [5, 5, 5, np.nan], "d": [10, 9, 9.5, 9.5]})
    importance = {"a": 0.4, "b": 0.3, "c": 0.1, "d": 0.2}
    out = importance_performance(ratings, drivers=["a", "b", "c", "d"], importance=importance)
    # cross-hairs: mean importance 0.25, mean performance (6 + 9 + 5 + 9.5) / 4 = 7.375
    assert out["performance"].tolist() == [6.0, 9.0, 5.0, 9.5]
    assert out["n"].tolist() == [4, 4, 3, 4]
    assert out["quadrant"].tolist() == ["concentrate here", "keep up the good work",
                                        "low priority", "possible overkill"]
    assert list(out["quadrant"].cat.categories) == list(QUADRANTS)


def test_importance_performance_defaults_to_lmg_share(attitude):
    res = relative_importance(attitude, target="rating", drivers=ATTITUDE_DRIVERS)
    out = importance_performance(attitude, target="rating", drivers=ATTITUDE_DRIVERS)
    np.testing.assert_allclose(out["importance"], res.table["share"], atol=1e-14)
    given_result = importance_performance(attitude, target="rating",
                                          drivers=ATTITUDE_DRIVERS, importance=res)
    pd.testing.assert_frame_equal(out, given_result)
    with pytest.raises(DriverDataError, match="no value"):
        importance_performance(attitude, target="rating", drivers=ATTITUDE_DRIVERS,
                               importance={"complaints": 1.0})


def test_plot_importance_performance_draws_without_showing(attitude):
    table = importance_performance(attitude, target="rating", drivers=ATTITUDE_DRIVERS)
    fig, ax = plt.subplots()
    try:
        out = plot_importance_performance(table, labels={"complaints": "Complaints"}, ax=ax)
        assert out is ax
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 6 and "Complaints" in texts
        drawn = [line for line in ax.lines if len(line.get_xdata())]  # not legend proxies
        xs = {line.get_xdata()[0] for line in drawn}
        ys = {line.get_ydata()[0] for line in drawn}
        assert table["performance"].mean() in xs and table["importance"].mean() in ys
    finally:
        plt.close(fig)


# --- planted truth in the synthetic network ------------------------------------------------


@pytest.fixture(scope="module")
def network():
    from analysis.synthetic import make_network

    return make_network(n_dealers=30, months=6, responses_per_month=3000, seed=1)


def test_lmg_shares_rank_the_planted_driver_weights(network):
    from analysis.config import load_params

    names = list(load_params("drivers")["drivers"])
    res = relative_importance(network.responses, target="nps", drivers=names, n_boot=100,
                              random_state=0)
    assert isinstance(res, ImportanceResult)
    assert res.n + res.n_dropped == len(network.responses) and res.n_dropped > 0
    weights = network.truth["driver_weights"]
    rho = spearmanr(res.table.loc[names, "share"], [weights[d] for d in names])[0]
    # with five drivers, 0.9 is the value of one adjacent swap; rounding puts it a hair below
    assert rho >= 0.9 - 1e-9
    heaviest = max(weights, key=weights.get)
    assert res.table.loc[heaviest, "rank"] == 1


def test_a_cluster_bootstrap_over_too_few_dealers_resamples_the_answers(small_net):
    """One dealer: a dealer bootstrap redraws the same dealer every time (an interval of zero
    width, and importance changes 'significant' on nothing); below bootstrap_min_clusters the
    answers are resampled, and the interval covers the planted order of the drivers."""
    names = list(dr.driver_names())
    one = small_net.responses.loc[small_net.responses["dealer_id"] == "D001"]
    by_dealer = relative_importance(one, target="nps", drivers=names, n_boot=200,
                                    random_state=0, cluster="dealer_id")
    by_answer = relative_importance(one, target="nps", drivers=names, n_boot=200,
                                    random_state=0)
    pd.testing.assert_frame_equal(by_dealer.table, by_answer.table)
    assert (by_dealer.table["high"] - by_dealer.table["low"] > 0.01).all()
    # enough dealers: the dealers are resampled, and the doubt between them widens intervals
    many = relative_importance(small_net.responses, target="nps", drivers=names, n_boot=200,
                               random_state=0, cluster="dealer_id")
    answers = relative_importance(small_net.responses, target="nps", drivers=names,
                                  n_boot=200, random_state=0)
    width = (many.table["high"] - many.table["low"]).mean()
    assert width > (answers.table["high"] - answers.table["low"]).mean()
