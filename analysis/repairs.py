"""Repeat repairs: the same car back with the same fault within the window, by mechanic and
foreman, the KPI bonus ladder, and survey answers that open the same review.

The rule
--------
Repair orders are grouped by VIN and fault. The fault is the normalised fault code where the
order has one, else the normalised fault text (``repeat_repair.fault_key`` in
params/operations.yaml; normalised = casefolded, punctuation and runs of whitespace collapsed
to one space, stripped). Within a group, orders are taken in order of opening, and an order
is a **repeat** of the previous one when

    days = (calendar date it opened) - (calendar date the previous order closed)

is between 0 and ``repeat_repair.window_days`` (14), both included: reopened the same day is
day 0, exactly two weeks later day 14, a day later is not a repeat. Days are calendar dates,
not 24-hour periods, because the service manager reads the window off the calendar. An order
opened before the previous one closed (negative days) is a parallel order, not a repeat, and
a previous order without ``closed_at`` cannot be repeated yet. A chain A -> B -> C gives the
pairs (A, B) and (B, C).

The responsibility is the **first** order's: its mechanic and foreman did the work that did
not hold. A repeat counts in the week (and KPI month) in which the car came back.

Rates
-----
``repeats / orders`` with repeats counted by return date and orders by close date is a ratio
of two different sets of orders (42 person-weeks of the demo had repeats and no orders, one
"rate" was above 1). The repeat **rate** is a cohort's: the orders closed in the period whose
``window_days`` have elapsed at ``as_of`` (``cohort_orders``), and how many of them came back
within the window (``cohort_repeats``), with a Wilson interval (``cohort_rate``,
``cohort_rate_low``, ``cohort_rate_high``). Orders whose window is still running are left out:
they may yet come back.

KPI
---
The bonus share by the number of repeats in the period comes from ``repeat_repair.kpi``:
mechanic 10 % at 0, 0 % at more than 1; foreman 10 % at 0, 5 % at 1, 0 % at more than 1.
The field leaves the mechanic's share at exactly 1 open; params set 5 % (see the comment
there), and :func:`kpi_table` reads it from there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.config import load_params
from analysis.errors import OperationsDataError, require_columns
from analysis.estimators import wilson_interval
from analysis.keywords import rule_hits
from analysis.privacy import mask_pii_series
from analysis.settings import Settings, settings_or

__all__ = ["ROLES", "RO_COLUMNS", "MonthlyRepeatReport", "WeeklyRepeatReview", "bonus_share",
           "fault_key", "iso_week", "kpi_table", "last_complete_week", "monthly_report",
           "months_for_week", "normalise_fault", "repeat_repairs", "repeat_stats",
           "repeat_summary", "survey_repair_reviews", "week_bounds", "weekly_review"]

ROLES = ("mechanic", "foreman")
RO_COLUMNS = ["ro_id", "vin", "dealer_id", "opened_at", "closed_at", "mechanic", "foreman"]


def normalise_fault(series: pd.Series) -> pd.Series:
    """Casefold, turn punctuation and underscores into spaces, collapse whitespace, strip.

    ``" Стук в передней  подвеске. "`` and ``"стук в передней подвеске"`` become equal, as do
    ``"SUS-01"`` and ``"sus 01"``. Missing or empty values stay missing.
    """
    # a network's orders repeat a few thousand faults: each distinct text is normalised once
    codes, distinct = pd.factorize(series.astype("string"))
    distinct = (pd.Series(distinct, dtype="string").str.casefold()
                .str.replace("ё", "е", regex=False).str.replace(r"[\W_]+", " ", regex=True)
                .str.strip())
    out = pd.Series(distinct.array.take(codes, allow_fill=True), index=series.index,
                    name=series.name)
    return out.mask(out == "")


def fault_key(repair_orders: pd.DataFrame, *, how: str | None = None) -> pd.Series:
    """The fault a repeat is matched on: ``code``, ``text`` or ``auto`` (code, else text)."""
    how = load_params("operations")["repeat_repair"]["fault_key"] if how is None else how
    code = normalise_fault(repair_orders["fault_code"]) if "fault_code" in repair_orders \
        else pd.Series(pd.NA, index=repair_orders.index, dtype="string")
    text = normalise_fault(repair_orders["fault"]) if "fault" in repair_orders \
        else pd.Series(pd.NA, index=repair_orders.index, dtype="string")
    keys = {"code": code, "text": text, "auto": code.fillna(text)}
    if how not in keys:
        raise ValueError(f"fault_key must be one of {sorted(keys)}, got {how!r} "
                         "(repeat_repair.fault_key in params/operations.yaml)")
    return keys[how].rename("fault_key")


def repeat_repairs(
    repair_orders: pd.DataFrame,
    *,
    window_days: int | None = None,
    how: str | None = None,
) -> pd.DataFrame:
    """Pairs of repair orders where the second repeats the first (see the module docstring).

    Parameters
    ----------
    repair_orders
        ``ro_id, vin, dealer_id, opened_at, closed_at, mechanic, foreman`` and ``fault_code``
        and/or ``fault``.
    window_days
        ``repeat_repair.window_days`` (14) by default; days 0..window_days are repeats.
    how
        Which fault to match on: ``code``, ``text`` or ``auto``; params by default.

    Returns
    -------
    DataFrame
        ``first_ro_id, repeat_ro_id, vin, fault_key, fault, days, first_closed_at,
        repeat_opened_at, dealer_id, mechanic, foreman`` (dealer and people of the first
        order) plus ``repeat_dealer_id, repeat_mechanic``; sorted by ``repeat_opened_at``.
    """
    require_columns(repair_orders, RO_COLUMNS, table="repair_orders", error=OperationsDataError)
    if not {"fault_code", "fault"} & set(repair_orders.columns):
        raise OperationsDataError("repair_orders need a fault_code or a fault column to match "
                                  "repeats on")
    window = int(load_params("operations")["repeat_repair"]["window_days"]
                 if window_days is None else window_days)
    if window < 0:
        raise ValueError(f"window_days must be 0 or more, got {window}")
    ordered = (
        repair_orders.assign(fault_key=fault_key(repair_orders, how=how),
                             fault=repair_orders.get("fault", repair_orders.get("fault_code")))
        .dropna(subset=["vin", "fault_key", "opened_at"])
        .sort_values(["vin", "fault_key", "opened_at", "closed_at", "ro_id"], kind="stable")
    )
    previous = ordered.groupby(["vin", "fault_key"], sort=False)[
        ["ro_id", "closed_at", "dealer_id", "mechanic", "foreman", "fault"]].shift()
    days = (ordered["opened_at"].dt.normalize() - previous["closed_at"].dt.normalize()).dt.days
    is_repeat = previous["closed_at"].notna() & days.between(0, window)
    pairs = pd.DataFrame({
        "first_ro_id": previous["ro_id"],
        "repeat_ro_id": ordered["ro_id"],
        "vin": ordered["vin"],
        "fault_key": ordered["fault_key"],
        "fault": previous["fault"],
        "days": days,
        "first_closed_at": previous["closed_at"],
        "repeat_opened_at": ordered["opened_at"],
        "dealer_id": previous["dealer_id"],
        "mechanic": previous["mechanic"],
        "foreman": previous["foreman"],
        "repeat_dealer_id": ordered["dealer_id"],
        "repeat_mechanic": ordered["mechanic"],
    }).loc[is_repeat]
    return (pairs.astype({"days": "int64"})
            .sort_values(["repeat_opened_at", "repeat_ro_id"], kind="stable")
            .reset_index(drop=True))


# --- weeks -----------------------------------------------------------------------------------


def iso_week(timestamps: pd.Series) -> pd.Series:
    """ISO week labels ``YYYY-Www`` (the ISO year, so 2026-01-01 is in 2026-W01)."""
    cal = timestamps.dt.isocalendar()
    return (cal["year"].astype("string") + "-W"
            + cal["week"].astype("string").str.zfill(2)).where(timestamps.notna())


def week_bounds(week: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Monday 00:00 of an ISO week ``YYYY-Www`` and Monday 00:00 of the next."""
    try:
        year, number = week.split("-W")
        start = pd.Timestamp(dt.date.fromisocalendar(int(year), int(number), 1))
    except ValueError as err:
        raise ValueError(f"week must look like 2026-W07 (ISO year and week), got {week!r}") \
            from err
    return start, start + pd.Timedelta(days=7)


