"""The shared estimators: empirical-Bayes shrinkage, intervals, and the z of a level.

One implementation of each, for every statistics module that needs it: :mod:`analysis.nps`
and :mod:`analysis.growth` shrink with :func:`eb_shrink`; :mod:`analysis.cases` and
:mod:`analysis.incidents` give SLA compliance a :func:`wilson_interval`; :mod:`analysis.nps`
builds its intervals and tests on :func:`nps_estimate` and :func:`nps_wald_interval`;
:mod:`analysis.nps`, :mod:`analysis.css`, :mod:`analysis.growth` and :mod:`analysis.actions`
turn a confidence level into a quantile with :func:`check_level`, :func:`z_value`,
:func:`t_value` and :func:`t_interval`. Options that come from params/*.yaml (the level, the
NPS pseudo-counts) are resolved by the caller and passed in: nothing here reads a file.

Empirical-Bayes shrinkage (:func:`eb_shrink`)
---------------------------------------------
Groups ``g`` (dealers) are nested in parents ``P`` (regions). A group's true mean is drawn
around its parent's with between-group variance ``tau^2``; its observed mean ``ybar_g`` of
``n_g`` answers around the true mean with variance ``sigma^2 / n_g``. Both variances are
estimated by the method of moments of the unbalanced nested one-way ANOVA (Searle, Casella
& McCulloch 1992, ch. 3), one pair per stratum (a touchpoint, a driver):

- ``MSW = sum_g SS_g / (N - G)`` estimates ``sigma^2`` (``SS_g`` the group's sum of squared
  deviations from its mean);
- ``MSB = sum_g n_g (ybar_g - ybar_P)^2 / (G - P)``, with ``ybar_P`` the parent's pooled
  (answer-weighted) mean, has expectation ``sigma^2 + n0 tau^2`` with
  ``n0 = (N - sum_g n_g^2 / N_P(g)) / (G - P)``;
- ``tau^2 = max(0, (MSB - MSW) / n0)``;
- the weight of a group's own mean is ``w_g = tau^2 / (tau^2 + MSW / n_g)`` and the shrunk
  mean ``w_g * ybar_g + (1 - w_g) * m_P``, where ``m_P`` is the parent mean chosen by the
  caller (``parent_mean``, see :func:`eb_shrink`).

Without siblings to compare (every parent holds one group: ``G = P``) there is no evidence of
a spread between groups, so ``tau^2 = 0``; without replicate answers (``N = G``) there is no
estimate of the noise, so ``MSW = 0``; where both are 0 a group keeps its own mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PARENT_MEANS", "bh_adjust", "bh_flags", "check_level", "eb_shrink", "joint_flags",
           "nps_estimate", "nps_wald_interval", "Shrinkage", "t_interval", "t_value",
           "two_sided_p", "two_sided_t_p", "wilson_interval", "z_value"]

PARENT_MEANS = ("pooled", "precision_weighted")


# --- levels and quantiles --------------------------------------------------------------------


def check_level(level: float) -> float:
    """The confidence level as a float; ValueError unless it lies strictly between 0 and 1."""
    if not 0 < level < 1:
        raise ValueError(f"level must be a confidence level between 0 and 1, got {level!r}")
    return float(level)


def z_value(level: float) -> float:
    """Two-sided standard-normal quantile of a confidence level (1.959964 at 0.95)."""
    return float(stats.norm.ppf(0.5 + level / 2))


def two_sided_p(z):
    """Two-sided p-value of standard-normal statistics ``z`` (vectorised; NaN stays NaN)."""
    return 2.0 * stats.norm.sf(np.abs(z))


def t_value(level: float, df) -> np.ndarray:
    """Two-sided Student-t quantiles of a confidence level at ``df`` degrees of freedom
    (vectorised; NaN where ``df`` is NaN or below 1)."""
    df = np.asarray(df, dtype="float64")
    with np.errstate(invalid="ignore"):
        return stats.t.ppf(0.5 + level / 2, np.where(df >= 1, df, np.nan))


def two_sided_t_p(t, df) -> np.ndarray:
    """Two-sided p-values of Student-t statistics ``t`` at ``df`` degrees of freedom
    (vectorised; NaN where either is NaN or ``df`` is below 1)."""
    df = np.asarray(df, dtype="float64")
    with np.errstate(invalid="ignore"):
        return 2.0 * stats.t.sf(np.abs(t), np.where(df >= 1, df, np.nan))


def t_interval(mean: np.ndarray, var: np.ndarray, n: np.ndarray,
               level: float) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval of means: ``mean +- t(n - 1) * sqrt(var / n)``; NaN where n <= 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, np.where(n > 1, n - 1, np.nan)) * np.sqrt(var / n)
    return mean - half, mean + half


# --- multiplicity ----------------------------------------------------------------------------


def bh_adjust(p_values, *, groups=None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (statsmodels' ``fdr_bh``), NaN kept as NaN.

    Parameters
    ----------
    p_values
        Raw p-values of one family of tests (a report table's stars); NaN (no test) is left
        out of the family and stays NaN.
    groups
        Optional labels of the same length: each distinct label is its own family (e.g. the
        months of a summary table, each month a table of the report).
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    if groups is None:
        families = [np.arange(len(p))]
    else:
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        order = np.argsort(codes, kind="stable")
        families = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    for rows in families:
        rows = rows[np.isfinite(p[rows])]
        if len(rows):
            out[rows] = multipletests(np.clip(p[rows], 0.0, 1.0), method="fdr_bh")[1]
    return out


def bh_flags(p_values, *, q: float, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """BH-adjusted p-values and the flags ``adjusted <= q`` (False where there is no test)."""
    if not 0 < q < 1:
        raise ValueError(f"q must be a false discovery rate between 0 and 1, got {q!r}")
    adjusted = bh_adjust(p_values, groups=groups)
    with np.errstate(invalid="ignore"):
        return adjusted, np.where(np.isnan(adjusted), False, adjusted <= q)


def joint_flags(p_values: Mapping[str, object], *, q: float
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Benjamini-Hochberg over several tables' p-values as one family (a whole report).

    ``p_values`` maps a table's name to its raw p-values; returns, per name, the adjusted
    p-values and flags of that table's tests within the joint family. A report that stars
    tests of several tables at one false discovery rate uses this instead of each table's
    own ``*_flag``: with BH per table the false stars add up over the tables.
    """
    names = list(p_values)
    arrays = [np.asarray(p_values[k], dtype=float).ravel() for k in names]
    adjusted, flags = bh_flags(np.concatenate(arrays) if arrays else np.zeros(0), q=q)
    edges = np.cumsum([0, *[len(a) for a in arrays]])
    return {k: (adjusted[lo:hi], flags[lo:hi])
            for k, lo, hi in zip(names, edges[:-1], edges[1:], strict=True)}


