"""Net Promoter Score: intervals, significance, shrinkage, rankings.

NPS = % promoters (9-10) - % detractors (0-6), in points from -100 to +100. The cut-offs, the
confidence level, the small-sample threshold and the interval's pseudo-counts come from
params/nps.yaml. Classifying scores and counting them per group and period is
:mod:`analysis.counting`'s (its public names are importable from here too).

Statistics in this module
-------------------------
Interval
    Every answer is +100 (promoter), 0 (passive) or -100 (detractor); the NPS is their mean.
    With proportions ``p_pro`` and ``p_det`` the variance of one answer (in units of 1) is
    ``(p_pro + p_det) - (p_pro - p_det)**2`` and the NPS's variance is that over ``n``. The
    Wald interval uses the observed proportions; the adjusted Wald interval (the default;
    Rocks 2016, MeasuringU) first adds 3/4 promoter, 3/2 passive and 3/4 detractor
    pseudo-counts. The adjusted interval is centred on the adjusted estimate, so for tiny
    groups (n = 1) it may not contain the raw NPS; from n = 2 it does at the 95 % level.
Change
    Two independent groups (this month vs the previous one, a dealer vs the rest of its
    region): the reported difference is that of the raw scores; z is the difference of the
    adjusted estimates over the square root of the sum of their variances (unpooled, as in
    Rocks' ``nps_test``), the p-value two-sided. Interval and test use the same estimate and
    standard error, so "significant" and "interval excludes 0" always agree.
Shrinkage
    Normal-normal empirical Bayes on the per-answer scores: a group's true NPS is drawn
    around its parent's (dealer -> region -> network) with between-group variance tau^2,
    estimated by the method of moments of the unbalanced nested ANOVA (Searle, Casella &
    McCulloch 1992, ch. 3), separately per stratum (each value of the non-hierarchy keys
    such as touchpoint), pooled over periods: the spread between dealers is stable from
    month to month while one month may hold only a few regions. Each period keeps its own
    parent mean. The within-group variance ``s^2`` is pooled over the finest groups of the
    stratum, so a group of 3 all-promoter answers does not claim zero noise.

    At the finest level ``tau^2 = max(0, (SS - df s^2) / c)`` with ``SS = sum_g n_g (nps_g
    - nps_parent)^2``, ``df = G - P`` and ``c = N - sum_g n_g^2 / N_parent(g)``: the
    one-way estimator of :func:`analysis.estimators.eb_shrink` (``c = n0 (G - P)``). A level
    above (regions, when dealers are summarised) is a parent whose own true NPS is
    uncertain twice over: its answers are noisy and its dealers are a few draws of their
    spread. So its SS also holds its dealers' tau^2 (times ``sum_g n_g^2 (1 / N_region -
    1 / N_network)``), which its tau^2 must not count again, and its own estimate is the
    mean of its dealers' NPS weighted by their precision ``1 / (tau_dealer^2 + s^2 / n_g)``,
    with variance ``1 / sum(precision)``. Without this a region's tau^2 took in its
    dealers' spread (about tau_dealer^2 over its number of dealers) and its NPS looked
    known to within its answers' noise: dealers were pulled toward a region value that
    held their own luck, too little, and their posterior SDs were too small; the
    ``p_top_quarter`` of 0.8-0.95 came true for 0.77 of the dealers
    (benchmarks/bench_ranks.py). The top level (the network of a period) keeps its pooled
    NPS, the number the report shows.

    The shrunk value is ``w * own + (1 - w) * parent_shrunk`` with ``w = tau^2 / (tau^2 +
    v)``, ``own`` the unit's own estimate and ``v`` its variance (``s^2 / n`` for a dealer).
    Its posterior variance is ``w v + (1 - w)^2 parent_var`` plus ``(own -
    parent_shrunk)^2 var(w)``, the first-order doubt about the shrinkage factor from
    tau^2's sampling variance (SS taken as a scaled chi-square on df; Kass & Steffey
    1989). Pooled over a year of months that doubt is small (0.3 % of a dealer's variance
    in the benchmark); it matters where few groups estimate tau^2. Normal-normal rather
    than Dirichlet-multinomial because the NPS is a mean of three-valued scores and its
    moments are all the shrinkage needs; the moment estimator has a closed form, so it runs
    on millions of groups without an optimiser.
Flags
    A report stars many tests at once (about 190 a regional report): at a raw p < 0.05 the
    shuffled demo carried ten false stars a report. Every table's tests are one family:
    ``change_p_adj``/``change_flag`` and ``vs_region_p_adj``/``vs_region_flag`` are
    Benjamini-Hochberg adjusted at ``q`` of params/flags.yaml, the raw p-values stay beside
    them. A report that pools its tables into one family uses
    :func:`analysis.estimators.joint_flags`; ``python -m analysis calibrate`` measures both.
Rank uncertainty
    :func:`rank_dealers` ranks dealers by their median rank over draws of their posteriors,
    with a 90 % rank interval and the probabilities of the top and bottom quarter
    (:func:`rank_uncertainty`): a dealer's rank in one month is seldom known to within a
    few places. A month's posterior also reads the dealer's own earlier months
    (:func:`_history_prior`, ``ranks.history_months`` of params/flags.yaml): a lasting level
    per dealer around its region's, and each month's true NPS around that level with a
    between-month variance estimated by moments across dealers, so a dealer whose level has
    held for a year is known far better than one month's 100 answers allow. Measured on
    networks of the demo's size (benchmarks/bench_ranks.py, 800 networks, 12 months):
    p_top_quarter and p_bottom_quarter come true within 0.05 of what they state in every bin
    (0.84 where p_top_quarter states 0.88); the interval holds the true rank of 0.90 of the
    dealers and of 0.92 of the planted weak ones (0.92 and 0.87 from the month alone, when
    p_bottom_quarter of 0.8-0.95 came true 0.93 for a stated 0.87). That weak fifth, some 15
    points down, is not the normal spread the shrinkage assumes, so one month alone pulls
    its dealers up too far; with the true distribution of dealers as the prior one month's
    answers would cover 0.86 of them, each dealer's 12 months pooled 0.89.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.config import load_params, params_or
from analysis.counting import (
    CATEGORIES,
    CountedGroups,
    as_period,
    category_codes,
    classify,
    count_categories,
    count_groups,
    groups_from_counts,
    nps_from_counts,
    score_cutoffs,
    validate_scores,
)
from analysis.errors import require_columns
from analysis.estimators import (
    bh_flags,
    check_level,
    nps_estimate,
    nps_wald_interval,
    two_sided_p,
    z_value,
)
from analysis.regions import with_region
from analysis.settings import Settings, settings_or, significant

__all__ = [
    "CATEGORIES",
    "METHODS",
    "NPSComparison",
    "NPSCounts",
    "classify",
    "compare",
    "count_categories",
    "count_keys",
    "flag_params",
    "flag_q",
    "nps",
    "nps_from_counts",
    "nps_interval",
    "rank_dealers",
    "rank_dealers_from_counts",
    "rank_uncertainty",
    "ranks_within",
    "summarize",
    "summarize_counts",
    "summarize_weighted",
    "summarize_weighted_counts",
    "score_cutoffs",
    "validate_scores",
    "within_sum_of_squares",
]

METHODS = ("wald", "adjusted_wald")



class NPSCounts(NamedTuple):
    """Counts of one group: pass it to :func:`compare` instead of raw scores."""

    promoters: float
    passives: float
    detractors: float


def _level(level: float | None, p: dict) -> float:
    """``level``, else the one of ``p`` (:func:`_params`' result)."""
    return check_level(p["level"] if level is None else level)


def _params(params: dict | None, settings: Settings | None) -> dict:
    """The NPS params a function reads, carrying the run's decisions: the confidence level,
    q, the ranks' level and the vs-region window of ``settings`` (None: the params', decided
    once, :func:`analysis.settings.settings_or`). An explicit ``params`` dict without
    ``settings`` (tests, alternative networks) is read as it is."""
    if params is not None and settings is None:
        return params
    s = settings_or(settings)
    flags = flag_params(params)
    return dict(params_or("nps", params), level=s.level, flags=dict(
        flags, q=s.q, ranks=dict(flags["ranks"], level=s.rank_level),
        vs_region=dict(flags.get("vs_region") or {}, months=s.vs_region_months)))


def flag_params(params: dict | None = None) -> dict:
    """The multiplicity rule and rank settings: ``params["flags"]`` when the NPS params carry
    them (tests, alternative networks), else params/flags.yaml."""
    if params is not None and "flags" in params:
        return params["flags"]
    return load_params("flags")


def flag_q(params: dict | None = None) -> float:
    """The Benjamini-Hochberg false discovery rate per family of flags (params/flags.yaml)."""
    return float(flag_params(params)["q"])


def nps(scores, *, params: dict | None = None) -> float:
    """NPS of a set of 0-10 scores, in points (-100..100); NaN for an empty set."""
    counts = np.bincount(category_codes(scores, params=params), minlength=3)
    return nps_from_counts(counts[2], counts[1], counts[0])


# --- intervals and tests -----------------------------------------------------------------


def _pseudo_counts(method: str, params: dict | None) -> dict | None:
    """The pseudo-counts of ``method``: params/nps.yaml's for the adjusted Wald, none for Wald."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "adjusted_wald":
        return params_or("nps", params)["interval"]["adjusted_wald_pseudo_counts"]
    return None


def nps_interval(
    promoters,
    passives,
    detractors,
    *,
    level: float | None = None,
    method: str = "adjusted_wald",
    params: dict | None = None,
    settings: Settings | None = None,
):
    """Confidence interval of the NPS in points, clipped to [-100, 100]. Vectorised.

    Parameters
    ----------
    promoters, passives, detractors
        Counts (scalars or arrays of one shape).
    level
        Confidence level; None takes ``level`` from params/nps.yaml (0.95).
    method
        ``"adjusted_wald"`` (pseudo-counts from params/nps.yaml, Rocks 2016) or ``"wald"``.

    Returns
    -------
    (low, high)
        Floats for scalar counts, arrays otherwise; NaN where there are no answers.
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    return nps_wald_interval(promoters, passives, detractors, level=lvl,
                             pseudo_counts=_pseudo_counts(method, params))


def _difference(a, b, *, z: float, method: str, params: dict | None):
    """Vectorised two-sample test of NPS(a) - NPS(b); ``a`` and ``b`` are (pro, pas, det)."""
    pseudo = _pseudo_counts(method, params)
    est_a, var_a = nps_estimate(*a, pseudo_counts=pseudo)
    est_b, var_b = nps_estimate(*b, pseudo_counts=pseudo)
    diff = nps_from_counts(*a) - nps_from_counts(*b)
    delta = est_a - est_b
    se = np.sqrt(var_a + var_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        # se is 0 only for Wald on two unanimous groups: equal ones differ by nothing at all
        zstat = np.where(se > 0, delta / np.where(se > 0, se, 1.0),
                         np.where(delta == 0, 0.0, np.sign(delta) * np.inf))
    p_value = np.where(np.isnan(zstat), np.nan, two_sided_p(zstat))
    low = np.clip(100.0 * (delta - z * se), -200.0, 200.0)
    high = np.clip(100.0 * (delta + z * se), -200.0, 200.0)
    return diff, low, high, zstat, p_value


@dataclass(frozen=True)
class NPSComparison:
    """NPS of group a minus NPS of group b, with its interval and two-sided z test."""

    nps_a: float
    nps_b: float
    n_a: int
    n_b: int
    difference: float
    low: float
    high: float
    z: float
    p_value: float
    level: float
    method: str

    @property
    def significant(self) -> bool:
        """Whether the p-value is below 1 - level (the interval then excludes 0):
        :func:`analysis.settings.significant`, the one decision on a p-value alone."""
        return bool(significant(self.p_value, self.level))

    def to_frame(self) -> pd.DataFrame:
        """The comparison as a one-row frame."""
        return pd.DataFrame([{**self.__dict__, "significant": self.significant}])

    def summary(self) -> str:
        """A short text: both scores, the difference, its interval and the p-value."""
        verdict = "significant" if self.significant else "not significant"
        return (
            f"NPS a = {self.nps_a:+.1f} (n = {self.n_a}), NPS b = {self.nps_b:+.1f} "
            f"(n = {self.n_b})\n"
            f"difference a - b = {self.difference:+.1f} points, {self.level:.0%} interval "
            f"[{self.low:+.1f}, {self.high:+.1f}] ({self.method})\n"
            f"z = {self.z:.2f}, two-sided p = {self.p_value:.4f}: {verdict} at "
            f"{1 - self.level:.0%}"
        )


def _as_counts(x, params: dict | None) -> tuple[float, float, float]:
    names = ("promoters", "passives", "detractors")
    if isinstance(x, NPSCounts):
        return tuple(float(v) for v in x)
    if isinstance(x, Mapping) or (isinstance(x, pd.Series) and set(names) <= set(x.index)):
        missing = [k for k in names if k not in x]
        if missing:
            raise KeyError(f"counts need keys {list(names)}; missing {missing}")
        return tuple(float(x[k]) for k in names)
    counts = np.bincount(category_codes(x, params=params), minlength=3)
    return float(counts[2]), float(counts[1]), float(counts[0])


def compare(
    a,
    b,
    *,
    level: float | None = None,
    method: str = "adjusted_wald",
    params: dict | None = None,
    settings: Settings | None = None,
) -> NPSComparison:
    """Compare the NPS of two independent groups: difference, interval, z, p-value.

    Parameters
    ----------
    a, b
        Either 0-10 scores (any array-like) or counts: an :class:`NPSCounts`, a mapping or a
        row of :func:`summarize` with ``promoters``, ``passives`` and ``detractors``. A plain
        tuple is read as scores.
    level
        Confidence level of the interval; None takes params/nps.yaml.
    method
        ``"adjusted_wald"`` or ``"wald"``, as in :func:`nps_interval`.
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    ca, cb = _as_counts(a, params), _as_counts(b, params)
    diff, low, high, zstat, p_value = _difference(ca, cb, z=z_value(lvl), method=method,
                                                  params=params)
    return NPSComparison(
        nps_a=nps_from_counts(*ca), nps_b=nps_from_counts(*cb), n_a=int(sum(ca)),
        n_b=int(sum(cb)), difference=float(diff), low=float(low), high=float(high),
        z=float(zstat), p_value=float(p_value), level=lvl, method=method,
    )


# --- summaries ---------------------------------------------------------------------------


def _hierarchy_chain(keys: list[str], columns, params: dict) -> tuple[list[str], list[list[str]]]:
    """Extra parent keys to group by, and the chain of key sets from finest to the network.

    ``keys`` are the grouping keys including "period". A parent level missing from ``keys``
    but present in ``columns`` (region, when grouping dealers) joins the grouping so that
    dealers shrink toward their region; without any hierarchy key the groups of a period
    shrink toward the period's network. Attributes of a level (dealer_name) leave with it.
    """
    hierarchy = [level["key"] for level in params["hierarchy"]]
    attributes = {level["key"]: list(level.get("attributes") or [])
                  for level in params["hierarchy"]}
    present = [k for k in hierarchy if k in keys]
    extra: list[str] = []
    if present:
        finest = hierarchy.index(present[0])
        extra = [k for k in hierarchy[finest + 1:] if k not in keys and k in columns]
    full = keys + extra
    chain = [full]
    current = full
    for k in (k for k in hierarchy if k in full):
        current = [c for c in current if c != k and c not in attributes[k]]
        chain.append(current)
    if len(chain) == 1 and len(full) > (1 if "period" in full else 0):
        chain.append([c for c in full if c == "period"])
    return extra, chain


def _shrink(table: np.ndarray, codes: dict[str, np.ndarray], chain: list[list[str]], *,
            history: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes NPS of the finest groups and its posterior SD (module docstring).

    ``table`` holds promoters, passives, detractors per finest group (one row each);
    ``codes`` their key codes; ``chain`` the key sets from finest to the top level. The top
    level keeps its pooled NPS and sampling variance; every level below shrinks toward its
    parent's shrunk value.

    Returns
    -------
    tuple of arrays
        The shrunk NPS of each finest group and the SD of its true NPS: the normal posterior
        given its parent (``w * v``, ``v`` the variance of the group's own estimate), plus
        ``(1 - w)^2`` times the parent's posterior variance, plus the doubt about ``w``
        itself (the estimated tau^2's sampling variance, to first order). What the rank
        intervals of :func:`rank_dealers` draw from; the parents' doubts are treated as
        independent between groups (measured to change the quarter chances by under 0.01,
        benchmarks/bench_ranks.py).

        ``history`` > 1 (with periods): a finest group's prior is no longer its parent alone
        but also its own previous ``history - 1`` periods (:func:`_history_prior`).
    """
    n_groups = len(table)
    if len(chain) < 2 or n_groups == 0:
        return (nps_from_counts(table[:, 0], table[:, 1], table[:, 2]),
                np.sqrt(_sampling_var(table)))
    levels = _levels(table, codes, chain)
    sigma2, tau2, tau2_var = _variance_components(levels)
    own_mean, own_var = _own_estimates(levels, sigma2, tau2)
    top = levels[-1]
    shrunk = nps_from_counts(*top.counts.T)
    post_var = _sampling_var(top.counts)
    for depth in range(len(levels) - 2, -1, -1):
        level = levels[depth]
        t2, v = tau2[depth][level.stratum], own_var[depth]
        center, parent_var = shrunk[level.parent], post_var[level.parent]
        dprior = 1.0  # d (prior variance) / d tau^2
        if depth == 0 and history > 1 and "period" in codes:
            # gaps to the network of each period: its pooled NPS is all but exact, while a
            # region's month is noisy and would enter every month of the history
            network = nps_from_counts(*top.counts.T)[top.of_group]
            offset, t2, keep = _history_prior(own_mean[0] - network, center - network, v,
                                              codes, level.stratum, tau2[0], months=history)
            center = center + offset
            # the centre holds keep times the parent's value: that much of its doubt
            parent_var = keep**2 * parent_var
            dprior = keep**2
        total = t2 + v
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(total > 0, t2 / total, 1.0)
            # dw / dtau^2; a variance of w above 1/4 is impossible for w in [0, 1]
            slope = np.where(total > 0, dprior * v / total**2, 0.0)
        weight_var = np.minimum(slope**2 * tau2_var[depth][level.stratum], 0.25)
        gap = own_mean[depth] - center
        post_var = (weight * v + (1 - weight) ** 2 * parent_var + gap**2 * weight_var)
        shrunk = weight * own_mean[depth] + (1 - weight) * center
    return shrunk, np.sqrt(post_var)


def _history_prior(gap: np.ndarray, parent_gap: np.ndarray, v: np.ndarray,
                   codes: dict[str, np.ndarray], stratum: np.ndarray, tau2: np.ndarray, *,
                   months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each finest group's prior from its own previous periods: the offset of its centre
    from its parent's shrunk value, its variance, and the share of the parent's value the
    centre keeps (``1 / (1 + T H)``, for the parent's doubt).

    A group (dealer) has a lasting level ``mu ~ N(parent, T)`` and each period's true NPS
    ``theta ~ N(mu, W)``; ``tau^2 = T + W`` is the spread of one period's groups (the
    nested ANOVA's). ``W``, the spread of a group's periods around its own level net of
    sampling noise, is estimated by moments across the groups of each stratum: a group's
    gaps to the top level of each period (``gap``; ``parent_gap`` its parent's shrunk
    value's) over its ``M`` periods have ``E[sum (gap - mean)^2] = (M - 1) W + (1 - 1/M) sum v``; ``W`` is
    capped at ``tau^2`` (then ``T = 0``). The previous ``months - 1`` periods' gaps,
    weighted by ``1 / (W + v)`` (precision ``H``, weighted mean ``h``), give ``mu``'s
    posterior ``N(parent + T H (h - parent_gap) / (1 + T H), T / (1 + T H))``, and the
    period's prior
    adds ``W`` to its variance. Without history (``H = 0``) or with ``W >= tau^2`` this is
    ``N(parent, tau^2)``, the shrinkage of a period alone.
    """
    n = len(gap)
    period = codes["period"]
    other = _combine([c for k, c in codes.items() if k != "period"], n)
    n_other, n_periods = int(other.max()) + 1, int(period.max()) + 1
    n_strata = len(tau2)
    unit_stratum = np.zeros(n_other, dtype=np.int64)
    unit_stratum[other] = stratum
    m = np.bincount(other, minlength=n_other).astype(float)
    mean = np.bincount(other, weights=gap, minlength=n_other) / np.maximum(m, 1)
    ss = np.bincount(other, weights=(gap - mean[other]) ** 2, minlength=n_other)
    noise = np.bincount(other, weights=v, minlength=n_other) * (1 - 1 / np.maximum(m, 1))
    df = np.bincount(unit_stratum, weights=m - 1, minlength=n_strata)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = (np.bincount(unit_stratum, weights=ss - noise, minlength=n_strata) / df)
    w = np.where((df > 0) & np.isfinite(w), np.clip(w, 0.0, tau2), tau2)
    lasting = (tau2 - w)[stratum]
    total = w[stratum] + v
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(total > 0, 1 / np.where(total > 0, total, 1.0), 0.0)
    # sums over the previous months - 1 periods of each group: cumulative sums by period
    dense = np.zeros((2, n_other, n_periods + 1))
    dense[0, other, period + 1] = u
    dense[1, other, period + 1] = u * gap
    cum = dense.cumsum(axis=2)
    start = np.maximum(period - (months - 1), 0)
    prec = cum[0, other, period] - cum[0, other, start]
    weighted = cum[1, other, period] - cum[1, other, start]
    denom = 1 + lasting * prec
    return (lasting * (weighted - prec * parent_gap) / denom, lasting / denom + w[stratum],
            1 / denom)


@dataclass(frozen=True)
class _Level:
    """One level of the shrinkage hierarchy: its units' counts, each unit's parent (a unit
    of the next level; empty at the top), its stratum, and each finest group's unit."""

    counts: np.ndarray
    parent: np.ndarray
    stratum: np.ndarray
    of_group: np.ndarray

    @property
    def n(self) -> np.ndarray:
        return self.counts.sum(axis=1)


def _levels(table: np.ndarray, codes: dict[str, np.ndarray], chain: list[list[str]]
            ) -> list[_Level]:
    """The levels of ``chain`` from the finest groups (level 0) to the top."""
    n_groups = len(table)
    of_group = [np.arange(n_groups)] + [_combine([codes[k] for k in keys], n_groups)
                                        for keys in chain[1:]]
    # tau^2 is pooled over periods: the spread between dealers is stable from month to month,
    # while a month alone often holds too few regions to estimate it
    pooled = [k for k in chain[-1] if k != "period"]
    stratum_of_group = _combine([codes[k] for k in pooled], n_groups)
    levels = []
    for depth, ids in enumerate(of_group):
        size = int(ids.max()) + 1
        counts = np.stack([np.bincount(ids, weights=table[:, j], minlength=size)
                           for j in range(3)], axis=1)
        parent = np.zeros(0, dtype=np.int64)
        if depth + 1 < len(of_group):
            parent = np.empty(size, dtype=np.int64)
            parent[ids] = of_group[depth + 1]
        stratum = np.empty(size, dtype=np.int64)
        stratum[ids] = stratum_of_group
        levels.append(_Level(counts, parent, stratum, ids))
    return levels


def _variance_components(levels: list[_Level]
                         ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """sigma^2 per stratum, and per level below the top tau^2 per stratum and its sampling
    variance: the method of moments of the unbalanced nested ANOVA (module docstring)."""
    n_strata = int(levels[0].stratum.max()) + 1

    def per_stratum(level: _Level, values) -> np.ndarray:
        return np.bincount(level.stratum, weights=values, minlength=n_strata)

    finest = levels[0]
    df_within = per_stratum(finest, finest.n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = per_stratum(finest, within_sum_of_squares(finest.counts)) / df_within
    sigma2 = np.where(np.isfinite(sigma2) & (df_within > 0), sigma2, 0.0)
    tau2: list[np.ndarray] = []
    tau2_var: list[np.ndarray] = []
    for depth in range(len(levels) - 1):
        level, parent = levels[depth], levels[depth + 1]
        n, n_parent = level.n, parent.n[level.parent]
        gap = nps_from_counts(*level.counts.T) - nps_from_counts(*parent.counts.T)[level.parent]
        ss = per_stratum(level, n * gap**2)
        df = per_stratum(level, np.ones(len(n))) - per_stratum(parent, np.ones(len(parent.n)))
        own = per_stratum(level, n - n**2 / n_parent)
        # E[SS] = df sigma^2 + sum over finer levels j of tau_j^2 * sum_j n_j^2 (1 / N of its
        # unit at this level - 1 / N of that unit's parent) + own * tau^2
        expected = df * sigma2
        for j in range(depth):
            finer = levels[j]
            unit = np.empty(len(finer.n), dtype=np.int64)
            unit[finer.of_group] = level.of_group
            share = finer.n**2 * (1 / n[unit] - 1 / parent.n[level.parent[unit]])
            expected = expected + per_stratum(finer, share) * tau2[j]
        ok = (df > 0) & (own > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(ok, (ss - expected) / own, 0.0)
            # SS is about E[SS] / df times a chi-square on df degrees of freedom
            variance = np.where(ok, 2 * ss**2 / (df * own**2), 0.0)
        tau2.append(np.maximum(np.where(np.isfinite(estimate), estimate, 0.0), 0.0))
        tau2_var.append(np.where(np.isfinite(variance), variance, 0.0))
    return sigma2, tau2, tau2_var


def _own_estimates(levels: list[_Level], sigma2: np.ndarray, tau2: list[np.ndarray]
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """What each unit's own answers say about its true NPS, below the top: the estimate and
    its variance. A finest group's NPS with ``sigma^2 / n``; a level above, the mean of its
    units' estimates weighted by their precision ``1 / (tau^2 + v)``, with variance
    ``1 / sum(precision)``: a region's dealers are a few draws of its dealers' spread, not
    only answers."""
    finest = levels[0]
    means = [nps_from_counts(*finest.counts.T)]
    variances = [sigma2[finest.stratum] / finest.n]
    for depth in range(len(levels) - 2):
        level, size = levels[depth], len(levels[depth + 1].n)
        total = tau2[depth][level.stratum] + variances[depth]
        # no spread and no noise (every answer alike): the answers' counts weigh the units
        precision = np.where(total > 0, 1 / np.where(total > 0, total, 1.0), level.n)
        weight = np.bincount(level.parent, weights=precision, minlength=size)
        means.append(np.bincount(level.parent, weights=precision * means[depth],
                                 minlength=size) / weight)
        exact = np.bincount(level.parent, weights=(total <= 0).astype(float), minlength=size)
        variances.append(np.where(exact > 0, 0.0, 1 / weight))
    return means, variances


def _sampling_var(counts: np.ndarray) -> np.ndarray:
    """Sampling variance of each group's NPS (points^2): within-group variance over n."""
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return within_sum_of_squares(counts) / n**2


def within_sum_of_squares(counts: np.ndarray) -> np.ndarray:
    """Sum of squared deviations of the answers (+100, 0, -100) from their group's NPS, per
    row of ``counts`` (promoters, passives, detractors), in points^2; NaN for an empty row.
    Over ``n - 1`` it is the group's within variance, over ``n^2`` its NPS's sampling
    variance."""
    pro, _, det = counts.T
    n = counts.sum(axis=1)
    p_pro, p_det = pro / n, det / n
    return n * 100.0**2 * (p_pro + p_det - (p_pro - p_det) ** 2)



def _previous_rows(codes: dict[str, np.ndarray], n_groups: int) -> np.ndarray:
    """Row of the same group's previous period, or -1."""
    if n_groups == 0:
        return np.zeros(0, dtype=np.int64)
    other = _combine([c for k, c in codes.items() if k != "period"], n_groups)
    n_periods = int(codes["period"].max()) + 1
    full = other * n_periods + codes["period"]
    order = np.argsort(full, kind="stable")
    ordered = full[order]
    target = full - 1
    pos = np.minimum(np.searchsorted(ordered, target), n_groups - 1)
    found = (codes["period"] > 0) & (ordered[pos] == target)
    return np.where(found, order[pos], -1)


def _invited(invitations: pd.DataFrame, keys: list[str], period: str | None,
             months_seen: pd.PeriodIndex | None) -> pd.DataFrame:
    """Invitations summed to ``keys`` (+ period), from the monthly invitations table."""
    require_columns(invitations, [*keys, "month", "invited"], table="invitations",
                    fix=f"the response rate by {keys} needs them: attach region with "
                    "analysis.regions.with_region(invitations, dealers), or drop the key from `by`")
    months = pd.PeriodIndex(pd.to_datetime(invitations["month"]), freq="M")
    if period:
        start = months.start_time.to_period(period)
        if (start != months.end_time.to_period(period)).any():
            raise ValueError(f"invitations are monthly: a response rate needs a period made of "
                             f"whole months ('M', 'Q', 'Y'), not {period!r}")
        frame = invitations[keys + ["invited"]].assign(period=start)
        return frame.groupby([*keys, "period"], observed=True)["invited"].sum().reset_index()
    in_scope = months.isin(months_seen) if months_seen is not None else np.ones(len(months), bool)
    frame = invitations.loc[in_scope, keys + ["invited"]]
    if not keys:
        return pd.DataFrame({"invited": [frame["invited"].sum()]})
    return frame.groupby(keys, observed=True)["invited"].sum().reset_index()


def summarize(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = ("region",),
    period: str | None = "M",
    invitations: pd.DataFrame | None = None,
    level: float | None = None,
    min_n: int | None = None,
    score: str = "nps",
    time_col: str = "responded_at",
    params: dict | None = None,
    settings: Settings | None = None,
    history: int = 0,
) -> pd.DataFrame:
    """NPS by group and period with its interval, change, response rate and shrunk value.

    Parameters
    ----------
    responses
        One row per answer with the ``by`` columns, ``score`` (0-10) and ``time_col``.
    by
        Grouping columns, e.g. ``("region",)``, ``("dealer_id", "touchpoint")`` or ``()`` for
        the whole network.
    period
        A pandas period alias ("M", "Q", "W") or None for no time split.
    invitations
        The invitations table (dealer_id, touchpoint, month "YYYY-MM", invited) to add
        ``invited`` and ``response_rate``; every ``by`` key must be one of its columns. With
        ``period=None`` only the months present in ``responses`` count.
    level, min_n
        Confidence level of intervals and tests, and the answers below which a group is
        flagged ``small_sample``; None takes params/nps.yaml (0.95, 30).
    history
        With ``period``: the periods (the one shrunk included) over which a finest group's
        nps_shrunk also borrows from its own earlier periods, its lasting level
        (:func:`_history_prior`); 0 or 1, each period alone.

    Returns
    -------
    DataFrame
        ``by`` keys, ``period`` (if any), n, promoters, passives, detractors, nps, nps_low,
        nps_high, change_vs_previous, its interval change_low, change_high (at ``level``)
        and change_p_value (vs the previous period of the same group; NaN without one; only
        when ``period`` is given), change_p_adj and change_flag
        (Benjamini-Hochberg over the groups of each period at ``q`` of params/flags.yaml:
        the flag a report's star follows), invited and response_rate (with
        ``invitations``), small_sample, nps_shrunk (empirical Bayes toward the parent level:
        dealer -> region -> network, see the module docstring) and nps_shrunk_sd (its
        posterior SD, see :func:`_shrink`). A dealer shrinks toward its region when
        ``responses`` carry a ``region`` column.

    See Also
    --------
    summarize_counts : the same statistics from a count table (e.g. summed over partitions).
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    keys = list(by)
    group_keys = [*keys, "period"] if period else keys
    extra, chain = _hierarchy_chain(group_keys, responses.columns, p)
    groups = count_groups(responses, [*keys, *extra], period=period, score=score,
                          time_col=time_col, params=p)
    seen = (pd.PeriodIndex(responses[time_col].dt.to_period("M").unique())
            if invitations is not None and not period and time_col in responses else None)
    return _statistics(groups, keys, period, extra, chain, invitations=invitations,
                       months_seen=seen, level=lvl, min_n=min_n, params=p, history=history)


def count_keys(by: Sequence[str], columns, *, params: dict | None = None) -> list[str]:
    """The keys to count by so that :func:`summarize_counts` gives what :func:`summarize`
    gives: ``by`` plus the parent levels of the hierarchy that ``columns`` hold (a dealer's
    region), toward which the groups shrink."""
    keys = list(by)
    extra, _ = _hierarchy_chain([*keys, "period"], list(columns), params_or("nps", params))
    return [*keys, *extra]


def summarize_counts(
    counts: pd.DataFrame,
    *,
    by: Sequence[str] = ("region",),
    period: str | None = "M",
    invitations: pd.DataFrame | None = None,
    months_seen: Sequence[str] | pd.PeriodIndex | None = None,
    level: float | None = None,
    min_n: int | None = None,
    params: dict | None = None,
    settings: Settings | None = None,
    history: int = 0,
) -> pd.DataFrame:
    """:func:`summarize` from a count table instead of the answers.

    The count table is what :func:`count_categories` returns, possibly in pieces (one per
    partition of a large data set, concatenated): rows of the same group are summed first,
    then intervals, changes, shrinkage and response rates are computed exactly as
    :func:`summarize` computes them, so the two agree to the last digit on the same answers.

    Parameters
    ----------
    counts
        Columns :func:`count_keys` ``(by, ...)``, ``period`` (when ``period`` is given, or to
        roll up), promoters, passives, detractors. Count by the parent levels too (a
        dealer's ``region``), or dealers shrink toward the network rather than their region.
    period
        The period of the result: the count table's own period, a coarser one made of its
        periods ("Q" from monthly counts), or None to sum over periods.
    months_seen
        With ``invitations`` and ``period=None``: the months the answers cover (YYYY-MM);
        None takes the months of a monthly ``period`` column.
    by, invitations, level, min_n, params, history
        As in :func:`summarize`.
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    keys = list(by)
    group_keys = [*keys, "period"] if period else keys
    extra, chain = _hierarchy_chain(group_keys, counts.columns, p)
    groups = groups_from_counts(counts, [*keys, *extra], period=period)
    seen = None
    if invitations is not None and not period:
        if months_seen is not None:
            seen = pd.PeriodIndex([pd.Period(m, freq="M") for m in months_seen])
        elif "period" in counts:
            seen = pd.PeriodIndex(as_period(counts["period"], "M").unique())
    return _statistics(groups, keys, period, extra, chain, invitations=invitations,
                       months_seen=seen, level=lvl, min_n=min_n, params=p, history=history)


def _combine(code_arrays: list[np.ndarray], n_groups: int) -> np.ndarray:
    """Compact ids 0..k-1 of the combinations of group-level codes (few rows: hashing is cheap)."""
    ids = np.zeros(n_groups, dtype=np.int64)
    bound = 1
    for codes in code_arrays:
        size = int(codes.max()) + 1 if len(codes) else 1
        if bound * size >= 2**62:
            ids = pd.factorize(ids)[0].astype(np.int64)
            bound = int(ids.max()) + 1
        ids = ids * size + codes
        bound *= size
    return pd.factorize(ids)[0].astype(np.int64) if n_groups else ids


def _statistics(
    groups: CountedGroups,
    keys: list[str],
    period: str | None,
    extra: list[str],
    chain: list[list[str]],
    *,
    invitations: pd.DataFrame | None,
    months_seen: pd.PeriodIndex | None,
    level: float,
    min_n: int | None,
    params: dict,
    history: int = 0,
) -> pd.DataFrame:
    """Intervals, changes, shrinkage and response rates of counted groups (see summarize)."""
    p = params
    lvl = level
    min_n = p["min_n"] if min_n is None else min_n
    group_keys = [*keys, "period"] if period else keys
    out = groups.counts
    table = out[["promoters", "passives", "detractors"]].to_numpy(dtype=float)
    method = p["interval"]["method"]
    low, high = nps_interval(*table.T, level=lvl, method=method, params=p)
    out = out.assign(nps=nps_from_counts(*table.T), nps_low=low, nps_high=high)
    if period:
        prev = _previous_rows(groups.codes, len(out))
        before = np.where(prev[:, None] >= 0, table[np.maximum(prev, 0)], np.nan)
        change, c_low, c_high, _, p_value = _difference(
            tuple(table.T), tuple(before.T), z=z_value(lvl), method=method, params=p)
        # one family per period: the groups of a month are one table of the report
        p_adj, flag = bh_flags(p_value, q=flag_q(p), groups=groups.codes["period"])
        out = out.assign(change_vs_previous=change, change_low=c_low, change_high=c_high,
                         change_p_value=p_value, change_p_adj=p_adj, change_flag=flag)
    out["small_sample"] = out["n"].to_numpy() < min_n
    out["nps_shrunk"], out["nps_shrunk_sd"] = _shrink(table, groups.codes, chain,
                                                     history=history if period else 0)
    if extra:
        ids = _combine([groups.codes[k] for k in group_keys], len(out))
        if len(ids) and ids.max() + 1 < len(out):
            dupes = out.duplicated(group_keys)
            example = out.loc[dupes, group_keys].iloc[0].to_dict()
            raise ValueError(f"{example} belongs to more than one {extra}: fix the dealers "
                             "table so that each dealer has one region")
        out = out.drop(columns=extra)
    if invitations is not None:
        invited = _invited(invitations, keys, period, months_seen)
        if group_keys:
            out = out.merge(invited, on=group_keys, how="left", validate="one_to_one")
        else:
            out = out.assign(invited=invited["invited"].iloc[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = out["n"] / out["invited"].where(out["invited"] > 0)
        out["response_rate"] = rate
        tail = ["small_sample", "nps_shrunk", "nps_shrunk_sd"]
        order = [c for c in out if c not in tail]
        out = out[[*order, *tail]]
    return out.reset_index(drop=True)


# --- response-rate weights -------------------------------------------------------------------


def summarize_weighted(
    responses: pd.DataFrame,
    invitations: pd.DataFrame,
    *,
    by: Sequence[str] = ("region",),
    period: str = "M",
    cell: Sequence[str] = ("dealer_id", "touchpoint"),
    level: float | None = None,
    time_col: str = "responded_at",
    params: dict | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """NPS by group and month, unweighted and weighted for response rates, side by side.

    Response rates range from 3 % to 100 % across dealer x touchpoint cells, so the answers
    over-represent the cells that answer most. Weighting every answer of a cell by
    ``invited / responses`` of that cell and month (the inverse of its response rate) gives
    each cell the weight of its invitations: ``nps_weighted = sum_c invited_c NPS_c /
    sum_c invited_c`` over the cells with answers. Its interval treats the cells as
    independent strata: ``var = sum_c invited_c^2 var_c / (sum_c invited_c)^2`` with
    ``var_c`` the adjusted-Wald variance of the cell's NPS. ``n_effective`` is Kish's
    effective sample size of the weights.

    Parameters
    ----------
    responses, invitations
        The answers (``by`` keys, ``cell`` keys, ``time_col``, ``nps``) and the invitations
        table (``cell`` keys, ``month`` "YYYY-MM", ``invited``), both with ``by`` keys
        (attach ``region`` to both with :func:`analysis.regions.with_region`).
    period
        Whole months ("M"): invitations are monthly.

    Returns
    -------
    DataFrame
        ``by`` keys, period, n, nps (unweighted), nps_weighted, nps_weighted_low,
        nps_weighted_high, invited (of the cells with answers), n_effective.
    """
    if period != "M":
        raise ValueError(f"invitations are monthly: weight by month (period='M'), not {period!r}")
    p = _params(params, settings)
    keys, cells = list(by), [c for c in cell if c not in by]
    counts = count_categories(responses, by=[*keys, *cells], period="M", time_col=time_col,
                              params=p)
    return summarize_weighted_counts(counts, invitations, by=by, cell=cell, level=level,
                                     params=p)


def summarize_weighted_counts(
    counts: pd.DataFrame,
    invitations: pd.DataFrame,
    *,
    by: Sequence[str] = ("region",),
    cell: Sequence[str] = ("dealer_id", "touchpoint"),
    level: float | None = None,
    params: dict | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """:func:`summarize_weighted` from monthly counts by ``by`` and ``cell`` keys (what
    :func:`count_categories` returns, possibly in pieces: rows of a cell and month are summed
    first), so an engine can count on its cluster: the same frame, the same numbers."""
    p = _params(params, settings)
    lvl = _level(level, p)
    keys, cells = list(by), [c for c in cell if c not in by]
    require_columns(invitations, [*keys, *cells, "month", "invited"], table="invitations",
                    fix="attach region with analysis.regions.with_region(invitations, dealers)")
    counted = ["promoters", "passives", "detractors", "n"]
    counts = (counts.groupby([*keys, *cells, "period"], observed=True, sort=True)[counted]
              .sum().reset_index())
    invited = (invitations.assign(period=pd.PeriodIndex(pd.to_datetime(invitations["month"]),
                                                        freq="M"))
               .groupby([*keys, *cells, "period"], observed=True)["invited"].sum()
               .reset_index())
    frame = counts.merge(invited, on=[*keys, *cells, "period"], how="left")
    table = frame[["promoters", "passives", "detractors"]].to_numpy(dtype=float).T
    _, var = nps_estimate(*table, pseudo_counts=_pseudo_counts(p["interval"]["method"], p))
    # a cell without a count of invitations keeps the weight of its answers
    weight = frame["invited"].where(frame["invited"] > 0, frame["n"]).to_numpy(dtype=float)
    per_answer = weight / frame["n"].to_numpy(dtype=float)
    frame = frame.assign(
        _w=weight, _wnps=weight * nps_from_counts(*table),
        _wvar=weight**2 * var * 100.0**2,
        _kish_num=per_answer * frame["n"], _kish_den=per_answer**2 * frame["n"],
        _net=frame["promoters"] - frame["detractors"])
    sums = (frame.groupby([*keys, "period"], observed=True, sort=True)
            [["n", "_net", "_w", "_wnps", "_wvar", "_kish_num", "_kish_den"]].sum()
            .reset_index())
    z = z_value(lvl)
    weighted = sums["_wnps"] / sums["_w"]
    half = z * np.sqrt(sums["_wvar"]) / sums["_w"]
    return pd.DataFrame({
        **{k: sums[k] for k in [*keys, "period"]},
        "n": sums["n"].astype(np.int64),
        "nps": 100.0 * sums["_net"] / sums["n"],
        "nps_weighted": weighted,
        "nps_weighted_low": (weighted - half).clip(-100, 100),
        "nps_weighted_high": (weighted + half).clip(-100, 100),
        "invited": sums["_w"],
        "n_effective": sums["_kish_num"] ** 2 / sums["_kish_den"],
    })


# --- rank uncertainty ---------------------------------------------------------------------


def rank_uncertainty(estimate, sd, *, params: dict | None = None,
                     random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Median rank, rank interval and top/bottom-quarter probabilities of units with normal
    posteriors.

    Every draw takes each unit's true value from ``N(estimate, sd^2)`` independently and
    ranks them (1 = highest). Settings from params/flags.yaml ``ranks``.

    Returns
    -------
    DataFrame
        One row per unit, in the order given: rank_median (the median of its ranks over the
        draws: the rank to show, always inside its interval; two units may share it),
        rank_low and rank_high (the equal-tailed interval holding ``ranks.level`` of the
        draws), all Int64; p_top_quarter and p_bottom_quarter (the shares of draws in which
        the unit ranks in the top or bottom ``ranks.quarter`` of the units).
    """
    spec = flag_params(params)["ranks"]
    est = np.asarray(estimate, dtype=float)
    sd = np.nan_to_num(np.asarray(sd, dtype=float), nan=0.0)
    k = len(est)
    if k == 0:
        empty = pd.array([], dtype="Int64")
        return pd.DataFrame({"rank_median": empty, "rank_low": empty, "rank_high": empty,
                             "p_top_quarter": np.zeros(0), "p_bottom_quarter": np.zeros(0)})
    rng = np.random.default_rng(spec["random_state"] if random_state is None
                                else random_state)
    draws = est[None, :] + sd[None, :] * rng.standard_normal((int(spec["n_draws"]), k))
    # rank 1 = highest; equal draws (sd 0 at equal values) are ordered by position
    ranks = k - np.argsort(np.argsort(draws, axis=1, kind="stable"), axis=1)
    tail = (1 - float(spec["level"])) / 2
    # the same quantile rule at 0.5 as at the tails: the median lies between them
    low, median, high = np.quantile(ranks, [tail, 0.5, 1 - tail], axis=0,
                                    method="inverted_cdf")
    cut = max(1, int(round(float(spec["quarter"]) * k)))
    return pd.DataFrame({
        "rank_median": pd.array(median.astype(np.int64), dtype="Int64"),
        "rank_low": pd.array(low.astype(np.int64), dtype="Int64"),
        "rank_high": pd.array(high.astype(np.int64), dtype="Int64"),
        "p_top_quarter": (ranks <= cut).mean(axis=0),
        "p_bottom_quarter": (ranks > k - cut).mean(axis=0),
    })


# --- rankings and report tables ----------------------------------------------------------


def rank_dealers(
    responses: pd.DataFrame,
    *,
    period: str | None = None,
    dealers: pd.DataFrame | None = None,
    level: float | None = None,
    min_n: int | None = None,
    score: str = "nps",
    time_col: str = "responded_at",
    rolling: bool | int = False,
    params: dict | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Dealers ranked by shrunk NPS, with the interval, ranks in region and network.

    Parameters
    ----------
    responses
        Answers with ``dealer_id`` and ``region`` (or pass ``dealers`` to attach region).
    period
        None ranks on all the answers given; a month "YYYY-MM" ranks that month and adds
        the change vs the month before (when the answers include it).
    dealers
        The dealers table, to attach region and dealer_name when ``responses`` lack them.
    rolling
        With a month: rank on the window of ``rolling`` months ending there (True takes
        ``ranks.rolling_months`` of params/flags.yaml, 3) instead of the month alone; the
        change is then vs the window of as many months before it. False: the month alone.

    Returns
    -------
    DataFrame
        rank_network, rank_region, region, dealer_id, dealer_name (if known), n, nps,
        nps_low, nps_high, nps_shrunk, small_sample, vs_region (dealer minus the rest of
        its region; for a month, over the ``vs_region.months`` of params/flags.yaml ending
        there, vs_region_months of them in the data, vs_region_n answers of the dealer: a
        persistent gap needs more than a month's answers to be seen), its interval
        vs_region_low, vs_region_high, vs_region_p_value, vs_region_p_adj and
        vs_region_flag, and for a month
        change_vs_previous, change_p_value, change_p_adj and change_flag; then rank_low and
        rank_high (the network rank interval) and p_top_quarter, p_bottom_quarter; sorted
        by rank_network, then nps_shrunk, best first.

        Ranks come from draws of every dealer's true NPS from its empirical-Bayes posterior
        (normal, mean nps_shrunk, SD from :func:`_shrink`), so a dealer with few lucky
        answers does not top the table. For a month (not a rolling window) nps_shrunk is
        the month's true NPS given the month's answers, the region and the dealer's own
        earlier months among the answers given (``ranks.history_months`` of
        params/flags.yaml, 12 with the ranked one; ``ranks.history: false`` ranks the month
        alone): a dealer's level carries over from month to month, as far as the data show
        (:func:`_history_prior`); with no earlier months it is the month's shrinkage alone.
        rank_network is the median of the dealer's network
        ranks over the draws (:func:`rank_uncertainty`; two dealers may share it, and a
        dealer with a wide posterior may sit below one with a slightly lower nps_shrunk),
        rank_region its place among its region's dealers in that order
        (:func:`ranks_within`). The rank interval holds ``ranks.level`` (90 %) of the
        draws; p_top_quarter and p_bottom_quarter are the shares of draws in which the
        dealer ranks in the top or bottom quarter of the network. Draws are seeded
        (params/flags.yaml).

        The ``*_flag`` columns follow the report's multiplicity rule: Benjamini-Hochberg
        over the dealers of the table at ``q`` of params/flags.yaml (``*_p_adj`` the
        adjusted p-values).

    See Also
    --------
    rank_dealers_from_counts : the same ranking from a count table.
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    frame = responses
    if dealers is not None:
        frame = with_region(frame, dealers)
    keys = _rank_keys(frame.columns, "responses", "pass dealers=<the dealers table> to "
                      "attach each dealer's region")
    if period is None:
        table = summarize(frame, by=keys, period=None, level=lvl, min_n=min_n, score=score,
                          time_col=time_col, params=p)
    else:
        month = pd.Period(period, freq="M")
        window = _rolling_months(rolling, p)
        if window > 1:
            frame = _as_windows(frame, month, window, time_col)
        table = summarize(frame, by=keys, period="M", level=lvl, min_n=min_n, score=score,
                          time_col=time_col, params=p,
                          history=_history_months(p) if window == 1 else 0)
        # a rolling window is its own gap window; a month's gap is judged over vs_region.months
        gap = _gap_window(table, keys, month, p) if window == 1 else None
        table = table.loc[table["period"] == month].drop(columns="period")
        if table.empty:
            raise ValueError(f"no answers in {month}; the answers cover "
                             f"{frame[time_col].min():%Y-%m} to {frame[time_col].max():%Y-%m}")
        return _ranked(table, keys, period, lvl, p, gap=gap)
    return _ranked(table, keys, period, lvl, p)


def rank_dealers_from_counts(
    counts: pd.DataFrame,
    *,
    period: str | None = None,
    level: float | None = None,
    min_n: int | None = None,
    params: dict | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """:func:`rank_dealers` from a count table by region, dealer_id (and dealer_name).

    ``counts`` is :func:`count_categories` by ``("region", "dealer_id")`` (plus
    ``dealer_name`` to show names) and, for ``period`` a month, by ``period="M"``; pieces of
    it (one per partition) are summed first. The result equals :func:`rank_dealers` on the
    same answers.
    """
    p = _params(params, settings)
    lvl = _level(level, p)
    keys = _rank_keys(counts.columns, "the counts", "count by region and dealer_id")
    if period is None:
        table = summarize_counts(counts, by=keys, period=None, level=lvl, min_n=min_n,
                                 params=p)
    else:
        month = pd.Period(period, freq="M")
        table = summarize_counts(counts, by=keys, period="M", level=lvl, min_n=min_n, params=p,
                                 history=_history_months(p))
        gap = _gap_window(table, keys, month, p)
        covered = table["period"]
        table = table.loc[covered == month].drop(columns="period")
        if table.empty:
            span = f"{covered.min()} to {covered.max()}" if len(covered) else "no month"
            raise ValueError(f"no answers in {month}; the counts cover {span}")
        return _ranked(table, keys, period, lvl, p, gap=gap)
    return _ranked(table, keys, period, lvl, p)


def _gap_window(monthly: pd.DataFrame, keys: list[str], month: pd.Period,
                p: dict) -> pd.DataFrame:
    """Each dealer's answers (promoters, passives, detractors) over the months of
    params/flags.yaml ``vs_region.months`` ending at ``month``: the window a persistent gap
    to the rest of the region is judged over (a month's 80 answers cannot show 10 points).
    ``gap_months`` is how many of those months the data hold."""
    spec = flag_params(p).get("vs_region")  # params without it: the month alone
    months = int(spec["months"]) if spec else 1
    periods = pd.PeriodIndex(monthly["period"], freq="M")
    inside = (periods <= month) & (periods > month - months)
    counts = ["promoters", "passives", "detractors"]
    window = monthly.loc[inside]
    out = window.groupby(keys, observed=True, dropna=False)[counts].sum()
    span = pd.PeriodIndex(window["period"], freq="M")
    out["gap_months"] = (month.ordinal - span.asi8.min() + 1) if len(window) else 0
    return out.reset_index()


def _history_months(p: dict) -> int:
    """The months (the ranked one included) a dealer's posterior reads: params/flags.yaml
    ``ranks.history_months`` when ``ranks.history`` is on, else 1 (the month alone)."""
    spec = flag_params(p)["ranks"]
    return int(spec.get("history_months", 1)) if spec.get("history", False) else 1


def _rolling_months(rolling: bool | int, p: dict) -> int:
    if rolling is True:
        return int(flag_params(p)["ranks"]["rolling_months"])
    if rolling is False or rolling is None:
        return 1
    if int(rolling) < 1:
        raise ValueError(f"rolling must be True, False or a number of months >= 1, got "
                         f"{rolling!r}")
    return int(rolling)


def _as_windows(frame: pd.DataFrame, month: pd.Period, window: int,
                time_col: str) -> pd.DataFrame:
    """The answers of the ``window`` months to ``month`` dated in ``month``, and those of the
    ``window`` months before dated in the month before: a monthly summary then compares the
    two windows."""
    times = frame[time_col]
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    months = times.dt.to_period("M")
    back = (month.ordinal - months.array.asi8)
    back = np.where(months.isna().to_numpy(), -1, back)
    keep = (back >= 0) & (back < 2 * window)
    label = np.where(back < window, month.start_time, (month - 1).start_time)
    return frame.loc[keep].assign(**{time_col: pd.to_datetime(label[keep])})


def _rank_keys(columns, what: str, fix: str) -> list[str]:
    require_columns(columns, ("dealer_id", "region"), table=what, fix=fix)
    return ["region", "dealer_id"] + (["dealer_name"] if "dealer_name" in columns else [])


def _ranked(table: pd.DataFrame, keys: list[str], period: str | None, lvl: float,
            p: dict, *, gap: pd.DataFrame | None = None) -> pd.DataFrame:
    """The dealer summary with the gap to the rest of the region and the ranks; the gap over
    ``gap``'s counts (:func:`_gap_window`) when given, else over ``table``'s."""
    counts = ["promoters", "passives", "detractors"]
    base = table if gap is None else table[keys].merge(gap, on=keys, how="left").fillna(
        {c: 0 for c in counts})
    region_totals = base.groupby("region", observed=True)[counts].transform("sum")
    rest = tuple((region_totals[c] - base[c]).to_numpy(dtype=float) for c in counts)
    vs_region, vs_low, vs_high, _, vs_p = _difference(
        tuple(base[c].to_numpy(dtype=float) for c in counts), rest, z=z_value(lvl),
        method=p["interval"]["method"], params=p)
    q = flag_q(p)
    vs_adj, vs_flag = bh_flags(vs_p, q=q)
    table = table.assign(vs_region=vs_region, vs_region_low=vs_low, vs_region_high=vs_high,
                         vs_region_p_value=vs_p, vs_region_p_adj=vs_adj, vs_region_flag=vs_flag,
                         vs_region_months=1 if gap is None else int(gap["gap_months"].max()),
                         vs_region_n=base[counts].sum(axis=1).to_numpy())
    if period is not None:
        # the family is the table's dealers (the summary's was the same month's groups)
        change_adj, change_flag = bh_flags(table["change_p_value"], q=q)
        table = table.assign(change_p_adj=change_adj, change_flag=change_flag)
    table = pd.concat([table.reset_index(drop=True),
                       rank_uncertainty(table["nps_shrunk"], table["nps_shrunk_sd"],
                                        params=p)], axis=1)
    table = table.assign(rank_network=table["rank_median"].astype(int))
    table = table.assign(rank_region=ranks_within(table, "region"))
    front = ["rank_network", "rank_region", *keys]
    shown = ["n", "nps", "nps_low", "nps_high", "nps_shrunk", "small_sample", "vs_region",
             "vs_region_low", "vs_region_high", "vs_region_p_value", "vs_region_p_adj",
             "vs_region_flag", "vs_region_months", "vs_region_n"]
    if period is not None:
        shown += ["change_vs_previous", "change_low", "change_high", "change_p_value",
                  "change_p_adj", "change_flag"]
    shown += ["rank_low", "rank_high", "p_top_quarter", "p_bottom_quarter"]
    return (table[front + shown]
            .sort_values(["rank_network", "nps_shrunk", "dealer_id"],
                         ascending=[True, False, True])
            .reset_index(drop=True))


def ranks_within(table: pd.DataFrame, by, *, rank: str = "rank_network",
                 value: str = "nps_shrunk") -> np.ndarray:
    """Each unit's place within its ``by`` group (1 = best) in the order of the network
    ``rank`` (the median rank), ties of the median broken by ``value`` (higher first), so
    the ranks in a region follow the order the network ranking shows.

    Returns
    -------
    ndarray of int
        One place per row of ``table``, in its order.
    """
    order = table.sort_values([rank, value], ascending=[True, False], kind="stable")
    place = order.groupby(by, observed=True, sort=False).cumcount() + 1
    return place.reindex(table.index).to_numpy(dtype=np.int64)
