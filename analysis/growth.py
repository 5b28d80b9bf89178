"""Dealer rankings per driver and growth zones: where raising one driver promises most NPS.

The importer's deck ends with "TOP-20 dealers with growth zones". Done by eye it points at a
dealer's lowest rating, not at the lowest rating *that matters*, and it ignores that a dealer
with 15 answers may just be unlucky. Here a growth zone is named by the NPS that a modelled
improvement promises, with its uncertainty.

Ranking (:func:`rank_dealers_by_driver`)
----------------------------------------
Per driver and dealer: the mean rating with a t-interval, and the mean shrunk toward the
dealer's region by empirical Bayes (normal-normal). Dealer ``j`` of region ``r`` has ``n_j``
ratings with mean ``ybar_j``; its true mean is taken as ``N(mu_r, tau^2)`` and ``ybar_j`` as
``N(true, sigma^2 / n_j)``. ``sigma^2`` and ``tau^2`` are estimated by the method of moments
of the one-way ANOVA with dealers nested in regions (Searle, Casella & McCulloch 1992, ch. 3;
regions are fixed effects, and there is one ``tau^2`` per driver for the whole network, because
a region holds too few dealers to estimate its own), with the estimator the NPS uses too
(:func:`analysis.estimators.eb_shrink`):

- ``MSW = sum_j (n_j - 1) s_j^2 / (N - K)`` estimates ``sigma^2``;
- ``MSB = sum_j n_j (ybar_j - ybar_r)^2 / (K - R)`` has expectation ``sigma^2 + n0 tau^2``
  with ``n0 = (N - sum_r sum_{j in r} n_j^2 / N_r) / (K - R)`` (unbalanced design);
- ``tau^2 = max(0, (MSB - MSW) / n0)``; ``mu_r`` is the precision-weighted mean of the region's
  dealer means, weights ``1 / (tau^2 + sigma^2 / n_j)`` (the respondent-weighted mean when
  ``tau^2 = 0``);
- ``shrunk_j = w_j ybar_j + (1 - w_j) mu_r`` with ``w_j = tau^2 / (tau^2 + sigma^2 / n_j)``.

When every region holds a single dealer ``tau^2`` cannot be estimated and ``shrunk = mean``.
Unlike the NPS (:mod:`analysis.nps`), whose dealers shrink toward their region's NPS shrunk in
turn toward the network, ``mu_r`` is not pulled toward the network: it is the benchmark
``region_mean`` and rests on all the region's ratings.
Ranks (1 = best) order the shrunk means, so that a small dealer's lucky or unlucky sample does
not put it at either end of the list.

Growth zones (:func:`growth_zones`)
-----------------------------------
For every dealer x driver:

1. ``current``: the dealer's shrunk mean rating (above).
2. ``benchmark``: the network's top quartile of dealer shrunk means (their 0.75 quantile,
   params/growth.yaml), or the dealer's region mean ``mu_r``.
3. ``gap = max(benchmark - current, 0)``: a dealer at or above the benchmark has nothing to
   close, so its uplift is exactly 0.
4. The model (:class:`NPSLogit`, a scikit-learn estimator): a multinomial logit of the NPS
   category (detractor / passive / promoter, passive the reference) on the driver ratings,
   fitted on the respondent level over the whole network by Newton's method with a small
   ridge on the slopes (params/growth.yaml). Complete cases: a skipped rating is often "not
   applicable" (booking after a car sale), and imputing it would invent an answer; the
   dealer-level means use every rating given.
5. ``uplift``: over the dealer's own complete-case respondents, the mean of
   ``P(promoter) - P(detractor)`` with that driver's rating raised by ``gap`` (capped at the
   scale maximum), minus the same with their actual ratings, in NPS points. Only the raised
   column changes the linear predictor, so this costs one pass over the rows per driver.
6. Intervals: a bootstrap over respondents, stratified by dealer (each dealer keeps its number
   of answers, as in the survey design). In every draw the dealer means, the shrinkage, the
   benchmark, the gaps and the model are all recomputed, so the interval carries both the
   doubt about the dealer's level and about how much the driver matters. A clone of the model
   is refitted from the full-data coefficients (4 Newton steps); draws are frequency weights,
   so no data are copied. Percentile intervals at ``level``. Measured on the default demo network
   (60,078 answers, 60 dealers, 5 drivers): about 18 ms of CPU per draw, so 200 draws take
   about 4 s and no subsampling of the fit is needed. Ratings are whole numbers, so the fit
   runs on the distinct (ratings, category) patterns with counts as weights (12k for 49k
   complete answers), which gives the same likelihood as the rows.
7. The test (:func:`_gap_test`): is the dealer really below the benchmark? The untruncated
   difference ``benchmark - own mean`` (the dealer's own mean rating, unbiased for its true
   mean) over its bootstrap standard error, in which the benchmark is recomputed in every
   draw, gives a one-sided p-value; Benjamini-Hochberg over every dealer x driver pair at
   ``q`` of params/flags.yaml. Truncating the gap at 0 and taking percentile intervals of a
   quantile of noisy means called 51-58 of 300 pairs zones when no dealer differed (dealer
   labels shuffled); on a one-month window 2-27.
8. A growth zone is a dealer x driver that passes the test and whose uplift interval lies
   above 0 and at or above ``min_uplift`` of params/growth.yaml: closing the gap is associated
   with at least that many NPS points, at the interval's lower end. The test alone does not
   choose: dealers differ truly, so with their natural spread most lie below the top
   quartile on some driver (on synthetic networks of 40 dealers without planted weakness,
   117 pairs at 39 dealers passed it); the threshold keeps the gaps worth acting on
   (``benchmarks/bench_growth.py`` measures both sides: zones without planted weakness and
   planted weaknesses found). Without a bootstrap (``n_boot=0``) there is no test and so no
   growth zones are called.
9. TOP: dealers with a growth zone, ranked by the NPS points associated with closing all
   their growth zones' gaps at once (``total_uplift``; not the sum of the separate uplifts:
   the logit is not additive on the NPS scale), each with its growth zones ranked by uplift.

The uplift is a modelled, cross-sectional association: the NPS the network's rating-to-NPS
relation shows for customers rating the driver higher, applied to this dealer's customers. It
is not a causal promise of attainable NPS; the report heads it "NPS points associated with
closing the gap". ``assoc_uplift``, ``assoc_uplift_low``, ``assoc_uplift_high`` and
``assoc_total_uplift`` carry it under that name; ``uplift*`` and ``total_uplift`` are the same
numbers under the old names, kept for the display code.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from analysis import nps as nps_module
from analysis.config import load_params, params_or
from analysis.errors import DataError, require_columns
from analysis.estimators import bh_flags, check_level, eb_shrink, t_interval
from analysis.settings import Settings, level_or, settings_or

__all__ = [
    "BENCHMARKS",
    "ConvergenceWarning",
    "GrowthDataError",
    "GrowthResult",
    "NPSLogit",
    "growth_zones",
    "rank_dealers_by_driver",
]

BENCHMARKS = ("top_quartile", "region_mean")
# NPS categories in the codes of analysis.nps.classify: 0 detractor, 1 passive, 2 promoter.
_DETRACTOR, _PROMOTER = 0, 2


class GrowthDataError(DataError):
    """The responses cannot be analysed as asked; the message names the column and the fix."""


class ConvergenceWarning(UserWarning):
    """Newton's method stopped at ``max_iter`` before the coefficients settled."""


