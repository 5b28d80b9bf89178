"""Sustained-change alarms: whose NPS (a dealer's, a touchpoint's, a region's, the network's)
moved and stayed moved.

A dealer's monthly NPS is mostly noise (about 7 points of standard error at 100 answers a
month), so a month-on-month test at a strict false-alarm rate finds almost nothing. What a
manager can act on is a *sustained* shift - a dealer 10 points worse for a quarter - found
early and at a known false-alarm rate. This module tests, every month and for every unit,
whether its last quarter or half-year (``windows``, months) sits below or above its own
months before, allowing for the sampling noise of each month and for the real month-to-month
variation units show anyway.

The monthly series
------------------
For unit ``u`` and month ``t``: ``y_ut`` its NPS from that month's counts. Every unit below
the network - a touchpoint, a region, a dealer, a dealer's touchpoint - is measured against
the rest of the network in the same month (a dealer's touchpoint against the same touchpoint
elsewhere): ``d_ut = y_ut - y_rest,t``, the rest being the network's counts minus the unit's.
A network-wide movement (the winter dip, a national campaign) then moves no dealer and no
touchpoint: it is one alarm, the network's, not forty dealer alarms, and a dealer's alarm says
it moved against the others. The network itself is tested on its own series,
``d_ut = y_ut``. The rest of the *network*, not of the region: a region holds 2-10 dealers,
so the monthly NPS of its other dealers is noisy; what a region shares over time is taken
off its dealers instead as a trend (``regional_trend``): each region's own linear trend
against the rest of the network, fitted over the history on the region's other dealers
(:func:`regional_trend`; the demo's regions drift slowly, and over three years of history that
drift alone raised a dealer's false alarms from 0.09 to 0.27 a year). The trend's
uncertainty is part of each test's variance. A region's own movement is the region unit's
alarm.

The sampling variance of ``d_ut`` is ``s_u^2 / n_ut + s_rest^2 / n_rest,t`` with ``s^2`` the
per-answer variance (points^2) of the unit's answers over the whole history, with the
adjusted Wald pseudo-counts of params/nps.yaml added (:func:`analysis.nps.within_sum_of_squares`), so
three promoters do not claim zero noise. Units also move from month to month for reasons of
their own (a busy month, an advisor on leave): that between-month variance ``tau^2`` is
estimated per level (all dealers together, all regions together, ...) by the
method of moments over the steps between consecutive months of every unit,

    Q = sum_u sum_t (d_ut - d_u,t-1)^2 / (var_ut + var_u,t-1),
    tau^2 = max(0, (Q - P) / (2 sum_u sum_t 1 / (var_ut + var_u,t-1))),

``P`` the number of steps (the DerSimonian-Laird estimator of the steps, whose expectation is
``var_ut + var_u,t-1 + 2 tau^2``). Steps rather than deviations from each unit's mean, so that
a dealer that really shifted counts once (one step) and not in every month since: the changes
the alarms look for do not inflate the noise they are judged against. Every month's variance
is ``v_ut = var_ut + tau^2``: a dealer's shocks of its own do not raise alarms, and the same
threshold holds whether the data carry such shocks or not.

The test
--------
In month ``t``, for a window of the last ``k`` months (``t-k+1 .. t``) against the unit's
months before it (back to ``history_months``):

    change_k = mean_w(d, last k) - mean_w(d, before),  var_k = 1 / sum_w(last k) + 1 / sum_w(before),
    z_k = change_k / sqrt(var_k),

means weighted by ``1 / v`` (plus, for dealers, the variance of their region's trend over the
distance between the two parts' mean months). The statistic is ``max_k z_k`` over ``windows`` (a drop: of
``-z_k``), counted only where both parts hold ``min_answers`` answers, the part before
``min_baseline_months`` months with answers, and ``|change_k| >= min_change`` points (a
network of 4,000 answers a month would otherwise alarm on a precise but immaterial 2-point
move). An alarm is raised when it reaches ``threshold`` and stays raised while it remains
above ``threshold - release`` (a unit near the threshold does not flicker in and out of the
list). The ``alarm_month`` is the month the current alarm was raised.

The change is estimated to start at the change point of the mean-shift model: the start of
the window ``k`` in 1 .. ``history_months - min_baseline_months`` with the largest ``z_k`` in the
alarm's direction (that maximises the profile likelihood of one shift); its ``change`` is
``change_k`` there with an interval at the NPS level of params/nps.yaml. The interval is
conditional on the chosen start, which leans it away from 0: it describes the alarm, it does
not test it.

Why windows rather than a CUSUM: simulations of networks of the demo's size (40 dealers, 100
answers a dealer-month, 24 months of history, no shocks or drift; ``benchmarks/bench_alarms.py``)
at the same false-alarm rate (0.09 per dealer-year, both directions) found a planted 15-point
drop within 3 months in 0.79 of runs with the quarter and half-year windows against 0.71-0.74
with a two-sided likelihood-ratio CUSUM tuned to 10 or 12 points (Page 1954), and a 10-point
drop within 6 months in 0.75 against 0.66-0.74: the question is about a horizon, which a fixed
window answers best, while a CUSUM minimises the average delay. ``windows``, ``threshold``,
``release``, ``min_change`` and the history are in params/flags.yaml (``alarms:``), calibrated
there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import nps as nps_module
from analysis.config import params_or
from analysis.errors import require_columns
from analysis.estimators import z_value
from analysis.settings import Settings, settings_or

__all__ = ["ALARM_COLUMNS", "DIRECTIONS", "LEVEL_NAMES", "alarm_params", "alarm_state", "Alarms",
           "detect", "detect_counts", "level_tests", "monthly_deviations", "pseudo_counts",
           "regional_trend", "rest_counts", "window_tests"]

DIRECTIONS = ("drop", "rise")
#: Keys that name a unit within the network; a level's other keys (a touchpoint) are the
#: stratum whose rest it is measured against.
_WITHIN_NETWORK = ("region", "dealer_id")
_COUNTS = ["promoters", "passives", "detractors"]
ALARM_COLUMNS = ("level", "region", "dealer_id", "touchpoint", "direction", "alarmed",
                 "statistic", "threshold", "start", "alarm_month", "change", "change_low",
                 "change_high", "baseline", "months", "n")
LEVEL_NAMES = {(): "network", ("touchpoint",): "touchpoint", ("region",): "region",
               ("dealer_id",): "dealer", ("dealer_id", "touchpoint"): "dealer_touchpoint",
               ("region", "touchpoint"): "region_touchpoint"}


def alarm_params(params: dict | None = None) -> dict:
    """The ``alarms`` settings: ``params["alarms"]`` when given, else params/flags.yaml's."""
    if params is not None and "alarms" in params:
        return params["alarms"]
    return nps_module.flag_params(params)["alarms"]