# --- intervals of proportions ----------------------------------------------------------------


def wilson_interval(successes, trials, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, vectorised; NaN where there are no trials."""
    # statsmodels costs half a second to import; only the operations reports need it
    from statsmodels.stats.proportion import proportion_confint

    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(k, safe, alpha=1 - level, method="wilson")
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def nps_estimate(promoters, passives, detractors, *,
                 pseudo_counts: Mapping[str, float] | None = None):
    """Estimate and variance of the NPS as a proportion difference (units of 1, not points).

    Every answer is +1, 0 or -1; with proportions ``p_pro`` and ``p_det`` the estimate is
    ``p_pro - p_det`` and its variance ``((p_pro + p_det) - (p_pro - p_det)**2) / n``.
    ``pseudo_counts`` (keys ``promoters``, ``passives``, ``detractors``) are added to the
    counts first: the adjusted Wald interval (Rocks 2016) adds 3/4, 3/2 and 3/4; None gives
    the plain Wald estimate. Vectorised; NaN where there are no answers.
    """
    pro, pas, det = (np.asarray(x, dtype=float) for x in (promoters, passives, detractors))
    if (pro < 0).any() or (pas < 0).any() or (det < 0).any():
        raise ValueError("counts of promoters, passives and detractors must not be negative")
    empty = (pro + pas + det) <= 0
    if pseudo_counts is not None:
        pseudo = pseudo_counts
        pro, pas, det = (pro + pseudo["promoters"], pas + pseudo["passives"],
                         det + pseudo["detractors"])
    n = pro + pas + det
    with np.errstate(invalid="ignore", divide="ignore"):
        p_pro, p_det = pro / n, det / n
        est = p_pro - p_det
        var = np.maximum(p_pro + p_det - est**2, 0.0) / n
    return np.where(empty, np.nan, est), np.where(empty, np.nan, var)


def _unwrap(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


def nps_wald_interval(promoters, passives, detractors, *, level: float = 0.95,
                      pseudo_counts: Mapping[str, float] | None = None):
    """Wald interval of the NPS in points, clipped to [-100, 100]; adjusted with pseudo-counts.

    ``pseudo_counts`` as in :func:`nps_estimate` (None: plain Wald). The adjusted interval is
    centred on the adjusted estimate. Floats for scalar counts, arrays otherwise; NaN where
    there are no answers.
    """
    z = z_value(check_level(level))
    est, var = nps_estimate(promoters, passives, detractors, pseudo_counts=pseudo_counts)
    half = z * np.sqrt(var)
    low = np.clip(100.0 * (est - half), -100.0, 100.0)
    high = np.clip(100.0 * (est + half), -100.0, 100.0)
    return _unwrap(low), _unwrap(high)


# --- empirical-Bayes shrinkage ---------------------------------------------------------------


@dataclass(frozen=True)
class Shrinkage:
    """What :func:`eb_shrink` estimated: per group, and per stratum.

    Attributes
    ----------
    shrunk
        Per group: ``weight * mean + (1 - weight) * target``.
    target
        Per group: the parent mean it was pulled toward (``parent_mean`` of :func:`eb_shrink`).
    weight
        Per group: the weight of its own mean, ``tau^2 / (tau^2 + sigma^2 / n)``.
    tau2, sigma2
        Per stratum: the between-group variance (0 where it cannot be estimated) and the
        pooled within-group variance MSW (0 without replicate answers).
    """

    shrunk: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    tau2: np.ndarray
    sigma2: np.ndarray


def eb_shrink(
    n,
    mean,
    within_ss,
    *,
    parent,
    parent_mean="pooled",
    stratum=None,
) -> Shrinkage:
    """Normal-normal empirical-Bayes shrinkage of group means toward a parent mean.

    The method of moments of the nested one-way ANOVA (module docstring) estimates
    ``tau^2`` and ``sigma^2`` per stratum; each group's mean then moves toward its parent's
    mean ``m_P`` by ``1 - tau^2 / (tau^2 + sigma^2 / n_g)``. Vectorised over the groups: one
    pass of ``np.bincount`` per sum, no loop over groups or strata.

    Parameters
    ----------
    n
        Answers per group (frequency weights allowed, e.g. bootstrap counts); all > 0.
    mean
        Each group's mean.
    within_ss
        Each group's sum of squared deviations of its answers from its mean.
    parent
        Integer id (0..P-1) of each group's parent. A parent's groups lie in one stratum.
    parent_mean
        The parent mean ``m_P`` that groups shrink toward:

        ``"pooled"``
            the parent's answer-weighted mean ``sum_g n_g ybar_g / N_P``, the centre of MSB.
        ``"precision_weighted"``
            ``sum_g v_g ybar_g / sum_g v_g`` with ``v_g = 1 / (tau^2 + sigma^2 / n_g)``: the
            generalised-least-squares estimate of a fixed parent effect (the pooled mean when
            ``tau^2 = 0``). :mod:`analysis.growth` uses it: a dealer's mean rating of a
            driver shrinks toward its region's mean, regions are fixed effects (a region
            holds too few dealers for a spread of its own), and the region's level is best
            estimated by weighting its dealers by their precision. That target is the
            ``region_mean`` of the ranking and the ``region_mean`` benchmark.
        array of one value per parent id
            a parent mean the caller estimated. :mod:`analysis.nps` passes the parent's own
            shrunk NPS and walks its hierarchy from the top: the network's NPS of a period
            (pooled), each region shrunk toward it, each dealer toward its region's shrunk
            NPS. A region with few answers thus does not pass its luck on to its dealers,
            and every level stays consistent with the one above it, which is the number
            the report shows.

        In both callers ``tau^2`` is measured around the pooled parent mean.
    stratum
        Integer id (0..S-1) of each group's stratum: one ``tau^2`` and ``sigma^2`` per
        stratum (a touchpoint in :mod:`analysis.nps`, a driver in :mod:`analysis.growth`).
        None: one stratum.

    Returns
    -------
    Shrinkage
    """
    n = np.asarray(n, dtype=float)
    mean = np.asarray(mean, dtype=float)
    within_ss = np.asarray(within_ss, dtype=float)
    parent = np.asarray(parent, dtype=np.int64)
    stratum = (np.zeros(len(n), dtype=np.int64) if stratum is None
               else np.asarray(stratum, dtype=np.int64))
    if isinstance(parent_mean, str) and parent_mean not in PARENT_MEANS:
        raise ValueError(f"parent_mean must be one of {PARENT_MEANS} or an array of one value "
                         f"per parent, got {parent_mean!r}")
    if len(n) == 0:
        empty = np.zeros(0)
        return Shrinkage(empty, empty, empty, empty, empty)
    n_parents = int(parent.max()) + 1
    n_strata = int(stratum.max()) + 1

    def per_parent(values):
        return np.bincount(parent, weights=values, minlength=n_parents)

    def per_stratum(values):
        return np.bincount(stratum, weights=values, minlength=n_strata)

    n_parent = per_parent(n)[parent]
    with np.errstate(invalid="ignore", divide="ignore"):  # parent ids without groups: NaN
        pooled = per_parent(n * mean) / per_parent(n)
    big_n = per_stratum(n)
    groups = per_stratum(np.ones_like(n))
    # a parent's groups lie in one stratum, so counting each parent id once per stratum
    # counts the stratum's parents
    first = np.zeros(len(parent), dtype=bool)
    first[np.unique(parent, return_index=True)[1]] = True
    parents = per_stratum(first.astype(float))
    ssb = per_stratum(n * (mean - pooled[parent]) ** 2)
    ssw = per_stratum(within_ss)
    df_b, df_w = groups - parents, big_n - groups
    n0 = per_stratum(n - n**2 / n_parent)
    with np.errstate(invalid="ignore", divide="ignore"):
        msw = np.where(df_w > 0, ssw / df_w, np.nan)
        msb = np.where(df_b > 0, ssb / df_b, np.nan)
        tau2 = np.maximum((msb - msw) / (n0 / df_b), 0.0)
    # no siblings to compare (one dealer in its region) or no replicate answers: no evidence
    # of between-group spread, so the group takes its parent's value
    tau2 = np.where(np.isfinite(tau2), tau2, 0.0)
    msw = np.where(np.isfinite(msw), msw, 0.0)
    noise = msw[stratum] / n
    denominator = tau2[stratum] + noise
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(denominator > 0, tau2[stratum] / denominator, 1.0)
    if isinstance(parent_mean, str) and parent_mean == "pooled":
        target = pooled[parent]
    elif isinstance(parent_mean, str):
        # the precision weights need tau^2 > 0; at tau^2 = 0 they reduce to the counts n_g
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tau2[stratum] > 0, 1.0 / denominator, n)
            target = (per_parent(precision * mean) / per_parent(precision))[parent]
    else:
        values = np.asarray(parent_mean, dtype=float)
        if values.shape != (n_parents,):
            raise ValueError(f"parent_mean holds {values.shape} values; give one per parent "
                             f"id ({n_parents})")
        target = values[parent]
    shrunk = weight * mean + (1 - weight) * target
    return Shrinkage(shrunk, target, weight, tau2, msw)