# --- input preparation -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    """Responses as arrays, rows in a canonical order (by unit, then by their values)."""

    units: np.ndarray          # K unit labels (dealer ids), sorted
    unit_regions: np.ndarray   # K region names
    regions: np.ndarray        # R region names, sorted
    unit: np.ndarray           # n row -> unit code
    unit_region: np.ndarray    # K unit -> region code
    ratings: np.ndarray        # n x p, NaN where not rated
    category: np.ndarray | None  # n NPS category codes (0, 1, 2) or None without a target
    names: np.ndarray | None   # K dealer names when the responses carry them
    start: np.ndarray          # K first row of each unit (rows are grouped by unit)
    size: np.ndarray           # K rows of each unit
    observed: np.ndarray       # n x p, 1.0 where rated
    filled: np.ndarray         # n x p, the ratings with 0 where not rated


def _check_columns(responses: pd.DataFrame, drivers: list[str], by: str,
                   extra: Sequence[str] = ()) -> None:
    if not isinstance(responses, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(responses).__name__}")
    if not drivers:
        raise GrowthDataError("drivers is empty: name at least one driver column")
    if len(set(drivers)) != len(drivers):
        raise GrowthDataError(f"drivers {drivers} list a column more than once; list each once")
    if by == "region":
        raise GrowthDataError("by='region' ranks regions, but dealers are shrunk toward their "
                              "region: rank dealers (by='dealer_id') and summarise by region")
    require_columns(responses, ["region"], table="responses", error=GrowthDataError,
                    fix="attach it with analysis.store.with_region(responses, dealers)")
    require_columns(responses, [by, *drivers, *extra], table="responses", error=GrowthDataError,
                    fix="check the names or params/drivers.yaml")


def _resolve_drivers(drivers: Sequence[str] | None) -> list[str]:
    if drivers is None:
        return list(load_params("drivers")["drivers"])
    if isinstance(drivers, str):
        raise TypeError("drivers must be a sequence of column names, not one string")
    return list(drivers)


def _scale_pairs(drivers: Sequence[str], scales: Mapping[str, tuple[int, int]] | None
                 ) -> list[tuple[int, int]]:
    from analysis.coverage import scale_of

    return [scale_of(d, scales) for d in drivers]


