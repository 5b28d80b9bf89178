"""Loyalty drivers: how much of the NPS score each rated driver explains.

The core is a relative-importance decomposition of the linear model's R^2 among the drivers,
computed from the correlation matrix alone (its sufficient statistics):

- ``"lmg"``: Lindeman, Merenda & Gold (1980), the Shapley value of R^2 over all 2^p subsets
  of drivers, also Budescu's (1993) *general dominance* weights. Exact, not sampled.
- ``"relative_weights"``: Johnson (2000), which apportions R^2 through the orthogonal
  (symmetric Loewdin) approximation of the drivers. Cheap for any p, close to LMG.

R^2 of every subset comes from one walk over a binary tree of sweeps (Goodnight 1979) of the
correlation matrix, batched with numpy across all subsets sharing a largest driver and
across bootstrap draws, so no regression is ever refitted. The bootstrap reweights the
complete cases with Poisson(1) counts (Hanley & MacGibbon 2006; Chamandy et al. 2012) and
obtains all draws' weighted cross-product matrices from one matrix product per block of rows.

Around the core: cross-checks by other models (:func:`ordinal_effects`,
:func:`detractor_effects`, :func:`nonlinear_importance`, :func:`compare_methods`),
dynamics (:func:`importance_by_period`, :func:`importance_change`) and the
importance-performance map of Martilla & James (1977) (:func:`importance_performance`; its
chart is :func:`analysis.report.charts.importance_performance`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import DataError, require_columns
from analysis.settings import Settings, level_or, settings_or

__all__ = ["MAX_LMG_DRIVERS", "METHOD_LABELS", "METHODS", "QUADRANTS", "compare_methods",
           "detractor_effects", "driver_names", "DriverDataError", "importance_by_period",
           "importance_change", "importance_performance", "ImportanceResult", "kendalls_w",
           "mean_ratings", "Method", "nonlinear_importance", "ordinal_effects",
           "relative_importance", "relative_importance_from_corr"]

Method = Literal["lmg", "relative_weights"]
METHODS: tuple[str, ...] = ("lmg", "relative_weights")
METHOD_LABELS = {
    "lmg": "LMG (Shapley value of R^2, general dominance)",
    "relative_weights": "relative weights (Johnson 2000)",
}
#: Exact LMG enumerates 2^p subsets; beyond this use ``method="relative_weights"``.
MAX_LMG_DRIVERS = 20
#: Quadrants of the importance-performance map, in the order (importance, performance) =
#: (high, low), (high, high), (low, low), (low, high).
QUADRANTS: tuple[str, ...] = (
    "concentrate here",
    "keep up the good work",
    "low priority",
    "possible overkill",
)

# A driver whose residual variance, given the drivers already in a subset, falls below this
# share of its own variance adds nothing (it is a linear combination of them), as with a
# pseudo-inverse fit.
_PIVOT_TOL = 1e-12
# Rows per block when forming cross products; bounds memory, does not change results.
_BLOCK_ROWS = 65_536
# Elements of the (draws x rows) Poisson weight block: small enough to stay in cache.
_BOOT_BLOCK_ELEMENTS = 1 << 16
# Blocks per unit of work handed to a thread (each unit has its own random stream).
_BOOT_BLOCKS_PER_RUN = 16
# Threads for the bootstrap cross products; results do not depend on it.
_BOOT_THREADS = max(1, min(4, os.cpu_count() or 1))
# Floats of sweep storage per batch of correlation matrices in the all-subsets walk.
_SWEEP_BLOCK_ELEMENTS = 1 << 22


class DriverDataError(DataError):
    """The frame cannot be analysed as asked; the message names the column and the fix."""


# --- result --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ImportanceResult:
    """Relative importance of drivers: a decomposition of R^2.

    Attributes
    ----------
    table
        Indexed by driver (in the order given) with columns ``importance`` (the driver's part
        of R^2, in R^2 units; they sum to ``r2``), ``share`` (importance / R^2; sums to 1),
        ``low`` and ``high`` (percentile bootstrap interval of ``importance`` at ``level``;
        NaN without bootstrap) and ``rank`` (1 = most important).
    r2
        R^2 of the linear model with all drivers (weighted if case weights were given).
    n
        Complete cases used (None when computed from a correlation matrix without ``n``).
    n_dropped
        Rows dropped because the target, a driver or the weight was missing.
    method
        ``"lmg"`` or ``"relative_weights"``.
    target
        The explained column.
    level, n_boot
        Confidence level and number of bootstrap draws behind ``low``/``high``.
    draws
        Bootstrap draws of ``importance`` (``n_boot`` rows, one column per driver), or None.
    r2_draws
        Bootstrap draws of R^2, or None.
    """

    table: pd.DataFrame = field(repr=False)
    r2: float
    n: int | None
    n_dropped: int
    method: str
    target: str
    level: float = 0.95
    n_boot: int = 0
    draws: pd.DataFrame | None = field(default=None, repr=False)
    r2_draws: np.ndarray | None = field(default=None, repr=False)

    @property
    def share_draws(self) -> pd.DataFrame | None:
        """Bootstrap draws of ``share`` (importance / R^2 within each draw), or None."""
        if self.draws is None or self.r2_draws is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.draws.div(np.where(self.r2_draws > 0, self.r2_draws, np.nan), axis=0)

    def shares(self) -> pd.DataFrame:
        """Each driver's share of R^2 with its percentile bootstrap interval at ``level`` (by
        driver: ``rank``, ``share``, ``share_low``, ``share_high``, ``importance``; the
        interval is NaN without bootstrap draws)."""
        draws = self.share_draws
        alpha = (1 - self.level) / 2
        if draws is not None:
            low, high = np.nanquantile(draws.to_numpy(), [alpha, 1 - alpha], axis=0)
        else:
            low = high = np.full(len(self.table), np.nan)
        return self.table[["rank", "share", "importance"]].assign(share_low=low, share_high=high)

    def summary(self) -> str:
        """A readable text: method, sample, R^2 and the table in rank order."""
        lines = [f"Relative importance of drivers for {self.target!r}: "
                 f"{METHOD_LABELS.get(self.method, self.method)}"]
        if self.n is None:
            lines.append("computed from a correlation matrix")
        else:
            lines.append(f"n = {self.n:,} complete cases ({self.n_dropped:,} rows dropped for "
                         "missing values)")
        lines.append(f"R^2 = {self.r2:.4f}")
        if self.n_boot:
            lines.append(f"{self.level:.0%} percentile intervals of importance from "
                         f"{self.n_boot} Poisson bootstrap draws")
        shown = self.table.sort_values("rank").copy()
        shown["share"] = shown["share"].map(lambda v: f"{v:.1%}")
        for col in ("importance", "low", "high"):
            shown[col] = shown[col].map(lambda v: "" if np.isnan(v) else f"{v:.4f}")
        if not self.n_boot:
            shown = shown.drop(columns=["low", "high"])
        shown["rank"] = shown["rank"].astype(int)
        lines.append("")
        lines.append(shown.to_string())
        return "\n".join(lines)


# --- input preparation ---------------------------------------------------------------------


def _check_names(frame: pd.DataFrame, target: str, drivers: Sequence[str]) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(drivers, str):
        raise TypeError("drivers must be a sequence of column names, not one string")
    drivers = list(drivers)
    if not drivers:
        raise DriverDataError("drivers is empty: name at least one driver column")
    if len(set(drivers)) != len(drivers):
        dup = sorted({d for d in drivers if drivers.count(d) > 1})
        raise DriverDataError(f"drivers {dup} are listed more than once; list each once")
    if target in drivers:
        raise DriverDataError(f"the target {target!r} is also listed as a driver; remove it")
    require_columns(frame, [*drivers, target], table="the data", error=DriverDataError,
                    fix="check the names or the params file")
    return drivers


def _prepare(
    frame: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    weights: str | Sequence[float] | np.ndarray | pd.Series | None,
) -> tuple[np.ndarray, np.ndarray | None, list[str], int]:
    """Complete cases as a float array (drivers, then target), case weights, names, dropped."""
    drivers = _check_names(frame, target, drivers)
    cols = [*drivers, target]
    # column by column into one array: a single copy (frame[cols].to_numpy() makes two)
    data = np.empty((len(frame), len(cols)), order="F")
    try:
        for j, col in enumerate(cols):
            data[:, j] = frame[col].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        kinds = {c: str(frame[c].dtype) for c in cols}
        raise DriverDataError(f"target and drivers must be numeric; dtypes are {kinds}. "
                              "Convert ratings with pd.to_numeric(errors='coerce')") from exc
    w = None
    if weights is not None:
        if isinstance(weights, str):
            require_columns(frame, [weights], table="the data", error=DriverDataError,
                            fix="name the column of case weights, or pass the weights")
            w = frame[weights].to_numpy(dtype=float, na_value=np.nan)
        else:
            w = np.asarray(weights, dtype=float).reshape(-1)
            if w.shape[0] != len(frame):
                raise DriverDataError(f"weights has {w.shape[0]} values for {len(frame)} rows; "
                                      "pass one weight per row")
        if np.isinf(w).any() or (w < 0).any():
            raise DriverDataError("case weights must be finite and non-negative")
    # one matrix-vector product finds rows with a non-finite value; only those are inspected
    suspect = np.flatnonzero(~np.isfinite(data @ np.ones(data.shape[1])))
    bad = np.zeros(data.shape[0], dtype=bool)
    if suspect.size:
        sub = data[suspect]
        infinite = np.isinf(sub).any(axis=0)
        if infinite.any():
            names = [c for c, flag in zip(cols, infinite, strict=True) if flag]
            raise DriverDataError(f"columns {names} hold infinite values; replace them with "
                                  "NaN (missing) or a valid rating")
        bad[suspect] = np.isnan(sub).any(axis=1)
    if w is not None:
        bad |= np.isnan(w)
    n_dropped = int(bad.sum())
    if n_dropped:
        keep = ~bad
        data = data[keep]
        w = None if w is None else w[keep]
    n = data.shape[0]
    if n < len(drivers) + 2:
        raise DriverDataError(f"{n} complete cases for {len(drivers)} drivers: need at least "
                              f"{len(drivers) + 2} rows with the target and every driver")
    if w is not None and not w.sum() > 0:
        raise DriverDataError("the case weights of the complete cases sum to zero")
    return data, w, drivers, n_dropped


def _weighted_moments(data: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance (divided by the weight total).

    Unweighted data whose columns are not far from zero relative to their spread (e.g.
    ratings) use one cross-product pass, X'X - n m m'; otherwise, or with weights, the data
    are centred block by block first, which costs a second pass but loses no digits.
    """
    q = data.shape[1]
    if w is None:
        total = float(data.shape[0])
        mean = (np.ones(data.shape[0]) @ data) / total
        cov = (data.T @ data) / total - np.outer(mean, mean)
        var = np.diag(cov)
        # the shortcut loses about log10(mean^2 / var) of the 16 digits; keep it below 3
        if np.all(var > 1e-3 * mean**2):
            return mean, (cov + cov.T) / 2
    else:
        total = float(w.sum())
        mean = (w @ data) / total
    cross = np.zeros((q, q))
    shift = np.zeros(q)  # sum of centred values: rounding left in the mean (corrected 2-pass)
    for start in range(0, data.shape[0], _BLOCK_ROWS):
        centred = data[start:start + _BLOCK_ROWS] - mean
        if w is not None:
            weighted = centred.T * w[start:start + _BLOCK_ROWS]
            cross += weighted @ centred
            shift += weighted.sum(axis=1)
        else:
            cross += centred.T @ centred
            shift += centred.sum(axis=0)
    shift /= total
    cov = cross / total - np.outer(shift, shift)
    return mean + shift, (cov + cov.T) / 2


