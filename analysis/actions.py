"""Improvement actions: their completion and their measured effect (issue 17, "closing the loop").

Dealers keep action plans (the ``actions`` table: one row per action with its ``target``, a
loyalty driver or a root cause, and when it was opened, due and closed). The monthly meeting
asks two questions of them, answered here as tidy frames (no formatting: that is the report's):

- **Were they done?** :func:`action_status` (each action: done, overdue, open or cancelled, and
  whether it was done on time) and :func:`completion` (counts and the on-time rate with its
  Wilson interval, per dealer, region or any grouping).
- **Did they work?** :func:`action_effects`: for each closed action, the change of its target
  from a baseline before it opened to the ``window_months`` after it closed, minus the same
  change at comparable dealers that had no action on that target (a difference in
  differences), with an interval and a verdict. :func:`effects_by_region` averages them per
  region and target.

The effect's interval
---------------------
For the acting dealer ``A`` the change is ``d_A = mean_after - mean_before`` of the target
(a driver's 1-10 rating, or the share of answers naming a root cause) with sampling variance
``s_A^2 = var_before / n_before + var_after / n_after``. Every comparable dealer ``j`` gives its
own change ``d_j`` over the same two windows, with ``s_j^2``. Dealers also change for reasons
of their own (a new service manager, a broken booking line, a bad month): that spread
``tau^2`` is estimated by DerSimonian and Laird's method of moments (random-effects
meta-analysis) from every dealer of the network without such an action, around its region's
mean where the comparison is the region's (a region's dealers share its trends), with ``df``
= those dealers - regions degrees of freedom. The comparison change is the comparable
dealers' mean weighted by ``1 / (s_j^2 + tau^2)``, and

    effect = d_A - d_C,   var(effect) = s_A^2 + tau^2 + 1 / sum_j w_j,

so the interval covers the acting dealer's own shock too, not only the sampling noise. Its
quantile is Student t's with ``df`` degrees of freedom, not the normal one: ``tau^2`` is
estimated, and from few dealers badly (with 3 dealers, t's 4.3 instead of 1.96: with 2 or 3
a normal interval called 5.5 % of do-nothing actions effective and about as many worse, the t
interval 0.2 % at most; benchmarks/bench_actions.py).

The verdict (:data:`VERDICTS`): ``effective`` when the interval (at the run's
``Settings.level``) lies on the side the action means to move its target (``DIRECTION``: a
rating up, a cause's share down), ``worse`` when it lies on the other side, else
``no_evidence`` (not enough evidence yet, which is not "no effect"); a do-nothing action is
called effective with probability at most about ``(1 - level) / 2``. Not measured, with the
reason: ``no_comparison`` (every dealer acted on the target, as in a network-wide campaign:
the change would only be a before/after), ``few_comparison`` (fewer than ``min_comparison``
comparable dealers), ``few_answers``, ``causes_unknown``.

The baseline (:func:`baseline_window`) is ``window_months`` calendar months that end
``baseline_gap_months`` before the month the action opened in: an action is often opened
because last month's report showed a dip, and a dip in the baseline comes back on its own
(regression to the mean) and would pass for the action's effect.

Comparable dealers: those of the acting dealer's region (``comparison: region``; the whole
network where the region has fewer than ``min_comparison``), never a dealer with an action on
the same target that overlaps the windows. The action's own months (opened to closed) are
left out: the effect is measured after the work is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import DataError, require_columns
from analysis.estimators import t_value, two_sided_t_p, wilson_interval, z_value
from analysis.regions import region_for
from analysis.settings import Settings, level_or

__all__ = [
    "ActionsDataError",
    "DIRECTION",
    "EFFECT_COLUMNS",
    "MEASURED",
    "STATES",
    "VERDICTS",
    "action_effects",
    "action_status",
    "baseline_window",
    "completion",
    "effects_by_region",
    "monthly_review",
    "target_values",
    "verdicts",
]

STATES = ("done", "overdue", "open", "cancelled")
EFFECT_COLUMNS = ("action_id", "dealer_id", "target", "unit", "opened_at", "closed_at",
                  "n_before", "n_after", "before", "after", "change", "comparison_change",
                  "n_comparison", "tau", "df", "effect", "effect_se", "effect_low",
                  "effect_high", "p_value", "effective", "verdict")
#: What :func:`action_effects` concludes of an action: measured (the first three) or why not.
VERDICTS = ("effective", "worse", "no_evidence", "few_comparison", "no_comparison",
            "few_answers", "causes_unknown")
MEASURED = VERDICTS[:3]
#: The way an action means to move its target, by the target's unit: a driver's rating up,
#: the share of answers naming a root cause down.
DIRECTION = {"rating": 1.0, "share": -1.0}
_MIN_VAR = 1e-12  # a dealer whose answers all agree still has some sampling variance


class ActionsDataError(DataError):
    """The actions or the answers they are measured on lack what an analysis needs."""


def _settings(params: Mapping | None) -> dict:
    return params_or("loop", params)["actions"]


def action_status(actions: pd.DataFrame, *, as_of: pd.Timestamp | str | None = None
                  ) -> pd.DataFrame:
    """Each action's state as of a moment: ``done``, ``overdue`` (not done, past due),
    ``open`` or ``cancelled``, and ``on_time`` (done by its due date; NA when not done or
    without a due date).

    Parameters
    ----------
    as_of
        The moment the states are taken at (an action closed later is not done yet).
        None: the latest timestamp in the table.
    """
    require_columns(actions, ["action_id", "dealer_id", "target", "opened_at", "due_at",
                              "closed_at", "status"], table="actions", error=ActionsDataError)
    if as_of is None:
        as_of = pd.concat([actions["opened_at"], actions["closed_at"]]).max()
    as_of = pd.Timestamp(as_of)
    closed = actions["closed_at"].notna() & (actions["closed_at"] <= as_of)
    done = closed & (actions["status"] != "cancelled")
    cancelled = actions["status"] == "cancelled"
    overdue = ~done & ~cancelled & actions["due_at"].notna() & (actions["due_at"] < as_of)
    state = np.select([done, cancelled, overdue], ["done", "cancelled", "overdue"], "open")
    on_time = (actions["closed_at"] <= actions["due_at"]).where(
        done & actions["due_at"].notna()).astype("boolean")
    return (actions.loc[actions["opened_at"] <= as_of]
            .assign(state=pd.Series(state, index=actions.index), on_time=on_time,
                    as_of=as_of))


def completion(
    actions: pd.DataFrame,
    *,
    by: Sequence[str] = ("dealer_id",),
    dealers: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
    level: float | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Completion of actions per group: counts of each state, the done share and the on-time
    rate (done by the due date, among the done ones with a due date) with its Wilson interval.

    Parameters
    ----------
    by
        Grouping columns; ``region`` is attached from ``dealers`` when asked for. ``()`` for
        the whole network.
    as_of
        See :func:`action_status`.

    Returns
    -------
    One row per group: ``*by``, ``n``, ``done``, ``overdue``, ``open``, ``cancelled``,
    ``done_share``, ``on_time``, ``on_time_rate``, ``on_time_low``, ``on_time_high``.
    """
    level = level_or(level, settings)
    status = action_status(actions, as_of=as_of)
    by = list(by)
    status = region_for(status, dealers, by=by, table="actions", error=ActionsDataError)
    counts = pd.crosstab([status[c] for c in by] if by else pd.Series("all", index=status.index,
                                                                           name="_all"),
                         status["state"]).reindex(columns=list(STATES), fill_value=0)
    timed = status.loc[status["on_time"].notna()].astype({"on_time": "int64"})
    keys = [timed[c] for c in by] if by else pd.Series("all", index=timed.index, name="_all")
    on_time = (timed.groupby(keys)["on_time"].agg(["sum", "count"])
               .reindex(counts.index, fill_value=0).astype("float64"))
    out = counts.assign(n=counts.sum(axis=1))
    low, high = wilson_interval(on_time["sum"], on_time["count"], level=level)
    out = out.assign(
        done_share=out["done"] / out["n"].where(out["n"] > 0),
        on_time=on_time["sum"].astype("int64"),
        on_time_rate=on_time["sum"] / on_time["count"].where(on_time["count"] > 0),
        on_time_low=low, on_time_high=high,
    ).reset_index()
    if not by:
        out = out.drop(columns="_all")
    out.columns.name = None
    return out[[*by, "n", *STATES, "done_share", "on_time", "on_time_rate", "on_time_low",
                "on_time_high"]]