def _scale_bounds(drivers: Sequence[str], scales: Mapping[str, tuple[int, int]] | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each driver's scale (``scales``, else params/drivers.yaml ``rating_scale``) as arrays of
    its lowest and highest rating."""
    bounds = np.array(_scale_pairs(drivers, scales), dtype=float).reshape(-1, 2)
    return bounds[:, 0], bounds[:, 1]


def _prepare(responses: pd.DataFrame, drivers: list[str], *, by: str,
             target: str | None, scales: Mapping[str, tuple[int, int]] | None = None) -> _Data:
    """Validate and turn the responses into arrays in a canonical row order.

    The canonical order (unit, target, ratings) makes every result, bootstrap draws included,
    independent of the order of the input rows.
    """
    _check_columns(responses, drivers, by, [target] if target else [])
    if responses.empty:
        raise GrowthDataError("responses are empty: there is nothing to rank")
    if responses[by].isna().any() or responses["region"].isna().any():
        raise GrowthDataError(f"some rows lack {by!r} or 'region'; drop them or fix the dealers "
                              "table (every dealer needs a region)")
    try:
        ratings = responses[drivers].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        kinds = {c: str(responses[c].dtype) for c in drivers}
        raise GrowthDataError(f"driver ratings must be numeric; dtypes are {kinds}") from exc
    # each driver on the scale it was rated on (an export may rate booking 1-5, staff 0-10)
    low, high = _scale_bounds(drivers, scales)
    bad = ~np.isnan(ratings) & ((ratings < low) | (ratings > high))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise GrowthDataError(
            f"{int(bad.sum())} rating(s) lie outside their driver's scale, e.g. "
            f"{drivers[col]}={float(ratings[row, col])!r} in row {row} outside the scale "
            f"{low[col]:g}-{high[col]:g} (the scales= argument, else params/drivers.yaml "
            "rating_scale); rescale or drop them")
    category = None
    if target is not None:
        category = np.asarray(nps_module.classify(responses[target]).codes, dtype=np.int64)

    regions_of = responses.groupby(by, sort=True)["region"].nunique()
    if (regions_of > 1).any():
        raise GrowthDataError(f"{by} {list(regions_of.index[regions_of > 1][:5])} appear in "
                              "more than one region; each dealer must belong to one region")
    unit, uniques = pd.factorize(responses[by], sort=True)
    units = uniques.to_numpy()
    keys = [np.nan_to_num(ratings[:, j], nan=-1.0) for j in range(len(drivers))][::-1]
    if category is not None:
        keys.append(category)
    order = np.lexsort([*keys, unit])
    unit = unit[order]
    ratings = ratings[order]
    category = category[order] if category is not None else None
    region_col = responses["region"].astype(str).to_numpy()[order]
    size = np.bincount(unit, minlength=len(units))
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    unit_regions = region_col[start]
    regions, unit_region = np.unique(unit_regions, return_inverse=True)
    names = None
    if "dealer_name" in responses:
        names = responses["dealer_name"].astype(str).to_numpy()[order][start]
    observed = ~np.isnan(ratings)
    return _Data(units, unit_regions, regions, unit, unit_region, ratings, category, names,
                 start, size, observed.astype(float), np.where(observed, ratings, 0.0))


# --- dealer means and empirical Bayes --------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    """Per unit x driver (K x p): counts, means, variances and the shrunk means."""

    n: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    shrunk: np.ndarray
    region_mean: np.ndarray  # K x p: mu_r of each unit's region
    tau2: np.ndarray         # p
    sigma2: np.ndarray       # p


def _unit_stats(data: _Data, w: np.ndarray) -> _Stats:
    """Weighted dealer means and their empirical-Bayes shrinkage (module docstring).

    ``w`` are frequency weights: ones for the data, resampling counts in a bootstrap draw.
    Rows are grouped by unit, so per-unit sums are block sums (``np.add.reduceat``). The
    shrinkage is :func:`analysis.estimators.eb_shrink` over the rated unit x driver cells,
    one stratum per driver, toward the precision-weighted mean of the unit's region.
    """
    p = data.ratings.shape[1]
    n_regions = len(data.regions)
    wo = data.observed * w[:, None]

    def per_unit(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, data.start, axis=0)

    with np.errstate(invalid="ignore", divide="ignore"):
        n = per_unit(wo)
        wy = wo * data.filled
        total = per_unit(wy)
        has = n > 0
        mean = np.where(has, total / n, np.nan)
        # sums of squares from raw moments: ratings are small numbers, so the cancellation
        # costs nothing visible, and it saves a second pass per bootstrap draw
        squares = per_unit(wy * data.filled)
        ss = np.maximum(squares - np.where(has, total**2 / np.where(has, n, 1), 0), 0)
        var = np.where(n > 1, ss / (n - 1), np.nan)
    # the rated cells driver by driver, units in order within each (driver, region)
    driver, unit = np.nonzero(has.T)
    eb = eb_shrink(n[unit, driver], mean[unit, driver], ss[unit, driver],
                   parent=driver * n_regions + data.unit_region[unit],
                   parent_mean="precision_weighted", stratum=driver)
    shrunk = np.full(n.shape, np.nan)
    region_mean = np.full(n.shape, np.nan)
    shrunk[unit, driver] = eb.shrunk
    region_mean[unit, driver] = eb.target
    tau2 = np.full(p, np.nan)
    sigma2 = np.full(p, np.nan)
    rated = np.unique(driver)
    tau2[rated], sigma2[rated] = eb.tau2[rated], eb.sigma2[rated]
    return _Stats(n, mean, var, shrunk, region_mean, tau2, sigma2)


def rank_dealers_by_driver(
    responses: pd.DataFrame,
    *,
    drivers: Sequence[str] | None = None,
    by: str = "dealer_id",
    period: str | None = None,
    min_n: int | None = None,
    level: float | None = None,
    time_col: str = "responded_at",
    scales: Mapping[str, tuple[int, int]] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Rank dealers on every driver: mean with t-interval, shrunk mean, ranks.

    Parameters
    ----------
    responses
        One row per answer with ``by``, ``region`` (see :func:`analysis.store.with_region`)
        and the driver ratings (NaN where not rated).
    drivers
        Rating columns; None takes every driver of params/drivers.yaml.
    by
        The unit ranked, normally ``"dealer_id"``; each must belong to one region.
    period
        A pandas period alias ("M", "Q", "Y") to rank within each period of ``time_col``, or
        None for the whole frame.
    min_n
        Units with fewer ratings of a driver are flagged ``small_sample``; default from
        params/nps.yaml.
    level
        Confidence level of the t-interval; None takes ``settings.level``.
    scales
        ``{driver: (low, high)}``: the scale each driver was rated on
        (:func:`analysis.ingest.rating_scales`); ratings are checked and ranked in it.
        Default: params/drivers.yaml ``rating_scale`` for every driver.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml).

    Returns
    -------
    pandas.DataFrame
        Long: [``period``,] ``by``, ``region``, ``driver``, ``n``, ``mean``, ``low``,
        ``high``, ``shrunk``, ``rank_region``, ``rank_network``, ``small_sample``,
        ``region_mean``, ``rank_low``, ``rank_high``, ``p_top_quarter``,
        ``p_bottom_quarter``; sorted by driver and ``rank_network``. The ranks (1 = best)
        come from draws of every dealer's true mean from its normal posterior around
        ``shrunk``, the mean pulled toward ``region_mean`` by empirical Bayes (module
        docstring; variance ``w sigma^2 / n`` plus ``(1 - w)^2`` times the variance of the
        region mean), as for the NPS ranking (:func:`analysis.nps.rank_uncertainty`):
        ``rank_network`` is the median rank over the draws (two dealers may share it),
        always inside the rank interval ``rank_low``-``rank_high``; ``rank_region`` the
        dealer's place among its region's dealers in that order. Units without a rating of
        a driver have no row for it.
    """
    drivers = _resolve_drivers(drivers)
    min_n = load_params("nps")["min_n"] if min_n is None else min_n
    level = level_or(level, settings)
    if period is None:
        return _rank_frame(responses, drivers, by=by, min_n=min_n, level=level, scales=scales)
    require_columns(responses, [time_col], table="responses", error=GrowthDataError,
                    fix=f"period={period!r} needs it: name the time column with time_col=")
    periods = responses[time_col].dt.to_period(period)
    parts = [_rank_frame(part, drivers, by=by, min_n=min_n, level=level, scales=scales)
             .assign(period=key).loc[:, lambda d: ["period", *d.columns[:-1]]]
             for key, part in responses.groupby(periods, sort=True)]
    return pd.concat(parts, ignore_index=True)


def _rank_frame(responses: pd.DataFrame, drivers: list[str], *, by: str, min_n: int,
                level: float, scales: Mapping[str, tuple[int, int]] | None = None
                ) -> pd.DataFrame:
    data = _prepare(responses, drivers, by=by, target=None, scales=scales)
    st = _unit_stats(data, np.ones(len(data.unit)))
    low, high = t_interval(st.mean, st.var, st.n, level)
    k, p = st.n.shape
    post_sd = _posterior_sd(st, data.unit_region, len(data.regions))
    out = (pd.DataFrame({
        by: np.repeat(data.units, p),
        "region": np.repeat(data.unit_regions, p),
        "driver": pd.Categorical(np.tile(drivers, k), categories=drivers),
        "n": st.n.ravel().astype(np.int64),
        "mean": st.mean.ravel(),
        "low": low.ravel(),
        "high": high.ravel(),
        "shrunk": st.shrunk.ravel(),
        "region_mean": st.region_mean.ravel(),
        "_sd": post_sd.ravel(),
    })
        .loc[lambda d: d["n"] > 0]
        .assign(small_sample=lambda d: d["n"] < min_n)
        .sort_values(["driver", "shrunk", by], ascending=[True, False, True])
        .reset_index(drop=True))
    # drivers stay in the order given (the categories' order), as names
    out = out.assign(_driver=out["driver"].cat.codes, driver=out["driver"].astype(str))
    ranks = [nps_module.rank_uncertainty(part["shrunk"], part["_sd"]).set_axis(part.index)
             for _, part in out.groupby("driver", sort=False)]
    if ranks:
        out = out.join(pd.concat(ranks))
    else:
        out = out.assign(rank_median=pd.array([], dtype="Int64"),
                         rank_low=pd.array([], dtype="Int64"),
                         rank_high=pd.array([], dtype="Int64"), p_top_quarter=np.nan,
                         p_bottom_quarter=np.nan)
    # the rank shown is the median rank of the draws, so it lies inside its interval
    out = out.assign(rank_network=out["rank_median"])
    out = (out.assign(rank_region=pd.array(nps_module.ranks_within(
        out, ["driver", "region"], value="shrunk"), dtype="Int64"))
        .sort_values(["_driver", "rank_network", "shrunk", by],
                     ascending=[True, True, False, True])
        .reset_index(drop=True))
    return out[[by, "region", "driver", "n", "mean", "low", "high", "shrunk", "rank_region",
                "rank_network", "small_sample", "region_mean", "rank_low", "rank_high",
                "p_top_quarter", "p_bottom_quarter"]]


def _posterior_sd(st: _Stats, unit_region: np.ndarray, n_regions: int) -> np.ndarray:
    """Posterior SD of every unit x driver's true mean (K x p): ``w sigma^2 / n`` plus
    ``(1 - w)^2`` times the variance of its region's precision-weighted mean."""
    tau2, sigma2 = st.tau2[None, :], st.sigma2[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        noise = sigma2 / st.n
        w = np.where(tau2 + noise > 0, tau2 / (tau2 + noise), 1.0)
        precision = np.where(st.n > 0, 1.0 / (tau2 + noise), 0.0)
        per_region = np.stack([np.bincount(unit_region, weights=precision[:, j],
                                           minlength=n_regions)
                               for j in range(st.n.shape[1])], axis=1)
        region_var = np.where(per_region > 0, 1.0 / per_region, 0.0)[unit_region]
        var = w * noise + (1 - w) ** 2 * region_var
    return np.sqrt(np.where(np.isfinite(var), var, 0.0))


# --- the respondent-level model --------------------------------------------------------------


# Linear predictors are clipped here before exp: beyond it the probabilities are 0 or 1 in
# double precision anyway, and the clip keeps exp() from overflowing on a separated sample.
_ETA_MAX = 300.0


def _probabilities(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(detractor), P(promoter) (rows x 2) and log(1 + exp(eta_det) + exp(eta_pro)).

    The passive category's linear predictor is 0 (the reference).
    """
    e = np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
    denom = 1.0 + e[:, 0] + e[:, 1]
    return e / denom[:, None], np.log(denom)


def _net_score(eta: np.ndarray) -> np.ndarray:
    """P(promoter) - P(detractor) per row, from the (det, pro) linear predictors."""
    e = np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
    return (e[:, 1] - e[:, 0]) / (1.0 + e[:, 0] + e[:, 1])


def _start(w: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Starting coefficients (k x 2): no slopes, the intercepts of the category shares."""
    target = np.stack([y == _DETRACTOR, y == _PROMOTER], axis=1).astype(float)
    shares = (w @ target) / w.sum()
    passive = max(1.0 - shares.sum(), 1e-12)
    coef = np.zeros((k, 2))
    coef[0] = np.log(np.maximum(shares, 1e-12) / passive)
    return coef


def _fit_mnlogit(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, ridge: float, max_iter: int,
                 tol: float, start: np.ndarray | None = None) -> tuple[np.ndarray, int, bool]:
    """Penalised weighted multinomial logit by Newton's method with step halving.

    ``x`` holds an intercept column first; returns coefficients (k x 2: detractor, promoter
    against passive), iterations and whether the steps settled below ``tol``.
    """
    k = x.shape[1]
    target = np.stack([y == _DETRACTOR, y == _PROMOTER], axis=1).astype(float)
    penalty = np.full(k, float(ridge))
    penalty[0] = 0.0

    def evaluate(coef: np.ndarray) -> tuple[float, np.ndarray]:
        eta = x @ coef
        prob, lse = _probabilities(eta)
        value = float(w @ ((target * eta).sum(axis=1) - lse)
                      - 0.5 * (penalty[:, None] * coef**2).sum())
        return value, prob

    coef = _start(w, y, k) if start is None else start.copy()
    current, prob = evaluate(coef)
    for it in range(1, max_iter + 1):
        grad = x.T @ (w[:, None] * (target - prob)) - penalty[:, None] * coef
        hess = np.empty((2 * k, 2 * k))
        for a in range(2):
            for b in range(a, 2):
                cw = w * prob[:, a] * ((a == b) - prob[:, b])
                block = x.T @ (x * cw[:, None])
                hess[a * k:(a + 1) * k, b * k:(b + 1) * k] = block
                hess[b * k:(b + 1) * k, a * k:(a + 1) * k] = block.T
        hess += np.diag(np.concatenate([penalty, penalty]))
        try:
            step = np.linalg.solve(hess, grad.T.ravel()).reshape(2, k).T
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad.T.ravel(), rcond=None)[0].reshape(2, k).T
        scale = 1.0
        while True:  # step halving: Newton can overshoot far from the optimum
            candidate = coef + scale * step
            value, cand_prob = evaluate(candidate)
            if value >= current - 1e-12 * abs(current) or scale < 1e-6:
                break
            scale /= 2
        coef, current, prob = candidate, value, cand_prob
        if np.max(np.abs(scale * step)) < tol:
            return coef, it, True
    return coef, max_iter, False


class NPSLogit(BaseEstimator):
    """Multinomial logit of the NPS category (detractor, passive, promoter) on ratings.

    A scikit-learn estimator (``clone``, ``get_params``/``set_params``, pipelines):
    ``fit(X, y)`` takes ratings ``X`` (rows x features, complete cases) and 0-10 scores
    ``y``, of which the model sees only the category, and learns

    - ``intercept_`` (2,) and ``coef_`` (2 x features): log-odds of detractor (row 0) and
      promoter (row 1) against passive, per rating point;
    - ``n_iter_`` (Newton steps), ``converged_``, ``n_features_in_`` and, when ``X`` is a
      DataFrame with string column names, ``feature_names_in_``.

    Fitted by Newton's method with step halving; the slopes carry a ridge (the intercepts
    none), so a small sample that separates the categories still gives finite slopes. A
    category without answers has no finite log-odds: ``fit`` then warns
    (:class:`ConvergenceWarning`) and does not converge, but does not fail, because a
    bootstrap draw of a small sample can lose a rare category.

    Parameters
    ----------
    ridge, max_iter, tol
        Penalty on the slopes, Newton steps and the step size at which they stop; None takes
        params/growth.yaml.
    """

    def __init__(self, *, ridge: float | None = None, max_iter: int | None = None,
                 tol: float | None = None):
        self.ridge = ridge
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _options(self) -> dict:
        model = load_params("growth")["model"]
        return {"ridge": model["ridge"] if self.ridge is None else self.ridge,
                "max_iter": model["max_iter"] if self.max_iter is None else self.max_iter,
                "tol": model["tol"] if self.tol is None else self.tol}

    def _ratings(self, X, *, reset: bool, y=None):
        """``X`` (and ``y``) checked by scikit-learn; missing ratings named in our words."""
        if reset:
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False,
                                 y_numeric=True)
        else:
            X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        if not np.isfinite(X).all():
            raise GrowthDataError("ratings hold missing or infinite values (NaN, inf); the model "
                                  "needs complete cases (drop rows with NaN first)")
        return X, y

    def fit(self, X, y, sample_weight=None, *, coef_init=None, intercept_init=None
            ) -> NPSLogit:
        """Fit on ratings ``X`` (rows x features) and 0-10 scores ``y``.

        Parameters
        ----------
        sample_weight
            Frequency weights of the rows (non-negative, not all 0); None weighs each as 1.
        coef_init, intercept_init
            Starting values in the layout of ``coef_`` and ``intercept_`` (a warm start, e.g.
            from the full-data fit for a bootstrap refit); None starts from no slopes and
            the intercepts of the category shares.
        """
        X, y = self._ratings(X, reset=True, y=y)
        codes = np.asarray(nps_module.classify(y).codes, dtype=np.int64)
        if sample_weight is None:
            w = np.ones(len(codes))
        else:
            w = np.asarray(sample_weight, dtype=float)
            if w.shape != codes.shape:
                raise GrowthDataError(f"X has {len(X)} rows and sample_weight shape {w.shape}; "
                                      "give one weight per row")
            if (w < 0).any() or not np.isfinite(w).all():
                raise GrowthDataError("sample_weight must be finite and not negative")
            if not (w > 0).any():
                raise GrowthDataError("sample_weight is zero for every row: weigh some rows")
        present = np.bincount(codes, weights=w, minlength=3) > 0
        if not present.all():
            missing = [c for c, ok in zip(nps_module.CATEGORIES, present) if not ok]
            warnings.warn(f"no {missing} among the answers: their log-odds have no finite "
                          "estimate and the fit cannot converge; widen the period or the scope",
                          ConvergenceWarning, stacklevel=2)
        design = np.column_stack([np.ones(len(X)), X])
        start = None
        if coef_init is not None or intercept_init is not None:
            start = _start(w, codes, design.shape[1])
            if intercept_init is not None:
                start[0] = np.asarray(intercept_init, dtype=float)
            if coef_init is not None:
                start[1:] = np.asarray(coef_init, dtype=float).T
        coef, n_iter, converged = _fit_mnlogit(design, codes, w, start=start, **self._options())
        if not converged and present.all():
            warnings.warn(f"NPSLogit did not converge in {n_iter} steps; raise model.max_iter "
                          "in params/growth.yaml", ConvergenceWarning, stacklevel=2)
        self.intercept_ = coef[0].copy()
        self.coef_ = coef[1:].T.copy()
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self

    def _linear_predictor(self, X) -> np.ndarray:
        check_is_fitted(self)
        X, _ = self._ratings(X, reset=False)
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of detractor, passive and promoter (rows x 3)."""
        prob, _ = _probabilities(self._linear_predictor(X))
        return np.column_stack([prob[:, 0], 1.0 - prob.sum(axis=1), prob[:, 1]])

    def predict_nps(self, X, sample_weight=None) -> float:
        """Expected NPS of the rows, in points: 100 x mean of P(promoter) - P(detractor)."""
        net = _net_score(self._linear_predictor(X))
        w = np.ones(len(net)) if sample_weight is None else np.asarray(sample_weight, float)
        return float(100.0 * (w @ net) / w.sum())


# --- growth zones ----------------------------------------------------------------------------


def _benchmark(st: _Stats, kind: str, quantile: float) -> np.ndarray:
    """Benchmark per unit x driver (K x p)."""
    if kind == "region_mean":
        return st.region_mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a driver nobody rated: NaN
        top = np.nanquantile(st.shrunk, quantile, axis=0)
    return np.broadcast_to(top, st.shrunk.shape)


def _uplift(eta: np.ndarray, xc: np.ndarray, unit_c: np.ndarray, raise_by: np.ndarray,
            slopes: np.ndarray, w_c: np.ndarray, cap, n_units: int) -> np.ndarray:
    """NPS points gained per unit x driver by raising each driver on its own.

    ``raise_by`` is K x p (the gaps); ``slopes`` p x 2; rows are complete cases; ``cap`` the
    top of each driver's scale (p, or one number for all).
    """
    base = _net_score(eta)
    cap = np.broadcast_to(np.asarray(cap, dtype=float), (xc.shape[1],))
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.bincount(unit_c, weights=w_c, minlength=n_units)
        out = np.empty((n_units, xc.shape[1]))
        for j in range(xc.shape[1]):  # one vectorised pass per driver
            delta = np.minimum(xc[:, j] + raise_by[unit_c, j], cap[j]) - xc[:, j]
            gain = _net_score(eta + delta[:, None] * slopes[j]) - base
            out[:, j] = 100.0 * np.bincount(unit_c, weights=w_c * gain, minlength=n_units) / denom
    return out


def _joint_uplift(eta: np.ndarray, xc: np.ndarray, unit_c: np.ndarray, raise_by: np.ndarray,
                  slopes: np.ndarray, w_c: np.ndarray, cap, n_units: int) -> np.ndarray:
    """NPS points gained per unit by raising all drivers at once by ``raise_by`` (K x p);
    ``cap`` as in :func:`_uplift`."""
    delta = np.minimum(xc + raise_by[unit_c], np.asarray(cap, dtype=float)) - xc
    gain = _net_score(eta + delta @ slopes) - _net_score(eta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (np.bincount(unit_c, weights=w_c * gain, minlength=n_units)
                        / np.bincount(unit_c, weights=w_c, minlength=n_units))


def _stratified_counts(rng: np.random.Generator, data: _Data) -> np.ndarray:
    """Bootstrap counts of every row, resampling each unit's rows with replacement."""
    picks = data.start[data.unit] + (rng.random(len(data.unit)) * data.size[data.unit]).astype(
        np.int64)
    return np.bincount(picks, minlength=len(data.unit)).astype(float)


@dataclass(frozen=True, eq=False)
class GrowthResult:
    """Growth zones of every dealer: modelled NPS uplift of closing each driver's gap.

    Attributes
    ----------
    table
        One row per dealer x driver: ``dealer_id`` (the ``by`` column), ``region``,
        ``driver``, ``current`` (shrunk mean rating), ``benchmark``, ``gap``, ``uplift`` (NPS
        points associated with closing the gap), ``uplift_low``, ``uplift_high`` (percentile
        bootstrap interval), ``n`` (ratings of the driver), ``growth_zone`` (the gap test
        passes BH and the uplift interval lies above 0 and at or above ``min_uplift``),
        ``zone_rank`` (1 = the dealer's largest growth zone; missing
        for non-zones), ``own_mean`` (the dealer's own mean rating), ``gap_raw`` (benchmark
        minus own mean, not truncated), ``gap_se`` (its bootstrap SE), ``zone_p_value``
        (one-sided), ``zone_p_adj`` (Benjamini-Hochberg over all pairs) and
        ``assoc_uplift``, ``assoc_uplift_low``, ``assoc_uplift_high`` (the uplift under its
        honest name).
    dealers
        One row per dealer: ``dealer_id``, ``region``, ``dealer_name`` (when the responses had
        it), ``n``, ``promoters``, ``passives``, ``detractors``, ``nps``, ``nps_low``,
        ``nps_high`` (:func:`analysis.nps.nps_interval`), ``small_sample``, ``n_zones``,
        ``total_uplift`` and ``assoc_total_uplift`` (the same: NPS points associated with
        closing all growth zones at once).
    coefficients
        The multinomial logit: index ``intercept`` and the drivers, columns
        ``detractor``/``promoter`` (log-odds against passive, per rating point) and their
        bootstrap standard errors ``se_detractor``/``se_promoter``.
    uplift_draws
        Bootstrap draws of the uplift, shape (n_boot, dealers, drivers), or None.
    scales
        ``{driver: (low, high)}``: the scale each driver's ``current`` and ``benchmark`` are in.
    min_uplift
        NPS points the lower end of a growth zone's uplift interval reaches at least
        (params/growth.yaml when the model was fitted).
    """

    table: pd.DataFrame = field(repr=False)
    dealers: pd.DataFrame = field(repr=False)
    coefficients: pd.DataFrame = field(repr=False)
    target: str
    drivers: tuple[str, ...]
    by: str
    benchmark: str
    level: float
    n_boot: int
    n_fit: int
    n_dropped: int
    top_n: int
    max_zones: int
    nonconverged: int = 0
    uplift_draws: np.ndarray | None = field(default=None, repr=False)
    scales: dict[str, tuple[int, int]] = field(default_factory=dict)
    min_uplift: float = 0.0

    def passed(self, only=None) -> tuple[int, int]:
        """Dealers with a growth zone and dealers in the model: of every dealer, or of the
        dealers (``by`` values) in ``only``."""
        dealers = self.dealers if only is None else self.dealers.loc[
            self.dealers[self.by].isin(set(only))]
        return int((dealers["n_zones"] > 0).sum()), len(dealers)

    def top(self, n: int | None = None, *, max_zones: int | None = None) -> pd.DataFrame:
        """The ``n`` dealers with the most NPS associated with closing their zones, and the zones.

        Long: one row per dealer x growth zone (at most ``max_zones`` per dealer, by uplift):
        ``rank``, the ``by`` column, ``region``, ``total_uplift``, ``zone``, ``driver``,
        ``current``, ``benchmark``, ``gap``, ``uplift``, ``uplift_low``, ``uplift_high``,
        ``n``. Dealers without a growth zone are not listed.
        """
        n = self.top_n if n is None else n
        max_zones = self.max_zones if max_zones is None else max_zones
        leaders = (self.dealers.loc[lambda d: d["n_zones"] > 0]
                   .sort_values(["total_uplift", self.by], ascending=[False, True])
                   .head(n)
                   .assign(rank=lambda d: np.arange(1, len(d) + 1))
                   [[self.by, "rank", "total_uplift"]])
        zones = (self.table.loc[lambda d: d["growth_zone"] & (d["zone_rank"] <= max_zones)]
                 .rename(columns={"zone_rank": "zone"}))
        return (leaders.merge(zones, on=self.by, how="inner", validate="one_to_many")
                .sort_values(["rank", "zone"])
                .reset_index(drop=True)
                [["rank", self.by, "region", "total_uplift", "zone", "driver", "current",
                  "benchmark", "gap", "uplift", "uplift_low", "uplift_high", "n"]])

    def summary(self) -> str:
        """A readable text: model, sample, bootstrap and the TOP dealers with their zones."""
        kind = {"top_quartile": "the network's top quartile of dealer means",
                "region_mean": "the dealer's region mean"}[self.benchmark]
        lines = [
            f"Growth zones: modelled uplift of {self.target!r} (NPS points) from closing each "
            f"driver's gap to {kind}",
            f"{len(self.dealers)} dealers, {len(self.drivers)} drivers; multinomial logit on "
            f"{self.n_fit:,} complete answers ({self.n_dropped:,} with a missing rating left "
            "out of the fit)",
        ]
        if self.n_boot:
            lines.append(f"{self.level:.0%} percentile intervals from {self.n_boot} bootstrap "
                         "draws of answers within dealers"
                         + (f" ({self.nonconverged} refits stopped at max_iter)"
                            if self.nonconverged else ""))
        else:
            lines.append("n_boot=0: no intervals, so no growth zones are called")
        zones = int(self.table["growth_zone"].sum())
        passed, dealers = self.passed()
        lines.append(f"{zones} growth zones at {passed} of {dealers} dealers (the lower end of "
                     f"the uplift interval at least {self.min_uplift:g} NPS points)")
        coef = self.coefficients[["detractor", "promoter"]].round(3)
        lines += ["", "Model coefficients (log-odds against passive, per rating point):",
                  coef.to_string()]
        top = self.top()
        if not top.empty:
            shown = top.assign(
                zone_text=lambda d: d["driver"] + " " + d["uplift"].map("{:+.1f}".format) + " ["
                + d["uplift_low"].map("{:.1f}".format) + "; "
                + d["uplift_high"].map("{:.1f}".format) + "]")
            grouped = (shown.groupby(["rank", self.by, "region"], sort=True)
                       .agg(total=("total_uplift", "first"),
                            zones=("zone_text", lambda s: ", ".join(s))))
            grouped["total"] = grouped["total"].map("{:+.1f}".format)
            lines += ["", f"TOP {len(grouped)} dealers by NPS points associated with closing "
                      "their gaps:",
                      grouped.to_string()]
        return "\n".join(lines)


def growth_zones(
    responses: pd.DataFrame,
    *,
    drivers: Sequence[str] | None = None,
    target: str = "nps",
    top: int | None = None,
    benchmark: str | None = None,
    n_boot: int | None = None,
    random_state: int | np.random.Generator | None = None,
    by: str = "dealer_id",
    level: float | None = None,
    min_n: int | None = None,
    params: dict | None = None,
    n_jobs: int = 1,
    scales: Mapping[str, tuple[int, int]] | None = None,
    settings: Settings | None = None,
) -> GrowthResult:
    """Growth zones: for every dealer x driver, the modelled NPS uplift of closing its gap.

    The method is described in the module docstring.

    Parameters
    ----------
    responses
        One row per answer with ``by``, ``region`` (see :func:`analysis.store.with_region`),
        ``target`` (0-10) and the driver ratings (NaN where not rated).
    drivers
        Rating columns; None takes every driver of params/drivers.yaml.
    target
        The 0-10 recommendation score.
    top
        Dealers listed by :meth:`GrowthResult.top` by default (params/growth.yaml).
    benchmark
        ``"top_quartile"`` (the network's upper quartile of dealer shrunk means) or
        ``"region_mean"``; default from params/growth.yaml.
    n_boot
        Bootstrap draws for the intervals (params/growth.yaml); 0 gives no intervals and no
        growth zones.
    random_state
        Seed or Generator of the bootstrap.
    level, min_n
        Interval level (None: ``settings.level``) and small-sample threshold (None:
        params/nps.yaml).
    params
        The contents of params/growth.yaml (loaded when omitted).
    n_jobs
        Processes that share the bootstrap draws (the report batch fits the network's model
        once, on every core, before its reports start). The draws and every number are the
        same for any ``n_jobs``: each process starts from the generator's state at its
        first draw.
    scales
        ``{driver: (low, high)}``: the scale each driver was rated on
        (:func:`analysis.ingest.rating_scales`). Ratings are checked against their driver's
        scale and a raised rating stops at its top; current ratings and benchmarks stay in
        the driver's scale. Default: params/drivers.yaml ``rating_scale`` for every driver.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml): the level and
        the zone test's false discovery rate ``q`` (unless params/growth.yaml sets its own
        ``q``). The uplift's bootstrap draws stay params/growth.yaml's: they are the growth
        model's own, not the importance draws of ``settings.n_boot``.

    Returns
    -------
    GrowthResult
    """
    opts = _zone_options(drivers=drivers, target=target, top=top, benchmark=benchmark,
                         n_boot=n_boot, level=level, min_n=min_n, params=params, scales=scales,
                         settings=settings)
    data = _prepare(responses, list(opts.drivers), by=by, target=opts.target, scales=scales)
    fit = _fit_zones(data, opts, random_state, n_jobs=max(1, int(n_jobs)))
    return _zone_result(data, opts, fit, by=by)


@dataclass(frozen=True)
class _ZoneOptions:
    """The options of :func:`growth_zones`, every default resolved from params/*.yaml."""

    drivers: tuple[str, ...]
    target: str
    benchmark: str
    n_boot: int
    level: float
    min_n: int
    top: int
    max_zones: int
    min_uplift: float
    quantile: float      # the benchmark's quantile of dealer shrunk means
    q: float             # the false discovery rate of the zone test (settings.q)
    scales: tuple[tuple[int, int], ...]  # each driver's (low, high): ratings are in it
    model: dict          # NPSLogit's ridge, max_iter and tol

    @property
    def cap(self) -> np.ndarray:
        """Each driver's scale maximum: a raised rating stops there."""
        return np.array([high for _, high in self.scales], dtype=float)


def _zone_options(*, drivers, target, top, benchmark, n_boot, level, min_n,
                  params, scales=None, settings: Settings | None = None) -> _ZoneOptions:
    cfg = params_or("growth", params)
    s = settings_or(settings)
    drivers = _resolve_drivers(drivers)
    benchmark = cfg["benchmark"]["default"] if benchmark is None else benchmark
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {benchmark!r}")
    n_boot = int(cfg["bootstrap"]["n_boot"] if n_boot is None else n_boot)
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 or more, got {n_boot}")
    level = check_level(s.level if level is None else level)
    min_n = load_params("nps")["min_n"] if min_n is None else min_n
    top = cfg["top"] if top is None else top
    if target in drivers:
        raise GrowthDataError(f"the target {target!r} is also listed as a driver; remove it")
    min_uplift = float(cfg["min_uplift"])
    if not min_uplift >= 0:
        raise ValueError(f"min_uplift in params/growth.yaml must be 0 or more NPS points, got "
                         f"{cfg['min_uplift']!r}")
    return _ZoneOptions(
        drivers=tuple(drivers), target=target, benchmark=benchmark, n_boot=n_boot, level=level,
        min_n=min_n, top=int(top), max_zones=int(cfg["max_zones"]),
        min_uplift=min_uplift, quantile=cfg["benchmark"]["top_quantile"],
        q=float(cfg.get("q", s.q)),
        scales=tuple(_scale_pairs(drivers, scales)),
        model={key: cfg["model"][key] for key in ("ridge", "max_iter", "tol")})


@dataclass(frozen=True)
class _Patterns:
    """The complete answers as distinct patterns, with counts as weights.

    Many answers repeat a pattern of whole-number ratings: the model is fitted on the distinct
    (ratings, category) patterns with their counts as weights, and predictions run on the
    distinct (dealer, ratings) patterns; the sums are the same, the arrays 2-4 times shorter.
    """

    complete: np.ndarray   # n: the row has every rating
    fit_x: np.ndarray      # distinct (ratings, category): the ratings
    fit_score: np.ndarray  # ... and a 0-10 score of the category (NPSLogit takes scores)
    fit_of: np.ndarray     # complete row -> its fit pattern
    pred_x: np.ndarray     # distinct (dealer, ratings): the ratings
    pred_unit: np.ndarray  # ... and the dealer's code
    pred_of: np.ndarray    # complete row -> its prediction pattern

    @classmethod
    def of(cls, data: _Data) -> _Patterns:
        p = data.ratings.shape[1]
        complete = ~np.isnan(data.ratings).any(axis=1)
        yc = data.category[complete]
        n_cat = np.bincount(yc, minlength=3)
        if len(yc) <= 2 * (p + 1) or not (n_cat > 0).all():
            raise GrowthDataError(
                f"{len(yc)} complete answers with categories "
                f"{dict(zip(nps_module.CATEGORIES, n_cat.tolist()))}: the model of {p} drivers "
                f"needs more than {2 * (p + 1)} answers with detractors, passives and promoters "
                "among them; widen the period or the scope")
        fit_keys, fit_of = np.unique(np.column_stack([data.ratings[complete], yc]), axis=0,
                                     return_inverse=True)
        pred_keys, pred_of = np.unique(
            np.column_stack([data.unit[complete], data.ratings[complete]]), axis=0,
            return_inverse=True)
        return cls(complete, fit_keys[:, :p], _category_scores()[fit_keys[:, p].astype(np.int64)],
                   fit_of, pred_keys[:, 1:], pred_keys[:, 0].astype(np.int64), pred_of)

    def fit_weights(self, w: np.ndarray) -> np.ndarray:
        """Row weights summed to the fit patterns."""
        return np.bincount(self.fit_of, weights=w[self.complete], minlength=len(self.fit_x))

    def pred_weights(self, w: np.ndarray) -> np.ndarray:
        """Row weights summed to the prediction patterns."""
        return np.bincount(self.pred_of, weights=w[self.complete], minlength=len(self.pred_x))


def _category_scores() -> np.ndarray:
    """A 0-10 score of each NPS category code (0, 1, 2): the model sees only the category."""
    scale = load_params("nps")
    return np.array([scale["scale"]["min"], scale["detractor_max"] + 1, scale["scale"]["max"]])


def _coefficients(model: NPSLogit) -> np.ndarray:
    """The model's coefficients as one (1 + drivers) x 2 matrix, intercepts first."""
    return np.vstack([model.intercept_, model.coef_.T])


@dataclass(frozen=True)
class _ZoneFit:
    """The fitted model and the growth zones it implies, per unit x driver (K x p)."""

    stats: _Stats
    benchmark: np.ndarray
    gap: np.ndarray
    uplift: np.ndarray
    low: np.ndarray
    high: np.ndarray
    zone: np.ndarray
    joint: np.ndarray               # K: uplift of closing all of a unit's zones at once
    coef: np.ndarray                # (1 + p) x 2, intercepts first
    coef_draws: np.ndarray | None   # n_boot x (1 + p) x 2
    draws: np.ndarray | None        # n_boot x K x p
    nonconverged: int
    n_fit: int
    diff: np.ndarray                # benchmark - own mean, untruncated
    diff_se: np.ndarray             # its bootstrap standard error
    p_value: np.ndarray             # one-sided p of "below the benchmark"
    p_adj: np.ndarray               # Benjamini-Hochberg over every dealer x driver


def _fit_zones(data: _Data, opts: _ZoneOptions, random_state,
               n_jobs: int = 1) -> _ZoneFit:
    """Shrunk means, gaps, the model and the uplifts; their bootstrap draws and intervals."""
    k, p = len(data.units), len(opts.drivers)
    pat = _Patterns.of(data)
    pred_design = np.column_stack([np.ones(len(pat.pred_x)), pat.pred_x])

    ones = np.ones(len(data.unit))
    st = _unit_stats(data, ones)
    bench = _benchmark(st, opts.benchmark, opts.quantile)
    gap = np.maximum(bench - st.shrunk, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # said below in growth's words
        model = NPSLogit(**opts.model).fit(pat.fit_x, pat.fit_score,
                                           sample_weight=pat.fit_weights(ones))
    if not model.converged_:
        warnings.warn("the NPS model did not converge; raise model.max_iter in "
                      "params/growth.yaml", ConvergenceWarning, stacklevel=3)
    coef = _coefficients(model)
    pred_w = pat.pred_weights(ones)
    eta = pred_design @ coef
    uplift = _uplift(eta, pat.pred_x, pat.pred_unit, gap, coef[1:], pred_w, opts.cap, k)

    # the test's statistic: benchmark minus the dealer's own mean, not truncated at 0
    diff = bench - st.mean
    low = high = np.full((k, p), np.nan)
    diff_draws = None
    draws = None
    coef_draws = None
    nonconverged = 0
    if opts.n_boot:
        diff_draws, draws, coef_draws, nonconverged = _bootstrap(
            data, opts, pat, model, random_state, n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a dealer absent from a draw
            low, high = np.nanquantile(draws, [0.5 - opts.level / 2, 0.5 + opts.level / 2],
                                       axis=0)

    p_value, p_adj, flag, se = _gap_test(diff, diff_draws, opts.q)
    # both must hold: the dealer lies below the benchmark (the test, BH over every pair) and
    # closing the gap is associated with material NPS (the uplift interval above 0 and at or
    # above min_uplift: with natural spread most dealers lie truly below the top quartile
    # somewhere, and a TOP-20 of all of them would not choose)
    zone = flag & (low > 0) & (uplift > 0) & (low >= opts.min_uplift)
    joint = _joint_uplift(eta, pat.pred_x, pat.pred_unit, np.where(zone, gap, 0.0), coef[1:],
                          pred_w, opts.cap, k)
    return _ZoneFit(st, bench, gap, uplift, low, high, zone, joint, coef, coef_draws, draws,
                    nonconverged, int(pat.complete.sum()), diff, se, p_value, p_adj)


def _bootstrap(data: _Data, opts: _ZoneOptions, pat: _Patterns, model, random_state,
               n_jobs: int = 1):
    """The bootstrap draws of :func:`_fit_zones`: gap differences, uplifts, coefficients
    and the count of refits that did not converge, split over ``n_jobs`` processes."""
    import copy

    rng = np.random.default_rng(random_state)
    n_jobs = min(n_jobs, opts.n_boot)
    if n_jobs <= 1:
        return _draws(data, opts, pat, model, rng, 0, opts.n_boot)
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    bounds = np.linspace(0, opts.n_boot, n_jobs + 1).astype(int)
    # every other chunk starts from a copy of the generator at the first draw and skips to
    # its own, so the draws are those of one process
    chunks = [(copy.deepcopy(rng), int(a), int(b)) for a, b in zip(bounds[1:-1], bounds[2:],
                                                                   strict=True)]
    with ProcessPoolExecutor(n_jobs - 1, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(_draws, data, opts, pat, model, *chunk) for chunk in chunks]
        parts = [_draws(data, opts, pat, model, rng, 0, int(bounds[1])),
                 *(f.result() for f in futures)]
    for _ in range(int(bounds[1]), opts.n_boot):  # a caller's Generator ends where one
        _stratified_counts(rng, data)              # process would leave it
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]), sum(p[3] for p in parts))