def pseudo_counts(params: dict | None = None) -> np.ndarray:
    """The adjusted Wald pseudo-counts of params/nps.yaml (promoters, passives, detractors)."""
    p = params_or("nps", params)["interval"]["adjusted_wald_pseudo_counts"]
    return np.array([p["promoters"], p["passives"], p["detractors"]], dtype=float)


def _per_answer_var(totals: np.ndarray, pseudo: np.ndarray) -> np.ndarray:
    """Per-answer variance (points^2) of counts ``(..., 3)`` with the pseudo-counts added."""
    aug = totals + pseudo
    flat = aug.reshape(-1, 3)
    return (nps_module.within_sum_of_squares(flat) / flat.sum(axis=1)).reshape(aug.shape[:-1])


def _monthly(counts: np.ndarray, pseudo: np.ndarray):
    """NPS (NaN without answers), sampling variance (inf without answers) and answers per
    month of counts ``(..., T, 3)``; the per-answer variance is the whole history's."""
    n = counts.sum(axis=-1)
    y = nps_module.nps_from_counts(counts[..., 0], counts[..., 1], counts[..., 2])
    s2 = _per_answer_var(counts.sum(axis=-2), pseudo)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 0, s2 / np.where(n > 0, n, 1), np.inf)
    return np.asarray(y, dtype=float), var, n