def _corr_from_cov(cov: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Correlation matrices from covariances (batched); a variable whose variance is at or
    below ``floor`` gets zero correlations (it explains nothing and is explained by nothing)."""
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    ok = var > floor
    sd = np.sqrt(np.where(ok, var, 1.0))
    corr = cov / (sd[..., :, None] * sd[..., None, :])
    corr = np.where(ok[..., :, None] & ok[..., None, :], corr, 0.0)
    np.clip(corr, -1.0, 1.0, out=corr)
    q = cov.shape[-1]
    corr[..., np.arange(q), np.arange(q)] = 1.0
    return corr


def _point_corr(data: np.ndarray, w: np.ndarray | None, cols: list[str]) -> tuple:
    mean, cov = _weighted_moments(data, w)
    var = np.diag(cov)
    constant = var <= (1e-12 * np.abs(mean)) ** 2
    if constant.any():
        names = [c for c, flag in zip(cols, constant, strict=True) if flag]
        raise DriverDataError(f"columns {names} do not vary in the complete cases; a constant "
                              "cannot explain or be explained: drop it")
    return mean, cov, _corr_from_cov(cov, np.zeros(len(cols)))


@cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# --- Poisson(1) bootstrap weights ----------------------------------------------------------


@cache
def _poisson1_tables() -> tuple[np.ndarray, np.ndarray]:
    """Inverse-CDF tables of Poisson(1) on a 32-bit uniform.

    Returns the thresholds T (X = number of T_k <= U for U uniform on 0..2^32-1) and a
    lookup from the top 16 bits of U to X, holding 255 where those bits do not decide X.
    """
    pmf = [math.exp(-1.0) / math.factorial(k) for k in range(40)]
    thresholds = np.floor(np.cumsum(pmf) * 2.0**32).astype(np.int64)
    thresholds = np.unique(thresholds[thresholds < 2**32])
    low = np.arange(1 << 16, dtype=np.int64) << 16
    a = np.searchsorted(thresholds, low, side="right")
    b = np.searchsorted(thresholds, low + (1 << 16) - 1, side="right")
    table = np.where(a == b, a, 255).astype(np.uint8)
    return thresholds, table


def _poisson1(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Poisson(1) counts as uint8, exact up to the 2^-32 resolution of the uniform.

    Sixteen random bits decide the count except in the few buckets that straddle a CDF step;
    those draws get sixteen more bits. Several times faster than ``rng.poisson``.
    """
    thresholds, table = _poisson1_tables()
    size = shape[0] * shape[1]
    # raw 64-bit words cut into four 16-bit uniforms: a third cheaper than integers()
    high = rng.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size].reshape(shape)
    out = table[high]
    flat = out.reshape(-1)
    undecided = np.flatnonzero(flat == 255)
    if undecided.size:
        low = rng.integers(0, 1 << 16, size=undecided.size, dtype=np.int64)
        u = (high.reshape(-1)[undecided].astype(np.int64) << 16) | low
        flat[undecided] = np.searchsorted(thresholds, u, side="right")
    return out