def _draws(data: _Data, opts: _ZoneOptions, pat: _Patterns, model, rng: np.random.Generator,
           first: int, stop: int):
    """Draws ``first`` to ``stop`` of the bootstrap; ``rng`` is at draw 0."""
    k, p = len(data.units), len(opts.drivers)
    pred_design = np.column_stack([np.ones(len(pat.pred_x)), pat.pred_x])
    for _ in range(first):  # the generator as the draws before this chunk left it
        _stratified_counts(rng, data)
    n = stop - first
    draws = np.empty((n, k, p))
    diff_draws = np.empty((n, k, p))
    coef_draws = np.empty((n, 1 + p, 2))
    nonconverged = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted in nonconverged
        for b in range(n):  # one draw per pass; everything inside is vectorised
            w = _stratified_counts(rng, data)
            st_b = _unit_stats(data, w)
            bench_b = _benchmark(st_b, opts.benchmark, opts.quantile)
            diff_draws[b] = bench_b - st_b.mean
            gap_b = np.maximum(bench_b - st_b.shrunk, 0.0)
            fit_w = pat.fit_weights(w)
            keep = fit_w > 0
            # refitted from the full-data coefficients: 4 Newton steps instead of 8
            refit = clone(model).fit(pat.fit_x[keep], pat.fit_score[keep],
                                     sample_weight=fit_w[keep], coef_init=model.coef_,
                                     intercept_init=model.intercept_)
            nonconverged += not refit.converged_
            coef_b = coef_draws[b] = _coefficients(refit)
            pw = pat.pred_weights(w)
            used = pw > 0
            draws[b] = _uplift(pred_design[used] @ coef_b, pat.pred_x[used],
                               pat.pred_unit[used], gap_b, coef_b[1:], pw[used], opts.cap, k)
    return diff_draws, draws, coef_draws, nonconverged