def last_complete_week(opened_at: pd.Series, *, now: pd.Timestamp | str | None = None) -> str:
    """The latest ISO week that is over at ``now`` (default: the latest ``opened_at``)."""
    if opened_at.dropna().empty and now is None:
        raise OperationsDataError("no repair orders: there is no week to report")
    now = opened_at.max() if now is None else pd.Timestamp(now)
    this_monday = now.normalize() - pd.Timedelta(days=now.weekday())
    last = this_monday - pd.Timedelta(days=7)
    return str(iso_week(pd.Series([last])).iloc[0])


def months_for_week(week: str, *, history_days: int | None = None) -> list[str]:
    """``YYYY-MM`` months to load for a weekly review: the week's months, the KPI month from
    its first day, and ``repeat_repair.history_days`` before the week for the first orders."""
    start, end = week_bounds(week)
    days = int(load_params("operations")["repeat_repair"]["history_days"]
               if history_days is None else history_days)
    first = min(start - pd.Timedelta(days=days), (end - pd.Timedelta(days=1)).replace(day=1))
    return [str(p) for p in pd.period_range(first, end - pd.Timedelta(days=1), freq="M")]


# --- statistics and KPI ----------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")


def _cohort(pairs: pd.DataFrame, repair_orders: pd.DataFrame, keys: list[str], label,
            as_of, window_days: int | None) -> pd.DataFrame:
    """Per ``keys`` + period of closing: orders whose repeat window has elapsed at ``as_of``
    and how many of them were repeated (module docstring, Rates)."""
    window = int(load_params("operations")["repeat_repair"]["window_days"]
                 if window_days is None else window_days)
    closed = repair_orders.dropna(subset=["closed_at"])
    if as_of is None:
        stamps = [repair_orders[c].max() for c in ("opened_at", "closed_at")
                  if c in repair_orders and repair_orders[c].notna().any()]
        as_of = max(stamps) if stamps else pd.Timestamp.max
    as_of = pd.Timestamp(as_of)
    elapsed = (as_of.normalize() - closed["closed_at"].dt.normalize()).dt.days > window
    cohort = closed.loc[elapsed]
    repeated = cohort["ro_id"].isin(pairs["first_ro_id"])
    frame = cohort[[k for k in keys if k != "period"]].assign(
        cohort_orders=1, cohort_repeats=repeated.astype("int64"))
    if "period" in keys:
        frame = frame.assign(period=label(cohort["closed_at"]))
    return frame.groupby(keys)[["cohort_orders", "cohort_repeats"]].sum()


