"""Improvement actions: their completion and their measured effect (issue 17, "closing the loop").

Dealers keep action plans (the ``actions`` table: one row per action with its ``target``, a
loyalty driver or a root cause, and when it was opened, due and closed). The monthly meeting
asks two questions of them, answered here as tidy frames (no formatting: that is the report's):

- **Were they done?** :func:`action_status` (each action: done, overdue, open or cancelled, and
  whether it was done on time) and :func:`completion` (counts and the on-time rate with its
  Wilson interval, per dealer, region or any grouping).
- **Did they work?** :func:`action_effects`: for each closed action, the change of its target
  from the ``window_months`` before it opened to the ``window_months`` after it closed, minus
  the same change at comparable dealers that had no action on that target (a difference in
  differences), with an interval. :func:`effects_by_region` averages them per region and
  target.

The effect's interval
---------------------
For the acting dealer ``A`` the change is ``d_A = mean_after - mean_before`` of the target
(a driver's 1-10 rating, or the share of answers naming a root cause) with sampling variance
``s_A^2 = var_before / n_before + var_after / n_after``. Every comparable dealer ``j`` gives its
own change ``d_j`` over the same two windows, with ``s_j^2``. Dealers also change for reasons
of their own (a new service manager, a broken booking line): that spread ``tau^2`` is estimated
from the comparison dealers by DerSimonian and Laird's method of moments (random-effects
meta-analysis), the comparison change is their mean weighted by ``1 / (s_j^2 + tau^2)``, and

    effect = d_A - d_C,   var(effect) = s_A^2 + tau^2 + 1 / sum_j w_j,

so the interval covers the acting dealer's own shock too, not only the sampling noise; with
``tau^2 = 0`` it is the plain two-sample interval of a difference in differences. An action is
``effective`` when the interval (``level`` from params/loop.yaml) excludes 0: a do-nothing
action is called effective with probability about ``1 - level``.

Comparable dealers: those of the acting dealer's region (``comparison: region``; the whole
network where the region has fewer than two), never a dealer with an action on the same target
that overlaps the windows. The action's own months (opened to closed) are left out: the
effect is measured after the work is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import DataError, require_columns
from analysis.estimators import check_level, two_sided_p, wilson_interval, z_value
from analysis.store import region_for

STATES = ("done", "overdue", "open", "cancelled")
EFFECT_COLUMNS = ("action_id", "dealer_id", "target", "unit", "opened_at", "closed_at",
                  "n_before", "n_after", "before", "after", "change", "comparison_change",
                  "n_comparison", "tau", "effect", "effect_se", "effect_low", "effect_high",
                  "p_value", "effective")


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
    level = check_level(level if level is not None else _settings(params)["level"])
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


def _window_stats(values: pd.Series, dealer: pd.Series, mask: np.ndarray) -> pd.DataFrame:
    sel = mask & values.notna().to_numpy()
    return (pd.DataFrame({"dealer_id": dealer.to_numpy()[sel], "y": values.to_numpy()[sel]})
            .groupby("dealer_id")["y"].agg(n="count", mean="mean", var="var"))


def _pool(change: np.ndarray, var: np.ndarray) -> tuple[float, float, float]:
    """Random-effects mean of the comparison dealers' changes (DerSimonian-Laird):
    the mean, its variance and tau^2."""
    k = len(change)
    if k == 0:
        return 0.0, 0.0, 0.0
    var = np.maximum(var, 1e-12)
    w0 = 1 / var
    mean0 = np.sum(w0 * change) / w0.sum()
    tau2 = 0.0
    if k > 1:
        q = np.sum(w0 * (change - mean0) ** 2)
        tau2 = max(0.0, (q - (k - 1)) / (w0.sum() - np.sum(w0**2) / w0.sum()))
    w = 1 / (var + tau2)
    return float(np.sum(w * change) / w.sum()), float(1 / w.sum()), float(tau2)


def action_effects(
    actions: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    dealers: pd.DataFrame | None = None,
    causes: pd.Series | pd.DataFrame | None = None,
    window_months: int | None = None,
    min_answers: int | None = None,
    comparison: str | None = None,
    level: float | None = None,
    action_ids: Sequence[str] | None = None,
    params: Mapping | None = None,
) -> pd.DataFrame:
    """The effect of each closed action on its target: a difference in differences against
    comparable dealers, with an interval (see the module docstring).

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
        a ``cause`` column in ``responses``) such actions get a NaN effect. The effect is then
        the change of the cause's share among the dealer's answers (negative: fewer answers
        name it), against the same change at comparable dealers without an action on it.
    window_months, min_answers, comparison, level
        Default from params/loop.yaml (``actions:``).
    action_ids
        Measure only these actions (the others still keep their dealers out of the
        comparison). None: every closed action.

    Returns
    -------
    One row per closed action: ``action_id``, ``dealer_id``, ``target``, ``unit`` (rating or
    share), the windows' answer counts and means (``n_before``, ``n_after``, ``before``,
    ``after``), ``change`` (after - before at the dealer), ``comparison_change``,
    ``n_comparison`` (dealers), ``tau`` (their spread of changes), ``effect``, ``effect_se``,
    ``effect_low``, ``effect_high``, ``p_value`` and ``effective`` (the interval excludes 0).
    Effects are NaN where a window holds fewer than ``min_answers`` rated answers.
    """
    cfg = _settings(params)
    window = int(window_months if window_months is not None else cfg["window_months"])
    min_n = int(min_answers if min_answers is not None else cfg["min_answers"])
    how = comparison if comparison is not None else cfg["comparison"]
    if how not in ("region", "network"):
        raise ValueError(f"comparison must be 'region' or 'network', got {how!r}")
    level = check_level(level if level is not None else cfg["level"])
    z = z_value(level)
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
    rows = []
    for act in closed.sort_values(["closed_at", "action_id"], kind="stable").itertuples():
        values, unit = _target_values(responses, act.target, named)
        start = act.opened_at - pd.DateOffset(months=window)
        stop = act.closed_at + pd.DateOffset(months=window)
        before = _window_stats(values, responses["dealer_id"],
                               (times >= start.to_datetime64())
                               & (times < act.opened_at.to_datetime64()))
        after = _window_stats(values, responses["dealer_id"],
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
        pool = both.index.difference(pd.Index(busy.unique())).difference([act.dealer_id])
        if region is not None and act.dealer_id in region.index:
            same = pool[region.reindex(pool).to_numpy() == region[act.dealer_id]]
            pool = same if len(same) >= 2 else pool
        comp, comp_var, tau2 = _pool(change[pool].to_numpy(), var[pool].to_numpy())
        row = {"action_id": act.action_id, "dealer_id": act.dealer_id, "target": act.target,
               "unit": unit, "opened_at": act.opened_at, "closed_at": act.closed_at,
               "n_before": int(before["n"].get(act.dealer_id, 0)),
               "n_after": int(after["n"].get(act.dealer_id, 0)),
               "before": before["mean"].get(act.dealer_id, np.nan),
               "after": after["mean"].get(act.dealer_id, np.nan),
               "comparison_change": comp if len(pool) else np.nan,
               "n_comparison": len(pool), "tau": np.sqrt(tau2)}
        ok = (row["n_before"] >= min_n and row["n_after"] >= min_n
              and act.dealer_id in both.index)
        if ok:
            d_a, s2_a = change[act.dealer_id], var[act.dealer_id]
            row["change"] = d_a
            row["effect"] = d_a - comp
            row["effect_se"] = float(np.sqrt(s2_a + tau2 + comp_var))
        else:
            row["change"] = row["after"] - row["before"]
            row["effect"] = row["effect_se"] = np.nan
        rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in EFFECT_COLUMNS
                                      if c not in ("effect_low", "effect_high", "p_value",
                                                   "effective")])
    out = out.astype({"effect": "float64", "effect_se": "float64", "change": "float64",
                      "before": "float64", "after": "float64",
                      "comparison_change": "float64", "tau": "float64"})
    with np.errstate(divide="ignore", invalid="ignore"):
        out = out.assign(
            effect_low=out["effect"] - z * out["effect_se"],
            effect_high=out["effect"] + z * out["effect_se"],
            p_value=two_sided_p(out["effect"] / out["effect_se"]),
        )
    out["effective"] = ((out["effect_low"] > 0) | (out["effect_high"] < 0)).astype(bool)
    return out[list(EFFECT_COLUMNS)].reset_index(drop=True)


def effects_by_region(
    effects: pd.DataFrame,
    *,
    dealers: pd.DataFrame,
    level: float | None = None,
    params: Mapping | None = None,
) -> pd.DataFrame:
    """The average effect of the actions on each target per region (each action counts
    once), with an interval: ``region``, ``target``, ``unit``, ``n_actions``,
    ``n_effective``, ``effect``, ``effect_low``, ``effect_high``, ``effective``.

    The actions' estimates are independent enough to add their variances (different dealers,
    or different targets); the average is that of the measured actions (NaN effects left out).
    """
    level = check_level(level if level is not None else _settings(params)["level"])
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
    out["effective"] = (out["effect_low"] > 0) | (out["effect_high"] < 0)
    return out


def monthly_review(
    actions: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    month: str,
    dealers: pd.DataFrame | None = None,
    causes: pd.Series | pd.DataFrame | None = None,
    params: Mapping | None = None,
) -> pd.DataFrame:
    """What the monthly meeting reviews: the actions closed in ``month``, due in it, or still
    overdue at its end, with their state, whether they were on time, and the effect measured
    on the answers up to the month's end (NaN while the window after is too thin).

    Returns :func:`action_status`'s columns plus the effect columns of
    :func:`action_effects` (``before``, ``after``, ``change``, ``effect``, ``effect_low``,
    ``effect_high``, ``effective``, ...), one row per action, done ones first.
    """
    period = pd.Period(month, freq="M")
    start, end = period.start_time, (period + 1).start_time
    status = action_status(actions, as_of=end - pd.Timedelta(seconds=1))
    closed_in = status["closed_at"].between(start, end, inclusive="left")
    due_in = status["due_at"].between(start, end, inclusive="left")
    review = status.loc[closed_in | due_in | (status["state"] == "overdue")]
    known = responses.loc[responses["responded_at"] < end]
    effects = action_effects(actions, known, dealers=dealers, causes=causes, params=params,
                             action_ids=review.loc[review["state"] == "done", "action_id"])
    order = {s: i for i, s in enumerate(STATES)}
    return (review.merge(effects.drop(columns=["dealer_id", "target", "opened_at",
                                               "closed_at"]),
                         on="action_id", how="left")
            .sort_values(["state", "dealer_id", "action_id"], key=lambda s: s.map(order)
                         if s.name == "state" else s, kind="stable")
            .reset_index(drop=True))