def _gap_test(diff: np.ndarray, diff_draws: np.ndarray | None, q: float):
    """One-sided test that a dealer's driver lies below its benchmark, BH over all pairs.

    ``diff`` (K x p) is the benchmark minus the dealer's own mean rating, untruncated;
    ``diff_draws`` its bootstrap draws, in which the benchmark was recomputed too, so its
    standard error carries the doubt about the benchmark as well as about the dealer. The
    statistic ``diff / se`` is referred to the standard normal (H0: the dealer is at or above
    the benchmark): the bootstrap gives the standard error only, because percentile intervals
    of a quantile of noisy means, or of a difference truncated at 0, do not cover. The own
    mean, not the shrunk one, is tested: it is unbiased for the dealer's true mean, while
    the shrunk mean's bootstrap spread understates how far it may lie from it. Returns the
    one-sided p-values, their Benjamini-Hochberg adjustment over every tested pair, the flags
    ``p_adj <= q`` and the standard errors; NaN (no test) without draws.
    """
    from scipy import stats

    nan = np.full(diff.shape, np.nan)
    if diff_draws is None or len(diff_draws) < 2:
        return nan, nan, np.zeros(diff.shape, dtype=bool), nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a dealer absent from every draw
        se = np.nanstd(diff_draws, axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tested = np.isfinite(diff) & np.isfinite(se) & (se > 0)
        p_value = np.where(tested, stats.norm.sf(diff / np.where(tested, se, 1.0)), np.nan)
    p_adj, flag = bh_flags(p_value.ravel(), q=q)
    return p_value, p_adj.reshape(diff.shape), flag.reshape(diff.shape), se


def _zone_result(data: _Data, opts: _ZoneOptions, fit: _ZoneFit, *, by: str) -> GrowthResult:
    """The growth zones as frames: the dealer x driver table, the dealers, the coefficients."""
    k, p = len(data.units), len(opts.drivers)
    table = (pd.DataFrame({
        by: np.repeat(data.units, p),
        "region": np.repeat(data.unit_regions, p),
        "driver": np.tile(opts.drivers, k),
        "current": fit.stats.shrunk.ravel(),
        "benchmark": fit.benchmark.ravel(),
        "gap": fit.gap.ravel(),
        "uplift": fit.uplift.ravel(),
        "uplift_low": fit.low.ravel(),
        "uplift_high": fit.high.ravel(),
        "n": fit.stats.n.ravel().astype(np.int64),
        "growth_zone": fit.zone.ravel(),
    })
        .assign(zone_rank=lambda d: d["uplift"].where(d["growth_zone"])
                .groupby(d[by]).rank(ascending=False, method="first").astype("Int64"),
                own_mean=fit.stats.mean.ravel(),
                gap_raw=fit.diff.ravel(),
                gap_se=fit.diff_se.ravel(),
                zone_p_value=fit.p_value.ravel(),
                zone_p_adj=fit.p_adj.ravel(),
                assoc_uplift=fit.uplift.ravel(),
                assoc_uplift_low=fit.low.ravel(),
                assoc_uplift_high=fit.high.ravel())
        .reset_index(drop=True))

    counts = np.stack([np.bincount(data.unit, weights=(data.category == c).astype(float),
                                   minlength=k) for c in range(3)], axis=1)
    nps_low, nps_high = nps_module.nps_interval(counts[:, 2], counts[:, 1], counts[:, 0],
                                                level=opts.level)
    dealers = pd.DataFrame({
        by: data.units,
        "region": data.unit_regions,
        **({"dealer_name": data.names} if data.names is not None else {}),
        "n": data.size.astype(np.int64),
        "promoters": counts[:, 2].astype(np.int64),
        "passives": counts[:, 1].astype(np.int64),
        "detractors": counts[:, 0].astype(np.int64),
        "nps": nps_module.nps_from_counts(counts[:, 2], counts[:, 1], counts[:, 0]),
        "nps_low": nps_low,
        "nps_high": nps_high,
        "small_sample": data.size < opts.min_n,
        "n_zones": fit.zone.sum(axis=1).astype(np.int64),
        "total_uplift": np.where(fit.zone.any(axis=1), fit.joint, 0.0),
    })
    dealers["assoc_total_uplift"] = dealers["total_uplift"]
    se = (fit.coef_draws.std(axis=0, ddof=1) if fit.coef_draws is not None and opts.n_boot > 1
          else np.full(fit.coef.shape, np.nan))
    coefficients = pd.DataFrame(
        np.column_stack([fit.coef, se]), index=["intercept", *opts.drivers],
        columns=["detractor", "promoter", "se_detractor", "se_promoter"])
    return GrowthResult(table=table, dealers=dealers, coefficients=coefficients,
                        target=opts.target, drivers=opts.drivers, by=by,
                        benchmark=opts.benchmark, level=opts.level, n_boot=opts.n_boot,
                        n_fit=fit.n_fit, n_dropped=len(data.unit) - fit.n_fit, top_n=opts.top,
                        max_zones=opts.max_zones, nonconverged=fit.nonconverged,
                        uplift_draws=fit.draws,
                        scales=dict(zip(opts.drivers, opts.scales, strict=True)),
                        min_uplift=float(opts.min_uplift))