def _with_cohort_rate(out: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    low, high = wilson_interval(out["cohort_repeats"], out["cohort_orders"],
                                level=settings_or(settings).level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = out["cohort_repeats"] / out["cohort_orders"].where(out["cohort_orders"] > 0)
    return out.assign(cohort_rate=rate, cohort_rate_low=low, cohort_rate_high=high)


def repeat_stats(
    pairs: pd.DataFrame,
    repair_orders: pd.DataFrame,
    *,
    role: str = "mechanic",
    period: str = "W",
    as_of: pd.Timestamp | str | None = None,
    window_days: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Orders and repeat repairs per responsible person and period (ISO weeks by default).

    A person's orders are the orders they were responsible for that closed in the period; their
    repeats are repeats of their orders whose car came back in the period. Everyone with an
    order or a repeat in a period has a row, with zeros where nothing happened.

    Returns
    -------
    DataFrame
        ``dealer_id, <role>, period, orders, repeats, repeat_rate`` (``period`` is
        ``YYYY-Www`` for weeks, else the pandas period as text), then the cohort of the
        period's closed orders whose window has elapsed at ``as_of`` (default: the latest
        timestamp of the orders): ``cohort_orders, cohort_repeats, cohort_rate,
        cohort_rate_low, cohort_rate_high`` (Wilson, at ``settings.level``; None:
        params/*.yaml). ``repeats`` (by return date) is what
        the KPI counts; ``repeat_rate`` divides it by orders closed in the period, a ratio
        of two different sets of orders kept for the old tables: ``cohort_rate`` is the rate.
    """
    _check_role(role)
    label = iso_week if period == "W" else (lambda s: s.dt.to_period(period).astype(str))
    keys = ["dealer_id", role, "period"]
    orders = (repair_orders.dropna(subset=["closed_at"])
              .assign(period=lambda d: label(d["closed_at"]))
              .groupby(keys).size().rename("orders"))
    repeats = (pairs.assign(period=label(pairs["repeat_opened_at"]))
               .groupby(keys).size().rename("repeats"))
    cohort = _cohort(pairs, repair_orders, keys, label, as_of, window_days)
    out = pd.concat([orders, repeats, cohort], axis=1).fillna(0).astype("int64").reset_index()
    out = _with_cohort_rate(out, settings)
    return (out.assign(repeat_rate=out["repeats"] / out["orders"].where(out["orders"] > 0))
            [[*keys, "orders", "repeats", "repeat_rate", "cohort_orders", "cohort_repeats",
              "cohort_rate", "cohort_rate_low", "cohort_rate_high"]]
            .sort_values(["period", "repeats", "dealer_id", role],
                         ascending=[True, False, True, True])
            .reset_index(drop=True))


def bonus_share(repeats, *, role: str = "mechanic") -> np.ndarray:
    """The KPI bonus share for a number of repeats in the period (``repeat_repair.kpi``)."""
    _check_role(role)
    spec = load_params("operations")["repeat_repair"]["kpi"][role]
    counts = np.asarray(repeats)
    if (counts < 0).any():
        raise ValueError("the number of repeat repairs cannot be negative")
    ladder = {int(k): float(v) for k, v in spec["by_repeats"].items()}
    return pd.Series(counts).map(ladder).fillna(float(spec["above"])).to_numpy()


def kpi_table(
    pairs: pd.DataFrame,
    repair_orders: pd.DataFrame,
    *,
    role: str = "mechanic",
    period: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Repeat repairs and the bonus share per person and KPI period (a month by default).

    Returns
    -------
    DataFrame
        ``dealer_id, <role>, period, orders, repeats, repeat_rate, bonus_share``.
    """
    per = load_params("operations")["repeat_repair"]["kpi"]["period"] if period is None else period
    stats = repeat_stats(pairs, repair_orders, role=role, period=per, settings=settings)
    return stats.assign(bonus_share=bonus_share(stats["repeats"], role=role))


def repeat_summary(
    pairs: pd.DataFrame,
    repair_orders: pd.DataFrame,
    *,
    by: Sequence[str] = ("dealer_id",),
    period: str | None = "M",
    as_of: pd.Timestamp | str | None = None,
    window_days: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Orders closed, repeat repairs (by return) and the cohort repeat rate per group and
    period: ``orders, repeats, repeat_rate`` as before, and ``cohort_orders,
    cohort_repeats, cohort_rate, cohort_rate_low, cohort_rate_high`` as in
    :func:`repeat_stats`."""
    keys = list(by)
    orders = repair_orders.dropna(subset=["closed_at"])
    label = (lambda s: s.dt.to_period(period).astype(str)) if period else None
    if period:
        orders = orders.assign(period=label(orders["closed_at"]))
        pairs = pairs.assign(period=label(pairs["repeat_opened_at"]))
        keys = [*keys, "period"]
    if not keys:
        cohort = _cohort(pairs, repair_orders.assign(_all=0), ["_all"],
                         lambda s: pd.Series(0, index=s.index), as_of, window_days)
        cohort = cohort.reindex([0], fill_value=0)
        out = pd.DataFrame({"orders": [len(orders)], "repeats": [len(pairs)],
                            "repeat_rate": [len(pairs) / len(orders) if len(orders) else np.nan],
                            "cohort_orders": cohort["cohort_orders"].to_numpy(),
                            "cohort_repeats": cohort["cohort_repeats"].to_numpy()})
        return _with_cohort_rate(out, settings)
    cohort = _cohort(pairs, repair_orders, keys, label, as_of, window_days)
    out = pd.concat([orders.groupby(keys).size().rename("orders"),
                     pairs.groupby(keys).size().rename("repeats"), cohort], axis=1)
    out = out.fillna(0).astype("int64").reset_index()
    out = out.assign(repeat_rate=out["repeats"] / out["orders"].where(out["orders"] > 0))
    return _with_cohort_rate(out, settings)


# --- survey answers that open a review -------------------------------------------------------


def survey_repair_reviews(
    responses: pd.DataFrame,
    repair_orders: pd.DataFrame,
    *,
    pairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Survey answers that mention poor repair or coming back with the same fault.

    Each is linked to the latest repair order of the same VIN closed at or before the answer,
    when there is one (``ro_id`` is missing otherwise). Keywords and rules come from
    ``repeat_repair.survey_review`` in params (stems with one typo allowed).

    Parameters
    ----------
    pairs
        The output of :func:`repeat_repairs`; when given, ``already_repeat`` says whether the
        linked order is itself a flagged repeat or the first order of one.

    Returns
    -------
    DataFrame
        ``response_id, dealer_id, responded_at, nps, vin, rule, quote`` (masked comment),
        ``ro_id, ro_closed_at, fault, mechanic, foreman, days_since_repair``
        [, ``already_repeat``].
    """
    require_columns(responses, ["response_id", "dealer_id", "responded_at", "nps", "vin",
                                "comment"], table="responses", error=OperationsDataError)
    require_columns(repair_orders, RO_COLUMNS, table="repair_orders", error=OperationsDataError)
    spec = load_params("operations")["repeat_repair"]["survey_review"]
    pool = responses.loc[responses["comment"].notna() & (responses["nps"] <= spec["nps_max"])]
    rule = rule_hits(pool["comment"], spec["concepts"], spec["rules"])
    found = (pool.assign(rule=rule).loc[lambda d: d["rule"] != ""]
             [["response_id", "dealer_id", "responded_at", "nps", "vin", "rule", "comment"]]
             .astype({"responded_at": "datetime64[ns]"}))
    ros = (repair_orders.dropna(subset=["closed_at", "vin"])
           [["ro_id", "vin", "closed_at", "fault", "mechanic", "foreman"]]
           .rename(columns={"closed_at": "ro_closed_at"})
           .astype({"ro_closed_at": "datetime64[ns]"})
           .sort_values("ro_closed_at", kind="stable"))
    linked = pd.merge_asof(
        found.dropna(subset=["vin"]).sort_values("responded_at", kind="stable"), ros,
        left_on="responded_at", right_on="ro_closed_at", by="vin", direction="backward")
    out = (pd.concat([linked, found.loc[found["vin"].isna()]], ignore_index=True)
           .assign(quote=lambda d: mask_pii_series(d["comment"]),
                   days_since_repair=lambda d: (d["responded_at"] - d["ro_closed_at"]).dt.days)
           .drop(columns="comment"))
    if pairs is not None:
        in_pairs = set(pairs["first_ro_id"]) | set(pairs["repeat_ro_id"])
        out = out.assign(already_repeat=out["ro_id"].isin(in_pairs))
    return out.sort_values(["responded_at", "response_id"], kind="stable").reset_index(drop=True)


# --- the weekly review -----------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyRepeatReview:
    """One ISO week of repeat repairs: the pairs, statistics by mechanic and foreman, the KPI
    of the month to date, and survey answers that ask for a review."""

    week: str
    start: pd.Timestamp
    end: pd.Timestamp
    window_days: int
    pairs: pd.DataFrame
    by_mechanic: pd.DataFrame
    by_foreman: pd.DataFrame
    kpi_mechanic: pd.DataFrame
    kpi_foreman: pd.DataFrame
    orders: int
    survey_reviews: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> str:
        """A few lines for the top of the weekly report."""
        n = len(self.pairs)
        rate = n / self.orders if self.orders else float("nan")
        people = self.by_mechanic.loc[self.by_mechanic["repeats"] > 0]
        zero_bonus = (self.kpi_mechanic["bonus_share"] == 0).sum()
        last_day = self.end - pd.Timedelta(days=1)
        text = (f"Week {self.week} ({self.start:%d.%m} - {last_day:%d.%m.%Y}): {n} repeat repairs (same VIN and fault within {self.window_days} days) "
                f"against {self.orders} orders closed, {rate:.1%}; {len(people)} mechanics "
                f"responsible. Month to date, {zero_bonus} mechanics have lost the bonus share.")
        if len(self.survey_reviews):
            text += (f" {len(self.survey_reviews)} survey answers ask for a repeat-repair "
                     "review.")
        return text


def weekly_review(
    repair_orders: pd.DataFrame,
    *,
    week: str = "",
    responses: pd.DataFrame | None = None,
    window_days: int | None = None,
    settings: Settings | None = None,
) -> WeeklyRepeatReview:
    """The repeat-repair review of one ISO week (``""`` = the last complete week in the data).

    ``repair_orders`` should reach back :func:`months_for_week` so that first orders closed
    before the week are seen. ``responses`` (optional) adds the survey answers of the week that
    ask for a review.
    """
    window = int(load_params("operations")["repeat_repair"]["window_days"]
                 if window_days is None else window_days)
    week = week or last_complete_week(repair_orders["opened_at"])
    start, end = week_bounds(week)
    pairs = repeat_repairs(repair_orders, window_days=window)
    in_week = pairs.loc[pairs["repeat_opened_at"].between(start, end, inclusive="left")]
    closed_in_week = repair_orders["closed_at"].between(start, end, inclusive="left")
    weekly = {role: repeat_stats(in_week, repair_orders.loc[closed_in_week], role=role,
                                 settings=settings)
              .loc[lambda d: d["period"] == week].reset_index(drop=True) for role in ROLES}
    month_start = (end - pd.Timedelta(days=1)).replace(day=1).normalize()
    mtd_pairs = pairs.loc[pairs["repeat_opened_at"].between(month_start, end, inclusive="left")]
    mtd_orders = repair_orders.loc[repair_orders["closed_at"].between(month_start, end,
                                                                      inclusive="left")]
    kpi = {role: kpi_table(mtd_pairs, mtd_orders, role=role, period="M", settings=settings)
           for role in ROLES}
    reviews = pd.DataFrame()
    if responses is not None:
        answers = responses.loc[responses["responded_at"].between(start, end, inclusive="left")]
        reviews = survey_repair_reviews(answers, repair_orders, pairs=pairs)
    return WeeklyRepeatReview(
        week=week, start=start, end=end, window_days=window,
        pairs=in_week.reset_index(drop=True),
        by_mechanic=weekly["mechanic"], by_foreman=weekly["foreman"],
        kpi_mechanic=kpi["mechanic"], kpi_foreman=kpi["foreman"],
        orders=int(closed_in_week.sum()), survey_reviews=reviews,
    )


@dataclass(frozen=True)
class MonthlyRepeatReport:
    """Repeat repairs of one month for the monthly report: pairs whose car came back in the
    month, the rate per dealer, and the KPI tables of mechanics and foremen."""

    month: str
    window_days: int
    pairs: pd.DataFrame
    by_dealer: pd.DataFrame
    kpi_mechanic: pd.DataFrame
    kpi_foreman: pd.DataFrame

    def summary(self) -> str:
        """One paragraph for the report."""
        orders = int(self.by_dealer["orders"].sum())
        n = len(self.pairs)
        rate = n / orders if orders else float("nan")
        lost = {role: int((kpi["bonus_share"] == 0).sum()) for role, kpi in
                (("mechanics", self.kpi_mechanic), ("foremen", self.kpi_foreman))}
        return (f"Repeat repairs in {self.month}: {n} cars came back with the same fault "
                f"within {self.window_days} days, {rate:.1%} of {orders} orders closed. "
                f"{lost['mechanics']} mechanics and {lost['foremen']} foremen lose the bonus "
                "share.")


def monthly_report(
    repair_orders: pd.DataFrame,
    *,
    month: str,
    dealers: pd.DataFrame | None = None,
    window_days: int | None = None,
    settings: Settings | None = None,
) -> MonthlyRepeatReport:
    """Repeat repairs of ``month`` (``YYYY-MM``). ``repair_orders`` should include the month
    before it, so that first orders closed before the month are seen."""
    window = int(load_params("operations")["repeat_repair"]["window_days"]
                 if window_days is None else window_days)
    period = pd.Period(month, "M")
    pairs = repeat_repairs(repair_orders, window_days=window)
    in_month = pairs.loc[pairs["repeat_opened_at"].dt.to_period("M") == period]
    closed = repair_orders.loc[repair_orders["closed_at"].dt.to_period("M") == period]
    by_dealer = repeat_summary(in_month, closed, by=("dealer_id",), period=None,
                               settings=settings)
    if dealers is not None:
        by_dealer = dealers[["dealer_id", "dealer_name", "region"]].merge(
            by_dealer, on="dealer_id", how="inner")
    kpi = {role: kpi_table(in_month, closed, role=role, period="M", settings=settings)
           for role in ROLES}
    return MonthlyRepeatReport(
        month=str(period), window_days=window, pairs=in_month.reset_index(drop=True),
        by_dealer=by_dealer.sort_values("repeat_rate", ascending=False).reset_index(drop=True),
        kpi_mechanic=kpi["mechanic"], kpi_foreman=kpi["foreman"],
    )