def _bootstrap_covs(
    data: np.ndarray,
    w: np.ndarray | None,
    mean: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Covariance matrices of ``n_boot`` Poisson-bootstrap resamples, shape (n_boot, q, q).

    Each row's products (1, x, x x') are formed once; the draws' weighted sums are one
    (draws x rows) @ (rows x products) matrix product per cache-sized block of rows. Runs of
    blocks go to a few threads (numpy and a one-threaded BLAS release the GIL), each run with
    its own child generator, and are summed in order: results do not depend on threads.
    """
    n, q = data.shape
    n_prod = 1 + q + q * (q + 1) // 2
    block = max(64, min(n, _BOOT_BLOCK_ELEMENTS // n_boot))
    run_rows = block * _BOOT_BLOCKS_PER_RUN
    starts = range(0, n, run_rows)
    generators = rng.spawn(len(starts))

    def run(first_row: int, gen: np.random.Generator) -> np.ndarray:
        sums = np.zeros((n_boot, n_prod))
        for start in range(first_row, min(n, first_row + run_rows), block):
            stop = min(n, start + block, first_row + run_rows)
            prods = _products(data[start:stop] - mean, None if w is None else w[start:stop])
            sums += _poisson1(gen, (n_boot, stop - start)).astype(np.float64) @ prods
        return sums

    workers = min(len(starts), _BOOT_THREADS)
    # BLAS's own threads would fight ours, and stall on small products when the machine
    # is busy; one BLAS thread per worker keeps every product small and local
    sums = np.zeros((n_boot, n_prod))
    with _blas_controller().limit(limits=1, user_api="blas"):
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for part in pool.map(run, starts, generators):  # in row order
                    sums += part
        else:
            for first_row, gen in zip(starts, generators, strict=True):
                sums += run(first_row, gen)
    return _covs_from_sums(sums, q)


def _cluster_bootstrap_covs(
    data: np.ndarray,
    w: np.ndarray | None,
    mean: np.ndarray,
    cluster: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Covariance matrices of ``n_boot`` cluster-bootstrap resamples, shape (n_boot, q, q).

    Answers cluster within dealers (a dealer's customers share its staff and its rating
    habits), so resampling answers understates the doubt. Each cluster gets one Poisson(1)
    weight per draw, shared by all its rows: the rows' products are summed per cluster once,
    and a draw is one (draws x clusters) @ (clusters x products) product.
    """
    n, q = data.shape
    n_prod = 1 + q + q * (q + 1) // 2
    k = int(cluster.max()) + 1 if n else 0
    per_cluster = np.zeros((k, n_prod))
    block = 100_000
    for start in range(0, n, block):
        stop = min(n, start + block)
        prods = _products(data[start:stop] - mean, None if w is None else w[start:stop])
        codes = cluster[start:stop]
        for j in range(n_prod):
            per_cluster[:, j] += np.bincount(codes, weights=prods[:, j], minlength=k)
    sums = rng.poisson(1.0, (n_boot, k)).astype(np.float64) @ per_cluster
    return _covs_from_sums(sums, q)