def _target_values(responses: pd.DataFrame, target: str, named: pd.Series | None
                   ) -> tuple[pd.Series, str]:
    """The target per answer (its rating, or 1/0: the answer names the cause) and the unit.

    ``named`` is the cause each answer names (NaN: none), aligned with ``responses``; None
    when the causes are unknown (a cause's share is then NaN).
    """
    if target in responses.columns:
        return responses[target].astype("float64"), "rating"
    if named is None:
        return pd.Series(np.nan, index=responses.index), "share"
    return (named == target).astype("float64"), "share"


def _named_causes(responses: pd.DataFrame, causes) -> pd.Series | None:
    """The cause each answer names, aligned with ``responses`` (see :func:`action_effects`'s
    ``causes``), or None when the causes are unknown."""
    if isinstance(causes, pd.DataFrame):
        require_columns(causes, ["response_id", "cause"], table="causes",
                        error=ActionsDataError)
        causes = causes.set_index("response_id")["cause"]
    return (responses["response_id"].map(causes) if causes is not None
            else responses["cause"] if "cause" in responses.columns else None)


def target_values(responses: pd.DataFrame, target: str, *,
                  causes: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """What an action on ``target`` moves, per answer: a driver's rating, or for a root
    cause 1.0 where the answer names it and 0.0 where it does not (NaN for every answer when
    the causes are unknown); ``causes`` as in :func:`action_effects`. Its mean over a
    dealer's answers is what :func:`action_effects` compares before and after."""
    return _target_values(responses, target, _named_causes(responses, causes))[0]


def _window_stats(values: np.ndarray, dealer: np.ndarray, names: pd.Index,
                  mask: np.ndarray) -> pd.DataFrame:
    """Per dealer with an answer where ``mask`` holds (``dealer`` the answers' positions in
    ``names``): the count, mean and variance of ``values``, indexed by ``dealer_id``."""
    sel = mask & ~np.isnan(values) & (dealer >= 0)
    code, y = dealer[sel], values[sel]
    n = np.bincount(code, minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(code, weights=y, minlength=len(names)) / n
        var = (np.bincount(code, weights=(y - mean[code]) ** 2, minlength=len(names))
               / (n - 1))
    seen = n > 0
    return pd.DataFrame({"n": n[seen], "mean": mean[seen], "var": var[seen]},
                        index=pd.Index(names[seen], name="dealer_id"))


def baseline_window(opened_at: pd.Timestamp, *, months: int, gap_months: int
                    ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The months an action's target is measured before it: the ``months`` calendar months
    that end ``gap_months`` whole months before the month it opened in (the start of the first
    and the start of the month after the last). The gap leaves out the month whose report may
    have triggered the action: a dip there would come back on its own (regression to the
    mean) and pass for the action's effect."""
    end = pd.Period(opened_at, freq="M").start_time - pd.DateOffset(months=gap_months)
    return end - pd.DateOffset(months=months), end


def _spread(change: np.ndarray, var: np.ndarray, group: np.ndarray) -> tuple[float, int]:
    """The spread ``tau^2`` of dealers' own changes around their group's mean (DerSimonian
    and Laird's method of moments, one mean per group: a region's dealers share its trends)
    and its degrees of freedom (dealers - groups); NaN where that is below 1."""
    codes = pd.factorize(group)[0]
    df = len(change) - (codes.max() + 1 if len(codes) else 0)
    if df < 1:
        return np.nan, df
    w = 1 / np.maximum(var, _MIN_VAR)
    sw = np.bincount(codes, weights=w)
    mean = np.bincount(codes, weights=w * change) / sw
    q = np.sum(w * (change - mean[codes]) ** 2)
    scale = np.sum(sw - np.bincount(codes, weights=w**2) / sw)
    return max(0.0, (q - df) / scale), df


def _pool(change: np.ndarray, var: np.ndarray, tau2: float) -> tuple[float, float]:
    """The comparison dealers' mean change weighted by ``1 / (s_j^2 + tau^2)`` and its
    variance.

    With one group and ``tau^2`` from :func:`_spread` on the same dealers this is
    statsmodels' ``combine_effects(change, var, method_re="dl")`` (``mean_effect_re``,
    ``var_eff_w_re``; tests/test_actions.py checks it), but that function is not used:
    it estimates ``tau^2`` from the dealers it pools, around one mean, while the spread here
    is the network's (every dealer without such an action, around its region's mean, with
    dealers - regions degrees of freedom) and the pool is often the region's few dealers;
    it takes no ``tau^2`` of the caller's; and its DerSimonian-Laird ``tau^2`` is not
    truncated at 0 (statsmodels 0.15: ``Q < df`` gives a negative ``tau^2`` that
    narrows the interval below the sampling noise).
    """
    w = 1 / (np.maximum(var, _MIN_VAR) + tau2)
    return float(np.sum(w * change) / w.sum()), float(1 / w.sum())


def verdicts(effect_low, effect_high, unit) -> np.ndarray:
    """The verdict of measured effects from their interval: ``effective`` when it excludes 0
    on the side the action means to move its target (``DIRECTION`` of the ``unit``: a rating
    up, a cause's share down), ``worse`` when it excludes 0 on the other side, else
    ``no_evidence`` (not enough evidence yet: not "no effect"); an element without an
    interval (NaN) gets ``no_evidence`` too, the caller says why it is not measured."""
    sign = pd.Series(unit).map(DIRECTION).to_numpy(dtype="float64")
    low = np.asarray(effect_low, dtype="float64") * sign
    high = np.asarray(effect_high, dtype="float64") * sign
    up, down = np.minimum(low, high), np.maximum(low, high)
    return np.select([up > 0, down < 0], ["effective", "worse"], "no_evidence")


def action_effects(
    actions: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    dealers: pd.DataFrame | None = None,
    causes: pd.Series | pd.DataFrame | None = None,
    window_months: int | None = None,
    baseline_gap_months: int | None = None,
    min_answers: int | None = None,
    min_comparison: int | None = None,
    comparison: str | None = None,
    level: float | None = None,
    action_ids: Sequence[str] | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The effect of each closed action on its target: a difference in differences against
    comparable dealers, with an interval and a verdict (see the module docstring).

    Parameters
    ----------
    actions
        The ``actions`` table; only actions with ``closed_at`` (and not cancelled) are measured.
    responses
        Answers with ``response_id``, ``dealer_id``, ``responded_at`` and the driver columns
        (and ``region``, else it is taken from ``dealers``).
    dealers
        The dealers table, for the region of each dealer (without it and without a ``region``
        column the comparison is the whole network).
    causes
        For actions whose target is a root cause: the cause of each answer, a Series indexed
        by ``response_id`` or a frame with ``response_id`` and ``cause`` (e.g. from
        ``analysis.rootcause``); an answer without one names no cause. Without it (and without
        a ``cause`` column in ``responses``) such actions are not measured (``causes_unknown``).
        The effect is then the change of the cause's share among the dealer's answers
        (negative: fewer answers name it), against the same change at comparable dealers
        without an action on it.
    window_months, baseline_gap_months, min_answers, min_comparison, comparison
        Default from params/loop.yaml (``actions:``).
    level, settings
        The interval's level: ``level``, else ``settings.level`` (None: the params' settings).
    action_ids
        Measure only these actions (the others still keep their dealers out of the
        comparison). None: every closed action.

    Returns
    -------
    One row per closed action: ``action_id``, ``dealer_id``, ``target``, ``unit`` (rating or
    share), the windows' answer counts and means at the dealer (``n_before``, ``n_after``,
    ``before``, ``after``), ``change`` (after - before at the dealer), ``comparison_change``
    (NaN without comparable dealers), ``n_comparison`` (comparable dealers), ``tau`` (the
    spread of dealers' own changes) and ``df`` (its degrees of freedom; ``tau`` is NaN where
    they are below 1), ``effect``, ``effect_se``, ``effect_low``, ``effect_high``,
    ``p_value`` (both Student t with ``df`` degrees of freedom), ``effective`` (the verdict
    is ``effective``) and ``verdict``, one of ``VERDICTS``:
    ``effective``, ``worse`` or ``no_evidence`` where the effect is measured; else why not:
    ``no_comparison`` / ``few_comparison`` (none, or fewer than ``min_comparison``
    comparable dealers), ``few_answers`` (a window holds fewer than ``min_answers`` rated
    answers at the dealer) or ``causes_unknown``. The effect and its interval are NaN where it
    is not measured.
    """
    cfg = _settings(params)
    window = int(window_months if window_months is not None else cfg["window_months"])
    gap = int(baseline_gap_months if baseline_gap_months is not None
              else cfg["baseline_gap_months"])
    min_n = int(min_answers if min_answers is not None else cfg["min_answers"])
    min_k = int(min_comparison if min_comparison is not None else cfg["min_comparison"])
    if min_k < 2:
        raise ValueError(f"min_comparison must be at least 2 (an interval needs the spread of "
                         f"the comparable dealers' changes), got {min_k}")
    how = comparison if comparison is not None else cfg["comparison"]
    if how not in ("region", "network"):
        raise ValueError(f"comparison must be 'region' or 'network', got {how!r}")
    level = level_or(level, settings)
    require_columns(actions, ["action_id", "dealer_id", "target", "opened_at", "closed_at",
                              "status"], table="actions", error=ActionsDataError)
    require_columns(responses, ["response_id", "dealer_id", "responded_at"], table="responses",
                    error=ActionsDataError)
    named = _named_causes(responses, causes)

    region = None
    if how == "region":
        if "region" in responses.columns:
            region = responses.groupby("dealer_id")["region"].first()
        elif dealers is not None:
            region = dealers.set_index("dealer_id")["region"]
    closed = actions.loc[actions["closed_at"].notna() & (actions["status"] != "cancelled")]
    if action_ids is not None:
        closed = closed.loc[closed["action_id"].isin(list(action_ids))]
    times = responses["responded_at"].to_numpy()
    targets = {}
    for target in closed["target"].unique():
        values, unit = _target_values(responses, target, named)
        targets[target] = values.to_numpy(dtype="float64"), unit
    dealer, names = pd.factorize(responses["dealer_id"])
    rows = []
    for act in closed.sort_values(["closed_at", "action_id"], kind="stable").itertuples():
        values, unit = targets[act.target]
        start, end = baseline_window(act.opened_at, months=window, gap_months=gap)
        stop = act.closed_at + pd.DateOffset(months=window)
        before = _window_stats(values, dealer, names,
                               (times >= start.to_datetime64()) & (times < end.to_datetime64()))
        after = _window_stats(values, dealer, names,
                              (times >= act.closed_at.to_datetime64())
                              & (times < stop.to_datetime64()))
        both = before.join(after, suffixes=("_b", "_a"), how="inner")
        both = both.loc[(both["n_b"] >= 2) & (both["n_a"] >= 2)]
        change = both["mean_a"] - both["mean_b"]
        var = both["var_b"] / both["n_b"] + both["var_a"] / both["n_a"]
        # comparable dealers: no action on this target that overlaps the windows
        busy = actions.loc[(actions["target"] == act.target)
                           & (actions["opened_at"] < stop)
                           & (actions["closed_at"].fillna(pd.Timestamp.max) >= start),
                           "dealer_id"]
        eligible = both.index.difference(pd.Index(busy.unique())).difference([act.dealer_id])
        pool, groups = eligible, np.zeros(len(eligible))
        if region is not None and act.dealer_id in region.index:
            mine = region.reindex(eligible).to_numpy() == region[act.dealer_id]
            if mine.sum() >= min_k:
                pool, groups = eligible[mine], region.reindex(eligible).fillna("").to_numpy()
        # the spread of dealers' own changes is the network's: every dealer without such an
        # action, around its region's mean where the comparison is the region's
        tau2, df = _spread(change[eligible].to_numpy(), var[eligible].to_numpy(), groups)
        comp, comp_var = (_pool(change[pool].to_numpy(), var[pool].to_numpy(),
                                0.0 if np.isnan(tau2) else tau2)
                          if len(pool) else (np.nan, np.nan))
        row = {"action_id": act.action_id, "dealer_id": act.dealer_id, "target": act.target,
               "unit": unit, "opened_at": act.opened_at, "closed_at": act.closed_at,
               "n_before": int(before["n"].get(act.dealer_id, 0)),
               "n_after": int(after["n"].get(act.dealer_id, 0)),
               "before": before["mean"].get(act.dealer_id, np.nan),
               "after": after["mean"].get(act.dealer_id, np.nan),
               "comparison_change": comp, "n_comparison": len(pool), "tau": np.sqrt(tau2),
               "df": df, "effect": np.nan, "effect_se": np.nan}
        row["change"] = row["after"] - row["before"]
        if unit == "share" and named is None:
            row["verdict"] = "causes_unknown"
        elif not (row["n_before"] >= min_n and row["n_after"] >= min_n
                  and act.dealer_id in both.index):
            row["verdict"] = "few_answers"
        elif len(pool) < min_k:
            row["verdict"] = "no_comparison" if len(pool) == 0 else "few_comparison"
        else:
            row["verdict"] = None  # measured: the interval decides
            row["change"] = change[act.dealer_id]
            row["effect"] = row["change"] - comp
            row["effect_se"] = float(np.sqrt(var[act.dealer_id] + tau2 + comp_var))
        rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in EFFECT_COLUMNS
                                      if c not in ("effect_low", "effect_high", "p_value",
                                                   "effective")])
    out = out.astype({"effect": "float64", "effect_se": "float64", "change": "float64",
                      "before": "float64", "after": "float64",
                      "comparison_change": "float64", "tau": "float64"})
    # Student t with k - 1 degrees of freedom: the acting dealer's own shock (tau^2) is
    # estimated from only k comparable dealers' changes
    half = t_value(level, out["df"]) * out["effect_se"]
    out = out.assign(effect_low=out["effect"] - half, effect_high=out["effect"] + half,
                     p_value=two_sided_t_p(out["effect"] / out["effect_se"], out["df"]))
    why_not = out["verdict"].to_numpy(dtype=object)
    out["verdict"] = np.where(pd.isna(why_not), verdicts(out["effect_low"], out["effect_high"],
                                                         out["unit"]), why_not).astype(str)
    out["effective"] = (out["verdict"] == "effective").astype(bool)
    return out[list(EFFECT_COLUMNS)].reset_index(drop=True)


def effects_by_region(
    effects: pd.DataFrame,
    *,
    dealers: pd.DataFrame,
    level: float | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The average effect of the measured actions on each target per region (each action
    counts once), with an interval: ``region``, ``target``, ``unit``, ``n_actions``,
    ``n_effective``, ``effect``, ``effect_low``, ``effect_high``, ``verdict`` (as
    :func:`verdicts` reads the interval) and ``effective``.

    The actions' estimates are independent enough to add their variances (different dealers,
    or different targets); the average is that of the measured actions (those without an
    effect, not measurable, left out).
    """
    level = level_or(level, settings)
    z = z_value(level)
    measured = (effects.dropna(subset=["effect", "effect_se"])
                .merge(dealers[["dealer_id", "region"]], on="dealer_id", how="left"))
    out = (measured.assign(var=measured["effect_se"] ** 2)
           .groupby(["region", "target", "unit"])
           .agg(n_actions=("action_id", "size"), n_effective=("effective", "sum"),
                effect=("effect", "mean"), var=("var", "sum"))
           .reset_index())
    se = np.sqrt(out["var"]) / out["n_actions"]
    out = out.assign(effect_low=out["effect"] - z * se, effect_high=out["effect"] + z * se,
                     n_effective=out["n_effective"].astype("int64")).drop(columns="var")
    out["verdict"] = verdicts(out["effect_low"], out["effect_high"], out["unit"])
    out["effective"] = out["verdict"] == "effective"
    return out


def monthly_review(
    actions: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    month: str,
    dealers: pd.DataFrame | None = None,
    causes: pd.Series | pd.DataFrame | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """What the monthly meeting reviews: the actions closed in ``month``, due in it, or still
    overdue at its end, with their state, whether they were on time, and the effect measured
    on the answers up to the month's end (NaN where it is not measured, the ``verdict`` says
    why: the window after is still too thin, too few comparable dealers...).

    Returns :func:`action_status`'s columns plus the effect columns of
    :func:`action_effects` (``before``, ``after``, ``change``, ``n_comparison``, ``effect``,
    ``effect_low``, ``effect_high``, ``effective``, ``verdict``, ...), one row per action,
    done ones first (NaN effect columns for those not done).
    """
    period = pd.Period(month, freq="M")
    start, end = period.start_time, (period + 1).start_time
    status = action_status(actions, as_of=end - pd.Timedelta(seconds=1))
    closed_in = status["closed_at"].between(start, end, inclusive="left")
    due_in = status["due_at"].between(start, end, inclusive="left")
    review = status.loc[closed_in | due_in | (status["state"] == "overdue")]
    known = responses.loc[responses["responded_at"] < end]
    effects = action_effects(actions, known, dealers=dealers, causes=causes, params=params,
                             settings=settings, action_ids=review.loc[review["state"] == "done", "action_id"])
    order = {s: i for i, s in enumerate(STATES)}
    return (review.merge(effects.drop(columns=["dealer_id", "target", "opened_at",
                                               "closed_at"]),
                         on="action_id", how="left")
            .sort_values(["state", "dealer_id", "action_id"], key=lambda s: s.map(order)
                         if s.name == "state" else s, kind="stable")
            .reset_index(drop=True))