def _tau2(d: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Between-month variance from the steps between consecutive months, pooled over the
    units (axis -2) of ``d`` and ``var`` ``(..., U, T)`` (the module docstring); a step to or
    from a month without answers is left out."""
    ok = np.isfinite(d) & np.isfinite(var)
    pair = ok[..., 1:] & ok[..., :-1]
    both = var[..., 1:] + var[..., :-1]
    w = np.where(pair, 1.0 / np.where(pair, both, 1.0), 0.0)
    step = np.where(pair, d[..., 1:] - d[..., :-1], 0.0)
    q = (w * step**2).sum(axis=(-1, -2))
    c = 2.0 * w.sum(axis=(-1, -2))
    pairs = pair.sum(axis=(-1, -2))
    return np.where(c > 0, np.maximum(0.0, (q - pairs) / np.where(c > 0, c, 1.0)), 0.0)


def regional_trend(unit: np.ndarray, stratum: np.ndarray, region: np.ndarray, *,
                   pseudo: np.ndarray) -> dict[str, np.ndarray]:
    """Each unit's region's own linear trend against the rest of the network, as it shows in
    the unit's difference from the rest of the network (the module docstring): fitted by
    weighted least squares on the monthly difference between the other units of the region
    and the units outside it (the unit itself left out); 0 where the region has no other
    unit.

    Returns ``trend`` ``(..., U, T)`` (NPS points, 0 at the weighted mean month) and
    ``slope_var`` ``(..., U)``, the variance of its slope (points^2 per month^2)."""
    stratum = np.asarray(stratum)
    net_rest = rest_counts(unit, stratum)
    reg_rest = rest_counts(unit, np.asarray(region) * (int(stratum.max()) + 1) + stratum)
    outside = net_rest - reg_rest
    y_in, var_in, n_in = _monthly(reg_rest, pseudo)
    y_out, var_out, n_out = _monthly(outside, pseudo)
    gap = y_in - y_out
    ok = np.isfinite(gap) & np.isfinite(var_in) & np.isfinite(var_out)
    w = np.where(ok, 1.0 / np.where(ok, var_in + var_out, 1.0), 0.0)
    t = np.arange(unit.shape[-2], dtype=float)
    sw = w.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (w * t).sum(axis=-1, keepdims=True) / sw
        g_mean = (w * np.where(ok, gap, 0.0)).sum(axis=-1, keepdims=True) / sw
        sxx = (w * (t - t_mean) ** 2).sum(axis=-1, keepdims=True)
        slope = (w * (t - t_mean) * (np.where(ok, gap, 0.0) - g_mean)).sum(
            axis=-1, keepdims=True) / sxx
        # the rest of the network holds the region's other units too: their share of it
        # moves with the region, the unit's difference from it by the remainder
        share = n_in.sum(axis=-1, keepdims=True) / (n_in + n_out).sum(axis=-1, keepdims=True)
        slope_var = (1.0 - share[..., 0]) ** 2 / sxx[..., 0]
    trend = (1.0 - share) * slope * (t - t_mean)
    return {"trend": np.where(np.isfinite(trend), trend, 0.0),
            "slope_var": np.where(np.isfinite(slope_var), slope_var, 0.0)}


def monthly_deviations(unit: np.ndarray, rest: np.ndarray | None = None, *,
                       pseudo: np.ndarray, tau2=None, trend: np.ndarray | None = None
                       ) -> dict[str, np.ndarray]:
    """Each unit's monthly series ``d`` (its NPS, or its NPS minus the rest's) and variance
    ``v`` (sampling variance plus ``tau^2``), vectorised.

    Parameters
    ----------
    unit
        Counts ``(..., U, T, 3)``: promoters, passives, detractors per unit and month. Leading
        axes are independent batches (simulated networks); ``tau^2`` is pooled over ``U``.
    rest
        The same shape: the rest of the network's counts for each unit, or None.
    pseudo
        :func:`pseudo_counts`.
    tau2
        The between-month variance; None estimates it (per batch, over the units).
    trend
        NPS points ``(..., U, T)`` taken off ``d`` (:func:`regional_trend`), or None.

    Returns
    -------
    dict
        ``d``, ``v``, ``n`` (answers) ``(..., U, T)`` and ``tau2`` ``(...)``.
    """
    y, var, n = _monthly(np.asarray(unit, dtype=float), pseudo)
    if rest is not None:
        y_rest, var_rest, _ = _monthly(np.asarray(rest, dtype=float), pseudo)
        y, var = y - y_rest, var + var_rest
    d = np.where(np.isfinite(var), y, np.nan)
    if trend is not None:
        d = d - trend
    tau2 = _tau2(d, var) if tau2 is None else np.asarray(tau2, dtype=float)
    return {"d": d, "v": var + tau2[..., None, None], "n": n, "tau2": tau2}


def window_tests(d: np.ndarray, v: np.ndarray, n: np.ndarray, *, max_window: int,
                 history_months: int, min_answers: int, min_baseline_months: int,
                 slope_var: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The last-``k``-months tests of every month, for ``k`` = 1 .. ``max_window``.

    ``d``, ``v``, ``n`` are ``(..., U, T)`` (:func:`monthly_deviations`); ``slope_var``
    ``(..., U)`` the variance of a trend's slope taken off ``d`` (:func:`regional_trend`),
    which adds ``slope_var * (mean month of the part - mean month before)^2`` to each test's
    variance. Returns arrays
    ``(..., U, T, K)``: ``change`` (the mean of the last ``k`` months up to each month minus
    the mean of the months before, back to ``history_months``), ``var``, ``z`` (NaN where
    either part lacks ``min_answers`` answers, or the part before lacks
    ``min_baseline_months`` months with answers) and ``baseline`` (the mean before).
    """
    ok = np.isfinite(d) & np.isfinite(v)
    w = np.where(ok, 1.0 / np.where(ok, v, 1.0), 0.0)
    pad = [(0, 0)] * (d.ndim - 1) + [(1, 0)]
    cw = np.pad(np.cumsum(w, axis=-1), pad)
    cwd = np.pad(np.cumsum(w * np.where(ok, d, 0.0), axis=-1), pad)
    cn = np.pad(np.cumsum(n, axis=-1), pad)
    cm = np.pad(np.cumsum(ok, axis=-1), pad)
    cwt = np.pad(np.cumsum(w * np.arange(d.shape[-1]), axis=-1), pad)
    t_len = d.shape[-1]
    t = np.arange(t_len)[:, None]
    k = np.arange(1, max_window + 1)[None, :]
    end, cut = t + 1, np.maximum(t + 1 - k, 0)          # the last k months: [cut, end)
    first = np.maximum(t + 1 - history_months, 0)       # the months before: [first, cut)
    first = np.minimum(first, cut)

    def part(c, lo, hi):
        return c[..., hi] - c[..., lo]

    w1, w0 = part(cw, cut, end), part(cw, first, cut)
    n1, n0 = part(cn, cut, end), part(cn, first, cut)
    m0 = part(cm, first, cut)
    full = (t + 1 - k) >= 0
    valid = full & (n1 >= min_answers) & (n0 >= min_answers) & (m0 >= min_baseline_months)
    valid &= (w1 > 0) & (w0 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean1 = part(cwd, cut, end) / w1
        mean0 = part(cwd, first, cut) / w0
        var = 1.0 / w1 + 1.0 / w0
        if slope_var is not None:
            gap = part(cwt, cut, end) / w1 - part(cwt, first, cut) / w0
            var = var + np.asarray(slope_var)[..., None, None] * gap**2
        change = mean1 - mean0
        z = change / np.sqrt(var)
    nan = np.nan
    return {"change": np.where(valid, change, nan), "var": np.where(valid, var, nan),
            "z": np.where(valid, z, nan), "baseline": np.where(valid, mean0, nan)}


def alarm_state(tests: dict[str, np.ndarray], *, sign: float, windows: Sequence[int],
                threshold: float, release: float, min_change: float) -> dict[str, np.ndarray]:
    """The alarm of one direction (``sign`` -1: drop, +1: rise) at the last month, from
    :func:`window_tests`.

    Returns arrays over the units: ``statistic`` (max over ``windows`` of ``sign * z`` at the
    last month, NaN where no window can be tested), ``alarmed``, ``alarm`` (index of the month
    the current alarm was raised, -1 without one), ``start`` (index of the estimated first
    month of a change this way, -1 where no window moved this way) and ``change``/``var``
    there.
    """
    z = sign * tests["z"]
    material = np.abs(np.nan_to_num(tests["change"])) >= min_change
    cols = [w - 1 for w in windows if w <= z.shape[-1]]
    stat = np.where(material[..., cols], z[..., cols], -np.inf).max(axis=-1)  # (..., U, T)
    raw = np.where(np.isnan(z[..., cols]), -np.inf, z[..., cols]).max(axis=-1)
    on = np.zeros(stat.shape[:-1], dtype=bool)
    raised = np.full(stat.shape[:-1], -1)
    for t in range(stat.shape[-1]):
        now = (stat[..., t] >= threshold) | (on & (stat[..., t] >= threshold - release))
        raised = np.where(now & ~on, t, np.where(now, raised, -1))
        on = now
    last = z[..., -1, :]                                  # (..., U, K): every window now
    best = np.argmax(np.where(np.isfinite(last), last, -np.inf), axis=-1)
    # a start and a size only where some window moved this way (else the row has neither)
    tested = np.take_along_axis(last, best[..., None], axis=-1)[..., 0] > 0
    t_len = z.shape[-2]
    take = best[..., None]
    change = np.take_along_axis(tests["change"][..., -1, :], take, axis=-1)[..., 0]
    var = np.take_along_axis(tests["var"][..., -1, :], take, axis=-1)[..., 0]
    statistic = raw[..., -1]
    return {"statistic": np.where(np.isfinite(statistic), statistic, np.nan),
            "alarmed": on, "alarm": raised,
            "start": np.where(tested, t_len - 1 - best, -1),
            "change": np.where(tested, change, np.nan), "var": np.where(tested, var, np.nan)}


@dataclass(frozen=True)
class Alarms:
    """What :func:`detect` found.

    Attributes
    ----------
    table
        One row per unit and direction (:data:`ALARM_COLUMNS`): ``level`` (``network``,
        ``touchpoint``, ``region``, ``dealer``, ``dealer_touchpoint``), the unit's keys (None
        where the level has none), ``direction`` (drop / rise), ``alarmed``, ``statistic``
        (the largest z of the ``windows`` in this direction now; reported for every unit,
        NaN where the unit's answers allow no test) and ``threshold``, ``start`` (the month
        the change is estimated to start; None where no window moved this way),
        ``alarm_month`` (when the alarm was raised;
        alarmed rows only), ``change`` (NPS points since ``start`` against the months
        before) with ``change_low``/``change_high``, ``baseline`` (the unit's level before
        ``start``: its NPS, or its NPS minus the rest of the network's), ``months`` (with
        answers) and ``n`` (answers) in the history.
    tau
        Per level: the between-month standard deviation used (NPS points).
    months
        The history read (YYYY-MM), oldest first.
    """

    table: pd.DataFrame
    tau: pd.Series
    months: tuple[str, ...]

    @property
    def alarms(self) -> pd.DataFrame:
        """The alarmed rows, the largest statistic first."""
        return (self.table.loc[self.table["alarmed"]]
                .sort_values("statistic", ascending=False, kind="stable").reset_index(drop=True))

    def summary(self) -> str:
        """A few lines: the history, tau per level and the alarms."""
        lines = [f"history {self.months[0]}..{self.months[-1]}; tau (NPS points): "
                 + ", ".join(f"{k} {v:.1f}" for k, v in self.tau.items())]
        for row in self.alarms.itertuples():
            unit = "/".join(str(v) for v in (row.region, row.dealer_id, row.touchpoint)
                            if isinstance(v, str)) or "network"
            lines.append(f"{row.level} {unit}: {row.direction} {row.change:+.1f} "
                         f"[{row.change_low:+.1f}; {row.change_high:+.1f}] since {row.start}, "
                         f"alarm {row.alarm_month}, z = {row.statistic:.2f}")
        if len(lines) == 1:
            lines.append("no alarms")
        return "\n".join(lines)


def detect(
    responses: pd.DataFrame,
    *,
    month: str | None = None,
    score: str = "nps",
    time_col: str = "responded_at",
    params: dict | None = None,
    settings: Settings | None = None,
) -> Alarms:
    """Sustained-change alarms of every unit from the answers (counted, then
    :func:`detect_counts`). ``responses`` hold ``dealer_id``, ``region`` and ``touchpoint``
    where they can, ``score`` and ``time_col``, for the whole network: a region's report
    keeps its own rows of the result, the rest of the network being what each dealer is
    measured against."""
    keys = [k for k in ("region", "dealer_id", "touchpoint") if k in responses]
    counts = nps_module.count_categories(responses, by=keys, period="M", score=score,
                                         time_col=time_col, params=params)
    return detect_counts(counts, month=month, params=params, settings=settings)


def detect_counts(
    counts: pd.DataFrame,
    *,
    month: str | None = None,
    levels: Sequence[Sequence[str]] | None = None,
    params: dict | None = None,
    settings: Settings | None = None,
) -> Alarms:
    """Sustained-change alarms from a monthly count table.

    Parameters
    ----------
    counts
        :func:`analysis.nps.count_categories` by (some of) region, dealer_id, touchpoint with
        ``period="M"``: columns ``period`` (monthly Periods), promoters, passives, detractors
        and the keys; pieces of one table may repeat a group (they are summed).
    month
        The month of the alarms (YYYY-MM); None: the table's last month. The
        ``history_months`` months up to it are read.
    levels
        Key sets of the units (``()``: the network); None: params ``alarms.levels`` (those whose
        keys the table has).
    params
        The NPS params (params/nps.yaml's keys: ``interval``, and ``level``, which wins over
        ``settings``) and the alarms' settings as ``alarms`` (or ``flags.alarms``); what is
        missing is read from params/nps.yaml and params/flags.yaml.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml): the level of
        the changes' intervals.

    Returns
    -------
    Alarms
    """
    a = alarm_params(params)
    p_nps = params if params is not None and "interval" in params else params_or("nps", None)
    explicit = params is not None and "level" in params
    level = float(params["level"]) if explicit else settings_or(settings).level
    require_columns(counts, ["period", *_COUNTS], table="the counts",
                    fix="count the answers with analysis.nps.count_categories(period='M')")
    periods = counts["period"]
    last = pd.Period(month, freq="M") if month else periods.max()
    history = pd.period_range(end=last, periods=int(a["history_months"]), freq="M")
    frame = counts.loc[periods.isin(history)]
    present = frame["period"]
    if len(present):  # months before the first answer are not history, they are nothing
        history = history[history >= present.min()]
    if levels is None:
        levels = [tuple(lv) for lv in a["levels"] if set(lv) <= set(counts.columns)]
    tables, taus = [], {}
    for keys in levels:
        found = _level_table(frame, list(keys), history, a, p_nps, level)
        if found is not None:
            tables.append(found[0])
            taus[LEVEL_NAMES.get(tuple(keys), "/".join(keys))] = found[1]
    columns = list(ALARM_COLUMNS)
    table = (pd.concat(tables, ignore_index=True)[columns] if tables
             else pd.DataFrame(columns=columns))
    return Alarms(table, pd.Series(taus, dtype=float, name="tau"),
                  tuple(str(p) for p in history))


def _cube(frame: pd.DataFrame, keys: list[str], history: pd.PeriodIndex
          ) -> tuple[pd.DataFrame, np.ndarray]:
    """The units (their keys) and their counts ``(U, T, 3)`` over the history's months."""
    if not keys:
        summed = frame.groupby("period", observed=True)[_COUNTS].sum()
        cube = np.zeros((1, len(history), 3))
        cube[0, history.get_indexer(summed.index)] = summed.to_numpy(dtype=float)
        return pd.DataFrame(index=[0]), cube
    summed = frame.groupby([*keys, "period"], observed=True, sort=True)[_COUNTS].sum()
    unit_index = summed.index.droplevel("period")
    units = unit_index.unique()
    cube = np.zeros((len(units), len(history), 3))
    cube[units.get_indexer(unit_index),
         history.get_indexer(summed.index.get_level_values("period"))] = summed.to_numpy(
             dtype=float)
    unit_frame = (units.to_frame(index=False) if isinstance(units, pd.MultiIndex)
                  else pd.DataFrame({keys[0]: np.asarray(units)}))
    return unit_frame, cube


def rest_counts(unit: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For each unit, the counts of the other units of its group: ``unit`` ``(..., U, T, 3)``,
    ``groups`` integer codes ``(..., U)`` (a touchpoint; a region and touchpoint)."""
    groups = np.asarray(groups)
    onehot = (groups[..., :, None] == np.arange(int(groups.max()) + 1)).astype(float)
    totals = np.einsum("...ug,...utk->...gtk", onehot, unit)
    return np.einsum("...ug,...gtk->...utk", onehot, totals) - unit


def level_tests(unit: np.ndarray, a: dict, *, stratum: np.ndarray | None = None,
                region: np.ndarray | None = None, pseudo: np.ndarray, max_window: int,
                select: slice | None = None) -> tuple[dict, dict]:
    """The monthly series and window tests of one level's units, as :func:`detect` runs them.

    ``unit`` holds counts ``(..., U, T, 3)`` of every unit of the level (leading axes: batches
    of simulated networks); ``stratum`` codes ``(..., U)`` make the units part of the network,
    measured against the rest of it in their stratum (None: each on its own series);
    ``region`` codes ``(..., U)`` take each region's own trend off its dealers' series (with
    ``regional_trend`` of ``a``, the ``alarms`` settings). ``select`` keeps some units for the
    tests (simulations that test one dealer of a network). Returns
    (:func:`monthly_deviations`, :func:`window_tests`).
    """
    rest = None if stratum is None else rest_counts(unit, stratum)
    trend = {"trend": None, "slope_var": None}
    if rest is not None and region is not None and a.get("regional_trend", False):
        trend = regional_trend(unit, stratum, region, pseudo=pseudo)
    series = monthly_deviations(unit, rest, pseudo=pseudo, trend=trend["trend"])
    pick = slice(None) if select is None else select
    slope_var = None if trend["slope_var"] is None else trend["slope_var"][..., pick]
    tests = window_tests(series["d"][..., pick, :], series["v"][..., pick, :],
                         series["n"][..., pick, :], max_window=max_window,
                         history_months=unit.shape[-2], min_answers=int(a["min_answers"]),
                         min_baseline_months=int(a["min_baseline_months"]),
                         slope_var=slope_var)
    return series, tests


def _level_table(frame, keys, history, a, p_nps, level):
    """The alarm rows of one level's units (a level of the hierarchy) and its tau, with
    intervals at confidence ``level``; None when the frame lacks its keys or units."""
    if not set(keys) <= set(frame.columns):
        return None
    units, cube = _cube(frame, keys, history)
    if len(units) == 0 or len(history) == 0:
        return None
    stratum = region = None
    if keys:
        # a region's or a dealer's touchpoint against the network's same touchpoint; a
        # touchpoint, a region or a dealer against the whole rest of the network
        others = [k for k in keys if k not in _WITHIN_NETWORK]
        others = [] if others == keys else others
        stratum = (pd.MultiIndex.from_frame(units[others]).factorize()[0] if others
                   else np.zeros(len(units), dtype=int))
        if "dealer_id" in keys and "region" in frame:
            region_of = frame.drop_duplicates("dealer_id").set_index("dealer_id")["region"]
            region = pd.factorize(units["dealer_id"].map(region_of))[0]
    windows = [int(w) for w in a["windows"]]
    max_window = max(max(windows), len(history) - int(a["min_baseline_months"]), 1)
    series, tests = level_tests(cube, a, stratum=stratum, region=region,
                                pseudo=pseudo_counts(p_nps), max_window=max_window)
    h = float(a["threshold"])
    z = z_value(level)
    rows = []
    for direction, sign in (("drop", -1.0), ("rise", 1.0)):
        st = alarm_state(tests, sign=sign, windows=windows, threshold=h,
                         release=float(a["release"]), min_change=float(a["min_change"]))
        half = z * np.sqrt(st["var"])
        start = st["start"]
        last = len(history) - 1
        base = tests["baseline"][..., -1, :]
        k = np.where(start >= 0, last - start, 0)
        baseline = np.where(start >= 0, np.take_along_axis(base, k[:, None], axis=-1)[:, 0],
                            np.nan)
        rows.append(units.assign(
            direction=direction, alarmed=st["alarmed"], statistic=st["statistic"],
            threshold=h,
            start=[str(history[i]) if i >= 0 else None for i in start],
            alarm_month=[str(history[i]) if i >= 0 else None for i in st["alarm"]],
            change=st["change"], change_low=st["change"] - half,
            change_high=st["change"] + half, baseline=baseline,
            months=(series["n"] > 0).sum(axis=-1),
            n=series["n"].sum(axis=-1).astype("int64")))
    table = pd.concat(rows, ignore_index=True)
    table.insert(0, "level", LEVEL_NAMES.get(tuple(keys), "/".join(keys)))
    for key in ("region", "dealer_id", "touchpoint"):
        if key not in table:
            table[key] = None
    if "dealer_id" in keys and "region" not in keys and "region" in frame:
        region_of = frame.drop_duplicates("dealer_id").set_index("dealer_id")["region"]
        table["region"] = table["dealer_id"].map(region_of)
    return table, float(np.sqrt(series["tau2"]))