def _products(centred: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Each row's (1, x, upper triangle of x x'), times its weight: the sums a covariance needs."""
    q = centred.shape[1]
    iu, ju = np.triu_indices(q)
    prods = np.empty((centred.shape[0], 1 + q + iu.size))
    prods[:, 0] = 1.0
    prods[:, 1:1 + q] = centred
    np.multiply(centred[:, iu], centred[:, ju], out=prods[:, 1 + q:])
    if w is not None:
        prods *= w[:, None]
    return prods


def _covs_from_sums(sums: np.ndarray, q: int) -> np.ndarray:
    """Covariances from the draws' weighted sums of (1, x, x x') around the full-data mean."""
    n_boot = sums.shape[0]
    iu, ju = np.triu_indices(q)
    total = sums[:, 0]
    safe = np.where(total > 0, total, 1.0)
    first = sums[:, 1:1 + q]
    upper = (sums[:, 1 + q:] - first[:, iu] * first[:, ju] / safe[:, None]) / safe[:, None]
    cov = np.zeros((n_boot, q, q))
    cov[:, iu, ju] = upper
    cov[:, ju, iu] = upper
    cov[total <= 0] = 0.0
    return cov


# --- all-subsets R^2, LMG and relative weights ---------------------------------------------


def _sweep_elements(p: int) -> int:
    """Floats stored by the all-subsets walk for one correlation matrix."""
    return (p + 1) ** 2 + sum((1 << m) * (p - m) ** 2 for m in range(p))


def _subset_r2(corr: np.ndarray) -> np.ndarray:
    """R^2 of the target (last variable) on every subset of the drivers.

    Parameters
    ----------
    corr
        Correlation matrices, shape (..., p + 1, p + 1), target last.

    Returns
    -------
    ndarray, shape (..., 2**p)
        Entry ``mask`` is the R^2 on the drivers whose bits are set in ``mask``.

    Notes
    -----
    Subsets are grown in increasing driver order, so each has one parent (itself without its
    largest driver m) and carries the residual covariance, given its drivers, of the drivers
    after m and the target. Adding driver j is one sweep (a rank-one update) of that matrix,
    and R^2 is one minus the target's residual variance. All subsets whose largest driver is
    m are stacked and swept together, so the walk is p(p+1)/2 numpy operations in all.
    """
    q = corr.shape[-1]
    p = q - 1
    batch = corr.shape[:-2]
    r2 = np.zeros(batch + (1 << p,))
    masks: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    mats: list[np.ndarray] = [corr[..., None, :, :]]
    for j in range(p):
        count = 1 << j
        size = p - j
        child_masks = np.empty(count, dtype=np.int64)
        child = np.empty(batch + (count, size, size))
        offset = 0
        for parent_masks, parent in zip(masks, mats, strict=True):
            t = parent.shape[-1] - size - 1  # position of driver j in the parent's matrix
            k = parent_masks.size
            pivot = parent[..., t, t]
            col = parent[..., t + 1:, t]
            inv = np.divide(1.0, pivot, out=np.zeros_like(pivot), where=pivot > _PIVOT_TOL)
            np.subtract(parent[..., t + 1:, t + 1:],
                        (col * inv[..., None])[..., :, None] * col[..., None, :],
                        out=child[..., offset:offset + k, :, :])
            child_masks[offset:offset + k] = parent_masks | (1 << j)
            offset += k
        r2[..., child_masks] = 1.0 - child[..., -1, -1]
        masks.append(child_masks)
        mats.append(child)
    return r2


@cache
def _shapley_terms(p: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """For each driver i: the subsets S without i and the Shapley weight |S|!(p-|S|-1)!/p!."""
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = ((masks[:, None] >> np.arange(p)) & 1).sum(axis=1)
    weight = np.array([1.0 / (p * math.comb(p - 1, k)) for k in range(p)])
    terms = []
    for i in range(p):
        without = masks[(masks >> i) & 1 == 0]
        terms.append((without, weight[sizes[without]]))
    return tuple(terms)


@cache
def _shapley_matrix(p: int) -> np.ndarray:
    """(2^p, p) matrix C with LMG = R^2-by-subset @ C: C[S, i] is the Shapley weight of
    |S| - 1 when i is in S and minus that of |S| when it is not."""
    masks = np.arange(1 << p, dtype=np.int64)
    member = ((masks[:, None] >> np.arange(p)) & 1).astype(bool)
    sizes = member.sum(axis=1)
    weight = np.array([1.0 / (p * math.comb(p - 1, k)) for k in range(p)] + [0.0])
    return np.where(member, weight[np.maximum(sizes - 1, 0)][:, None],
                    -weight[sizes][:, None])


def _lmg(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LMG importances (..., p) and full-model R^2 (...) from correlation matrices."""
    p = corr.shape[-1] - 1
    if p > MAX_LMG_DRIVERS:
        raise DriverDataError(f"exact LMG over 2^{p} subsets is limited to {MAX_LMG_DRIVERS} "
                              "drivers; use method='relative_weights' or fewer drivers")
    batch = corr.shape[:-2]
    flat = corr.reshape((-1,) + corr.shape[-2:])
    imp = np.empty((flat.shape[0], p))
    r2_full = np.empty(flat.shape[0])
    step = max(1, _SWEEP_BLOCK_ELEMENTS // _sweep_elements(p))
    for start in range(0, flat.shape[0], step):
        r2 = _subset_r2(flat[start:start + step])
        if p <= 16:  # the weight matrix is at most 8 MB: one matrix product
            imp[start:start + step] = r2 @ _shapley_matrix(p)
        else:
            for i, (without, weight) in enumerate(_shapley_terms(p)):
                imp[start:start + step, i] = (r2[:, without | (1 << i)] - r2[:, without]) @ weight
        r2_full[start:start + step] = r2[:, -1]
    return imp.reshape(batch + (p,)), r2_full.reshape(batch)


def _relative_weights(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Johnson's (2000) raw relative weights (..., p) and R^2 (...) from correlations."""
    rxx = corr[..., :-1, :-1]
    rxy = corr[..., :-1, -1]
    evals, evecs = np.linalg.eigh(rxx)
    tol = _PIVOT_TOL * rxx.shape[-1]
    root = np.sqrt(np.clip(evals, 0.0, None))
    inv_root = np.divide(1.0, root, out=np.zeros_like(root), where=evals > tol)
    vt = np.swapaxes(evecs, -1, -2)
    lam = (evecs * root[..., None, :]) @ vt  # correlations of drivers with orthogonal Z
    beta = evecs @ (inv_root * (vt @ rxy[..., None])[..., 0])[..., None]
    raw = (lam**2) @ (beta**2)
    return raw[..., 0], (beta[..., 0] ** 2).sum(axis=-1)


def _decompose(corr: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method == "lmg":
        return _lmg(corr)
    if method == "relative_weights":
        return _relative_weights(corr)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _rng(random_state) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _result(
    importance: np.ndarray,
    r2: float,
    drivers: list[str],
    *,
    n: int | None,
    n_dropped: int,
    method: str,
    target: str,
    level: float,
    boot_imp: np.ndarray | None = None,
    boot_r2: np.ndarray | None = None,
) -> ImportanceResult:
    share = importance / r2 if r2 > 0 else np.full_like(importance, np.nan)
    if boot_imp is not None and boot_imp.shape[0]:
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(boot_imp, [alpha, 1.0 - alpha], axis=0)
        draws = pd.DataFrame(boot_imp, columns=pd.Index(drivers, name="driver"))
        n_boot = boot_imp.shape[0]
    else:
        low = high = np.full(len(drivers), np.nan)
        draws, boot_r2, n_boot = None, None, 0
    table = pd.DataFrame(
        {"importance": importance, "share": share, "low": low, "high": high},
        index=pd.Index(drivers, name="driver"),
    ).assign(rank=lambda d: d["importance"].rank(ascending=False, method="min").astype(int))
    return ImportanceResult(table=table, r2=float(r2), n=n, n_dropped=n_dropped,
                            method=method, target=target, level=level, n_boot=n_boot,
                            draws=draws, r2_draws=boot_r2)


def relative_importance(
    frame: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str],
    method: Method = "lmg",
    n_boot: int = 0,
    level: float | None = None,
    weights: str | Sequence[float] | np.ndarray | pd.Series | None = None,
    random_state: int | np.random.Generator | None = None,
    cluster: str | None = None,
    settings: Settings | None = None,
) -> ImportanceResult:
    """Decompose the R^2 of ``target ~ drivers`` into each driver's part.

    Parameters
    ----------
    frame
        One row per response, with the target and the driver columns (numeric; NaN missing).
    target
        Column explained, e.g. ``"nps"`` (the 0-10 score).
    drivers
        Driver columns, e.g. ``list(load_params("drivers")["drivers"])``.
    method
        ``"lmg"``: exact Shapley value of R^2 over all 2^p subsets (= general dominance;
        up to 20 drivers, about a millisecond for 10). ``"relative_weights"``: Johnson (2000).
    n_boot
        Bootstrap draws for the ``low``/``high`` percentile interval of each importance; 0 for
        none. Draws reweight the complete cases by Poisson(1) counts (a Poisson bootstrap,
        asymptotically the same as resampling rows) and reuse the rows' cross products, so
        200 draws cost a few dozen point estimates, not 200.
    level
        Confidence level of the interval; None takes ``settings.level``.
    weights
        Case weights: a column name or one value per row (e.g. survey weights). Correlations
        and R^2 are then weighted; integer weights act as repeated rows.
    random_state
        Seed or Generator for the bootstrap; the same seed gives the same intervals.
    cluster
        A column whose groups are resampled whole (a cluster bootstrap), e.g. ``"dealer_id"``:
        answers cluster within dealers, and resampling them one by one understates the
        doubt. The reports pass ``bootstrap_cluster`` of params/drivers.yaml. With fewer
        groups than ``bootstrap_min_clusters`` (params/drivers.yaml) the answers are resampled:
        a handful of groups cannot show the doubt between them. None resamples
        answers.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml); an explicit
        ``level`` wins over it. ``n_boot`` stays 0 unless given: a single fit shows no
        interval unless asked (the reports' draws are ``settings.n_boot``, see
        :func:`importance_by_period`).

    Returns
    -------
    ImportanceResult
        ``.table`` indexed by driver (importance, share, low, high, rank), ``.r2``, ``.n``,
        ``.n_dropped``, ``.summary()``.

    Notes
    -----
    Only complete cases (target, every driver and the weight present) are used; how many
    rows were dropped is reported. The decomposition depends on the data only through the
    correlation matrix, so it is invariant to row order and to affine rescaling of any column.
    """
    level = level_or(level, settings)
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 or more, got {n_boot}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    data, w, drivers, n_dropped = _prepare(frame, target, drivers, weights)
    mean, cov, corr = _point_corr(data, w, [*drivers, target])
    importance, r2 = _decompose(corr, method)
    boot_imp = boot_r2 = None
    codes = (None if not n_boot or cluster is None
             else _cluster_codes(frame, cluster, drivers, target, weights))
    if codes is not None and len(np.unique(codes)) < _min_clusters():
        # a handful of dealers cannot show the doubt between dealers (one dealer: every
        # resample is the same, an interval of zero width): the answers are resampled
        codes = None
    if codes is not None:
        covs = _cluster_bootstrap_covs(data, w, mean, codes, n_boot, _rng(random_state))
        corrs = _corr_from_cov(covs, 1e-20 * np.diag(cov))
        boot_imp, boot_r2 = _decompose(corrs, method)
    elif n_boot:
        covs = _bootstrap_covs(data, w, mean, n_boot, _rng(random_state))
        corrs = _corr_from_cov(covs, 1e-20 * np.diag(cov))
        boot_imp, boot_r2 = _decompose(corrs, method)
    return _result(importance, float(r2), drivers, n=data.shape[0], n_dropped=n_dropped,
                   method=method, target=target, level=level, boot_imp=boot_imp,
                   boot_r2=boot_r2)


def _min_clusters() -> int:
    """Clusters a cluster bootstrap needs (params/drivers.yaml ``bootstrap_min_clusters``)."""
    from analysis.config import load_params

    return int(load_params("drivers")["bootstrap_min_clusters"])


def _cluster_codes(frame: pd.DataFrame, cluster: str, drivers: list[str], target: str,
                   weights) -> np.ndarray:
    """Integer cluster codes of the complete cases, in the order :func:`_prepare` keeps."""
    require_columns(frame, [cluster], table="the data", error=DriverDataError,
                    fix="name the column whose groups the bootstrap resamples (dealer_id)")
    keep = frame[[*drivers, target]].notna().all(axis=1).to_numpy()
    if isinstance(weights, str):
        keep &= frame[weights].notna().to_numpy()
    elif weights is not None:
        keep &= ~np.isnan(np.asarray(weights, dtype=float).reshape(-1))
    codes = pd.factorize(frame[cluster])[0][keep]
    if (codes < 0).any():
        raise DriverDataError(f"some complete cases have no {cluster!r}; fill or drop them")
    return codes


def relative_importance_from_corr(
    corr: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str] | None = None,
    method: Method = "lmg",
    n: int | None = None,
) -> ImportanceResult:
    """Relative importance from a correlation (or covariance) matrix.

    Parameters
    ----------
    corr
        Square DataFrame with the same labels on both axes, holding the target and drivers.
        A covariance matrix is rescaled to correlations.
    target
        Label of the explained variable.
    drivers
        Labels of the drivers; every other label by default.
    method
        ``"lmg"`` or ``"relative_weights"``, as in :func:`relative_importance`.
    n
        Sample size behind the matrix, only reported.
    """
    if not isinstance(corr, pd.DataFrame):
        raise TypeError(f"corr must be a DataFrame, got {type(corr).__name__}")
    if list(corr.index) != list(corr.columns):
        raise DriverDataError("corr must have the same labels, in the same order, on both axes")
    if drivers is None:
        drivers = [c for c in corr.columns if c != target]
    drivers = _check_names(corr, target, drivers)
    cols = [*drivers, target]
    mat = corr.loc[cols, cols].to_numpy(dtype=float)
    if not np.isfinite(mat).all():
        raise DriverDataError("corr holds missing or infinite values")
    if not np.allclose(mat, mat.T, rtol=0, atol=1e-10 * np.abs(mat).max()):
        raise DriverDataError("corr is not symmetric")
    var = np.diag(mat)
    if (var <= 0).any():
        names = [c for c, v in zip(cols, var, strict=True) if v <= 0]
        raise DriverDataError(f"variables {names} have zero variance on the diagonal")
    std = _corr_from_cov((mat + mat.T) / 2, np.zeros(len(cols)))
    if np.linalg.eigvalsh(std).min() < -1e-8:
        raise DriverDataError("corr is not positive semi-definite, so it is not a correlation "
                              "matrix of any data; use pairwise-complete data with care")
    importance, r2 = _decompose(std, method)
    return _result(importance, float(r2), drivers, n=n, n_dropped=0, method=method,
                   target=target, level=0.95)


# --- cross-checks by other models ----------------------------------------------------------


def _complete_sample(frame, target, drivers, max_rows, random_state):
    drivers = _check_names(frame, target, drivers)
    sample = frame[[*drivers, target]].dropna()
    n_complete = len(sample)
    if max_rows is not None and n_complete > max_rows:
        rng = _rng(random_state)
        sample = sample.iloc[np.sort(rng.choice(n_complete, size=max_rows, replace=False))]
    if len(sample) < len(drivers) + 2:
        raise DriverDataError(f"{len(sample)} complete cases for {len(drivers)} drivers")
    x = sample[drivers].astype(float)
    sd = x.std()
    if (sd == 0).any():
        raise DriverDataError(f"drivers {list(sd.index[sd == 0])} do not vary in the sample")
    return drivers, (x - x.mean()) / sd, sample[target], n_complete


def _score_levels(y: pd.Series, target: str) -> pd.Series:
    values = y.to_numpy(dtype=float)
    if not np.allclose(values, np.round(values)):
        raise DriverDataError(f"{target!r} must hold whole-number scores (e.g. NPS 0-10) for "
                              "the ordinal and detractor models")
    return y.round().astype(int)


def _effects_table(drivers, est, low, high, pvalues, n) -> pd.DataFrame:
    return pd.DataFrame(
        {"effect": est, "low": low, "high": high, "odds_ratio": np.exp(est),
         "p_value": pvalues, "n": n},
        index=pd.Index(drivers, name="driver"),
    ).assign(rank=lambda d: d["effect"].abs().rank(ascending=False, method="min").astype(int))


def ordinal_effects(
    frame: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str],
    level: float | None = None,
    max_rows: int | None = 20_000,
    random_state: int | np.random.Generator | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Driver effects in a proportional-odds (ordinal logit) model of the 0-10 score.

    Fits statsmodels' ``OrderedModel`` (logit link) of the score on the drivers standardised
    to mean 0 and SD 1, on complete cases. Frames with more than ``max_rows`` complete cases
    are subsampled to ``max_rows`` rows (without replacement, by ``random_state``) to keep the
    fit to seconds. ``level`` None takes ``settings.level`` (None: params/*.yaml).

    Returns
    -------
    DataFrame
        Indexed by driver: ``effect`` (log-odds of a higher score per SD of the driver),
        ``low``/``high`` (Wald interval at ``level``), ``odds_ratio``, ``p_value``, ``n``
        (rows fitted) and ``rank`` (by absolute effect, 1 = largest).
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    level = level_or(level, settings)
    drivers, x, y, _ = _complete_sample(frame, target, drivers, max_rows, random_state)
    y = _score_levels(y, target)
    if y.nunique() < 3:
        raise DriverDataError(f"{target!r} takes fewer than 3 values; use detractor_effects")
    model = OrderedModel(y.to_numpy(), x.to_numpy(), distr="logit")
    fit = model.fit(method="bfgs", maxiter=2000, disp=False)
    p = len(drivers)
    ci = np.asarray(fit.conf_int(alpha=1 - level))[:p]
    return _effects_table(drivers, np.asarray(fit.params)[:p], ci[:, 0], ci[:, 1],
                          np.asarray(fit.pvalues)[:p], len(y))


def detractor_effects(
    frame: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str],
    detractor_max: int = 6,
    level: float | None = None,
    max_rows: int | None = 20_000,
    random_state: int | np.random.Generator | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Driver effects in a logit of being a detractor (score <= ``detractor_max``).

    The default 6 is the NPS definition (params/nps.yaml ``detractor_max``). Drivers are
    standardised as in :func:`ordinal_effects`; frames with more than ``max_rows`` complete
    cases are subsampled by ``random_state``. ``level`` None takes ``settings.level``.

    Returns
    -------
    DataFrame
        Indexed by driver: ``effect`` (log-odds of being a detractor per SD of the driver;
        negative = protective), ``low``, ``high``, ``odds_ratio``, ``p_value``, ``n``, ``rank``
        (by absolute effect).
    """
    import statsmodels.api as sm

    level = level_or(level, settings)
    drivers, x, y, _ = _complete_sample(frame, target, drivers, max_rows, random_state)
    detractor = (_score_levels(y, target) <= detractor_max).astype(float)
    if detractor.nunique() < 2:
        raise DriverDataError("everyone or no one is a detractor in the sample; a logit needs "
                              "both")
    fit = sm.Logit(detractor.to_numpy(), sm.add_constant(x.to_numpy())).fit(disp=0, maxiter=200)
    ci = np.asarray(fit.conf_int(alpha=1 - level))[1:]
    return _effects_table(drivers, np.asarray(fit.params)[1:], ci[:, 0], ci[:, 1],
                          np.asarray(fit.pvalues)[1:], len(y))


def nonlinear_importance(
    frame: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str],
    max_rows: int | None = 20_000,
    n_repeats: int = 5,
    test_size: float = 0.25,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Permutation importance of drivers in a gradient-boosted model (non-linear effects).

    Fits scikit-learn's ``HistGradientBoostingRegressor`` on ``1 - test_size`` of the
    complete cases and measures, on the held-out rest, how much R^2 drops when one driver is
    shuffled (``n_repeats`` times). Frames with more than ``max_rows`` complete cases are
    subsampled first (by ``random_state``).

    Returns
    -------
    DataFrame
        Indexed by driver: ``importance`` (mean drop in held-out R^2), ``std`` (over
        repeats), ``r2_test`` (held-out R^2 of the model), ``n`` and ``rank``.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    rng = _rng(random_state)
    drivers, x, y, _ = _complete_sample(frame, target, drivers, max_rows, rng)
    seeds = rng.integers(0, 2**31 - 1, size=3)
    x_train, x_test, y_train, y_test = train_test_split(
        x.to_numpy(), y.to_numpy(dtype=float), test_size=test_size, random_state=int(seeds[0]))
    # one OpenMP thread: the trees here are small, and on a busy machine OpenMP's barriers
    # between tiny parallel regions cost ten times the work itself
    with threadpool_limits(limits=1, user_api="openmp"):
        model = HistGradientBoostingRegressor(random_state=int(seeds[1])).fit(x_train, y_train)
        perm = permutation_importance(model, x_test, y_test, scoring="r2",
                                      n_repeats=n_repeats, random_state=int(seeds[2]))
        r2_test = model.score(x_test, y_test)
    return pd.DataFrame(
        {"importance": perm.importances_mean, "std": perm.importances_std,
         "r2_test": r2_test, "n": len(y)},
        index=pd.Index(drivers, name="driver"),
    ).assign(rank=lambda d: d["importance"].rank(ascending=False, method="min").astype(int))


def kendalls_w(ranks: pd.DataFrame) -> float:
    """Kendall's coefficient of concordance W of several rankings, corrected for ties.

    Parameters
    ----------
    ranks
        One row per item (driver), one column per ranking (method). Values are re-ranked per
        column (average ranks for ties), so scores work as well as ranks.

    Returns
    -------
    float
        W in [0, 1]: 1 when all rankings agree, about 0 when they are unrelated. Without ties
        the mean pairwise Spearman correlation is (m W - 1) / (m - 1) for m rankings.
    """
    r = ranks.rank(axis=0, method="average").to_numpy(dtype=float)
    n, m = r.shape
    if n < 2 or m < 2:
        raise ValueError("Kendall's W needs at least two items and two rankings")
    totals = r.sum(axis=1)
    s = ((totals - totals.mean()) ** 2).sum()
    ties = 0.0
    for col in r.T:
        _, counts = np.unique(col, return_counts=True)
        ties += (counts**3 - counts).sum()
    denom = m**2 * (n**3 - n) - m * ties
    return float(12 * s / denom) if denom > 0 else float("nan")


def compare_methods(
    frame: pd.DataFrame,
    *,
    target: str,
    drivers: Sequence[str],
    max_rows: int | None = 20_000,
    detractor_max: int = 6,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Rank the drivers by five methods side by side.

    Methods (columns, ranks with 1 = most important): ``lmg`` and ``relative_weights`` on
    all complete cases; ``ordinal`` (:func:`ordinal_effects`, by absolute effect per SD),
    ``detractor_logit`` (:func:`detractor_effects`) and ``hgb_permutation``
    (:func:`nonlinear_importance`), each on at most ``max_rows`` complete cases subsampled by
    ``random_state`` so the whole comparison runs in seconds.

    Returns
    -------
    DataFrame
        Indexed by driver, one rank column per method. ``.attrs["kendall_w"]`` holds the rank
        agreement: Kendall's W across the five rankings (see :func:`kendalls_w`; 1 = perfect
        agreement). ``.attrs["n"]`` is the number of complete cases.
    """
    rng = _rng(random_state)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
    lmg = relative_importance(frame, target=target, drivers=drivers, method="lmg")
    rw = relative_importance(frame, target=target, drivers=drivers, method="relative_weights")
    ordinal = ordinal_effects(frame, target=target, drivers=drivers, max_rows=max_rows,
                              random_state=seeds[0])
    detractor = detractor_effects(frame, target=target, drivers=drivers, max_rows=max_rows,
                                  detractor_max=detractor_max, random_state=seeds[1])
    hgb = nonlinear_importance(frame, target=target, drivers=drivers, max_rows=max_rows,
                               random_state=seeds[2])
    table = pd.DataFrame({
        "lmg": lmg.table["rank"],
        "relative_weights": rw.table["rank"],
        "ordinal": ordinal["rank"],
        "detractor_logit": detractor["rank"],
        "hgb_permutation": hgb["rank"],
    })
    table.attrs["kendall_w"] = kendalls_w(table)
    table.attrs["n"] = lmg.n
    return table


# --- dynamics ------------------------------------------------------------------------------


def _default_drivers(drivers: Sequence[str] | None) -> list[str]:
    if drivers is not None:
        return list(drivers)
    from analysis.config import load_params

    return list(load_params("drivers")["drivers"])


def _periods(responses: pd.DataFrame, time_col: str, period: str) -> pd.Series:
    require_columns(responses, [time_col], table="responses", error=DriverDataError,
                    fix="name the time column with time_col=")
    return pd.to_datetime(responses[time_col]).dt.to_period(period)


def _period_rng(random_state, period: pd.Period) -> np.random.Generator:
    # one stream per period, so a period's interval does not depend on which others are run
    if isinstance(random_state, np.random.Generator):
        return random_state.spawn(1)[0]
    if random_state is None:
        return np.random.default_rng()
    return np.random.default_rng([int(random_state), int(period.ordinal) + 2**40])


def _fit_periods(responses, target, drivers, period, time_col, n_boot, level, random_state,
                 which=None, cluster=None) -> dict:
    drivers = _default_drivers(drivers)
    labels = _periods(responses, time_col, period)
    fits: dict = {}
    for label, rows in responses.groupby(labels, sort=True):
        if which is not None and label not in which:
            continue
        try:
            fits[label] = relative_importance(rows, target=target, drivers=drivers,
                                              n_boot=n_boot, level=level,
                                              random_state=_period_rng(random_state, label),
                                              cluster=cluster)
        except DriverDataError:
            fits[label] = None  # too few complete cases or a constant column in this period
    return fits


def importance_by_period(
    responses: pd.DataFrame,
    *,
    target: str = "nps",
    drivers: Sequence[str] | None = None,
    period: str = "M",
    time_col: str = "responded_at",
    n_boot: int | None = None,
    level: float | None = None,
    random_state: int | np.random.Generator | None = None,
    cluster: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """LMG importance of each driver in each period, with bootstrap intervals.

    Parameters
    ----------
    responses
        One row per response with ``time_col``, the target and the drivers.
    drivers
        Driver columns; the keys of params/drivers.yaml ``drivers`` by default.
    period
        pandas period alias (``"M"`` month, ``"Q"`` quarter, ``"W"`` week).
    n_boot, level, random_state
        As in :func:`relative_importance`; with an integer seed each period gets its own
        stream derived from the seed and the period, so its interval is reproducible.
        ``n_boot`` and ``level`` None take ``settings.n_boot`` and ``settings.level``.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml).

    Returns
    -------
    DataFrame
        Tidy: ``period``, ``driver``, ``importance``, ``share``, ``low``, ``high`` (interval of
        importance), ``n`` (complete cases in the period), ``r2``. Periods with too few
        complete cases (fewer than drivers + 2) or a constant column get NaN values.
    """
    s = settings_or(settings)
    n_boot = s.n_boot if n_boot is None else n_boot
    level = s.level if level is None else level
    drivers = _default_drivers(drivers)
    labels = _periods(responses, time_col, period)
    fits = _fit_periods(responses, target, drivers, period, time_col, n_boot, level,
                        random_state, cluster=cluster)
    parts = []
    for label, fit in fits.items():
        if fit is None:
            rows = responses.loc[labels == label, [*drivers, target]]
            part = pd.DataFrame({"driver": drivers, "importance": np.nan, "share": np.nan,
                                 "low": np.nan, "high": np.nan,
                                 "n": int(rows.notna().all(axis=1).sum()), "r2": np.nan})
        else:
            part = (fit.table.reset_index()
                    .drop(columns="rank")
                    .assign(n=fit.n, r2=fit.r2))
        parts.append(part.assign(period=label))
    columns = ["period", "driver", "importance", "share", "low", "high", "n", "r2"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def importance_change(
    responses: pd.DataFrame,
    *,
    target: str = "nps",
    drivers: Sequence[str] | None = None,
    period: str = "M",
    time_col: str = "responded_at",
    periods: tuple | None = None,
    measure: Literal["share", "importance"] = "share",
    n_boot: int | None = None,
    level: float | None = None,
    random_state: int | np.random.Generator | None = None,
    cluster: str | None = None,
    q: float | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Did a driver's importance change between the previous and the last period?

    The two periods are independent samples, so each is bootstrapped on its own and the
    difference of the draws gives a percentile interval of the change.

    Parameters
    ----------
    periods
        ``(before, after)`` period labels to compare; the last two periods in the data with
        responses by default.
    measure
        ``"share"`` (share of R^2, comparable when R^2 itself moves) or ``"importance"``
        (R^2 units).
    n_boot, level, random_state
        As in :func:`importance_by_period` (the same seed gives the same per-period draws).

    Returns
    -------
    DataFrame
        One row per driver: ``driver``, ``before``, ``after`` (period labels),
        ``value_before``, ``value_after``, ``diff`` (after - before), ``low``, ``high``
        (interval of diff at ``level``), ``changed`` (the interval excludes 0), ``p_value``
        (two-sided bootstrap p-value: twice the smaller share of draws on either side of 0,
        with the +1 correction), ``p_adj`` and ``change_flag`` (Benjamini-Hochberg over the
        drivers at ``q``: the flag the report stars; the drivers are five tests a month,
        and ``changed`` alone carries no multiplicity control).
    cluster
        As in :func:`relative_importance` (``"dealer_id"``: resample dealers).
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml): ``n_boot``,
        ``level`` and ``q`` None take its fields.
    """
    if measure not in ("share", "importance"):
        raise ValueError(f"measure must be 'share' or 'importance', got {measure!r}")
    s = settings_or(settings)
    n_boot = s.n_boot if n_boot is None else n_boot
    level = s.level if level is None else level
    q = s.q if q is None else q
    if n_boot < 2:
        raise ValueError("importance_change needs bootstrap draws: n_boot >= 2")
    drivers = _default_drivers(drivers)
    labels = _periods(responses, time_col, period)
    if periods is None:
        present = labels.dropna().unique()
        if len(present) < 2:
            raise DriverDataError("fewer than two periods with responses: nothing to compare")
        # the last period and the one before it in the calendar, not the last two with data:
        # across a gap month the "change" would compare March with January
        after = max(present)
        before = after - 1
        if before not in set(present):
            raise DriverDataError(f"no responses in {before}, the period before {after}: "
                                  "pass periods=(before, after) to compare other periods")
    else:
        before, after = (pd.Period(p, freq=labels.dt.freq) for p in periods)
    fits = _fit_periods(responses, target, drivers, period, time_col, n_boot, level,
                        random_state, which={before, after}, cluster=cluster)
    for label in (before, after):
        if fits.get(label) is None:
            raise DriverDataError(f"period {label} has too few complete cases (or a constant "
                                  "column) to estimate importance")

    def values(fit: ImportanceResult) -> tuple[np.ndarray, np.ndarray]:
        if measure == "share":
            return fit.table["share"].to_numpy(), fit.share_draws.to_numpy()
        return fit.table["importance"].to_numpy(), fit.draws.to_numpy()

    v0, d0 = values(fits[before])
    v1, d1 = values(fits[after])
    diff_draws = d1 - d0
    alpha = (1 - level) / 2
    low, high = np.nanquantile(diff_draws, [alpha, 1 - alpha], axis=0)
    finite = np.isfinite(diff_draws)
    count = finite.sum(axis=0)
    below = ((diff_draws <= 0) & finite).sum(axis=0)
    above = ((diff_draws >= 0) & finite).sum(axis=0)
    p_value = np.minimum(1.0, 2 * (np.minimum(below, above) + 1) / (count + 1))
    from analysis.estimators import bh_flags

    p_adj, flag = bh_flags(p_value, q=float(q))
    return pd.DataFrame({
        "driver": drivers, "before": before, "after": after,
        "value_before": v0, "value_after": v1, "diff": v1 - v0, "low": low, "high": high,
        "changed": (low > 0) | (high < 0), "p_value": p_value, "p_adj": p_adj,
        "change_flag": flag,
    })


# --- importance-performance map ------------------------------------------------------------


def importance_performance(
    responses: pd.DataFrame,
    *,
    target: str = "nps",
    drivers: Sequence[str] | None = None,
    importance: ImportanceResult | Mapping[str, float] | pd.Series | None = None,
    scales: Mapping[str, tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Importance-performance analysis (Martilla & James 1977) of the drivers.

    Parameters
    ----------
    responses
        One row per response with the target and the 1-10 driver ratings.
    drivers
        Driver columns; the keys of params/drivers.yaml ``drivers`` by default.
    importance
        Importance per driver: an :class:`ImportanceResult` (its ``share`` is used) or a
        mapping driver -> value. By default the LMG share from :func:`relative_importance`
        on the complete cases of ``responses``.
    scales
        ``{driver: (low, high)}``, the scale each driver was rated on
        (:func:`analysis.ingest.rating_scales`). When given, the table adds ``position``
        (the mean rating as a share of its scale, 0 at the bottom, 1 at the top) and the
        performance cross-hair is the mean of the positions: drivers rated 1-5 and 0-10
        compare there, while ``performance`` stays in each driver's own scale.

    Returns
    -------
    DataFrame
        One row per driver: ``driver``, ``importance``, ``performance`` (mean rating over all
        responses that rated the driver, in its scale), ``n`` (those responses),
        [``position``,] and ``quadrant``. The
        cross-hairs are the means over drivers of importance and of performance (the
        data-centred variant; the original used the scale midpoints, which put nearly every
        driver of a well-rated network on one side). A driver at or above the importance mean
        is "important"; at or above the performance mean, "performing":

        - important, not performing: ``"concentrate here"``
        - important, performing: ``"keep up the good work"``
        - neither: ``"low priority"``
        - performing, not important: ``"possible overkill"``
    """
    drivers = _default_drivers(drivers)
    if importance is None:
        imp = relative_importance(responses, target=target, drivers=drivers).table["share"]
    elif isinstance(importance, ImportanceResult):
        imp = importance.table["share"]
    else:
        imp = pd.Series(importance, dtype=float)
    absent = [d for d in drivers if d not in imp.index]
    if absent:
        raise DriverDataError(f"importance has no value for drivers {absent}")
    _check_names(responses, target, drivers)
    ratings = responses[drivers].apply(pd.to_numeric, errors="coerce")
    table = pd.DataFrame({
        "driver": drivers,
        "importance": imp.reindex(drivers).to_numpy(dtype=float),
        "performance": ratings.mean().to_numpy(),
        "n": ratings.notna().sum().to_numpy(),
    })
    if scales is not None:
        from analysis.coverage import scale_of

        bounds = np.array([scale_of(d, scales) for d in drivers], dtype=float).reshape(-1, 2)
        table = table.assign(position=(table["performance"] - bounds[:, 0])
                             / (bounds[:, 1] - bounds[:, 0]))
    level = table["position"] if scales is not None else table["performance"]
    important = table["importance"] >= table["importance"].mean()
    performing = level >= level.mean()
    quadrant = np.select(
        [important & ~performing, important & performing, ~important & ~performing],
        list(QUADRANTS[:3]), default=QUADRANTS[3])
    return table.assign(quadrant=pd.Categorical(quadrant, categories=list(QUADRANTS)))


def driver_names() -> list[str]:
    """The driver columns of params/drivers.yaml, in the order of the reports."""
    return _default_drivers(None)


def mean_ratings(
    scopes: Mapping[str, pd.DataFrame],
    *,
    month: str | None = None,
    drivers: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean rating of each driver in each scope: drivers down (index ``driver``), scopes across.

    ``scopes`` maps a name (a dealer, its region, the network) to its answers; ``month``
    (``YYYY-MM``, matched against the frames' ``month`` column) keeps one month of each.
    """
    drivers = _default_drivers(drivers)
    return pd.DataFrame({
        name: (frame if month is None else frame.loc[frame["month"] == month])[drivers].mean()
        for name, frame in scopes.items()}).rename_axis("driver")
