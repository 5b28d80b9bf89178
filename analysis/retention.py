"""Customers who come back and those who do not, and the money at stake (issue 17).

A customer is a car (VIN) in the repair orders. From those visits and the NPS answers:

- :func:`customer_flow`: per dealer and month, the customers who visited, how many of them
  came for the first time (``new``), came back (``returning``), and how many were ``lost``
  (their last visit at the dealer was ``lost_after_months`` ago, no visit since).
- :func:`return_times` and :func:`return_rates`: after a service answer, the time to the car's
  next visit (at any dealer; a visit within ``comeback_days`` is a comeback for the same job,
  not a return), censored at the data's end, and the share that came back within ``months``
  by the NPS category of the answer: Kaplan-Meier with Greenwood's variance on the log(-log)
  scale (the interval stays inside 0-1), so answers too recent to have a full year behind them
  still count for the time they were watched.
- :func:`value_at_stake` and :func:`uplift_value`: what detractors cost a dealer in visits
  (their return-rate gap to promoters x visits a year x the average order value), and what an
  NPS gain (a growth zone's) is associated with among the dealer's
  :func:`service_customers`, each with an interval from the gap's (and the gain's).
- :func:`win_back`: the customer-care team's call list (recent detractors, lapsed customers);
  :func:`load_win_back` reads it from the store over the months it needs
  (:func:`win_back_months`), for the team's export and the monthly report alike.

The link between NPS and coming back is an association measured on the network's own
customers, not an experiment: a detractor may stay away for reasons the score only reflects.
Everything returns tidy frames with machine column names; formatting and masking are the
report's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import DataError, require_columns
from analysis.estimators import z_value
from analysis.settings import Settings, level_or

__all__ = ["CATEGORIES", "DAYS_PER_MONTH", "RetentionDataError", "categorize", "customer_flow",
           "kaplan_meier", "load_win_back", "return_rates", "return_times", "service_customers",
           "uplift_value", "value_at_stake", "win_back", "win_back_months"]

CATEGORIES = ("promoter", "passive", "detractor")
DAYS_PER_MONTH = 365.25 / 12


class RetentionDataError(DataError):
    """Repair orders or answers lack what a retention analysis needs."""


def _loop(params: Mapping | None) -> dict:
    return params_or("loop", params)


def categorize(scores: pd.Series, *, nps_params: Mapping | None = None) -> pd.Series:
    """promoter / passive / detractor of 0-10 scores (cut-offs of params/nps.yaml)."""
    p = params_or("nps", nps_params)
    out = np.select([scores >= p["promoter_min"], scores > p["detractor_max"]],
                    ["promoter", "passive"], "detractor")
    return pd.Series(out, index=scores.index, name="category")


def _visits(repair_orders: pd.DataFrame) -> pd.DataFrame:
    require_columns(repair_orders, ["vin", "dealer_id", "opened_at"], table="repair_orders",
                    error=RetentionDataError)
    return (repair_orders.loc[repair_orders["vin"].notna(), ["vin", "dealer_id", "opened_at"]]
            .assign(month=lambda d: d["opened_at"].dt.to_period("M")))


def customer_flow(
    repair_orders: pd.DataFrame,
    *,
    lost_after_months: int | None = None,
    params: Mapping | None = None,
) -> pd.DataFrame:
    """New, returning and lost customers per dealer and month.

    A customer is a VIN at a dealer. In a month: ``customers`` visited (distinct VINs), of
    whom ``new`` had no earlier visit at this dealer in the data and ``returning`` had one;
    ``lost`` customers made their last visit ``lost_after_months`` months earlier and none
    since (counted in the month they become lost, up to the data's last month). The first
    ``lost_after_months`` months of the data count every customer as new: there is no history
    before them (``history`` says which months have a full one).

    Returns
    -------
    ``dealer_id``, ``month`` (YYYY-MM), ``customers``, ``new``, ``returning``, ``lost``,
    ``history`` (bool).
    """
    lost_after = int(lost_after_months if lost_after_months is not None
                     else _loop(params)["retention"]["lost_after_months"])
    v = _visits(repair_orders)
    if v.empty:
        return pd.DataFrame(columns=["dealer_id", "month", "customers", "new", "returning",
                                     "lost", "history"])
    per = v.groupby(["dealer_id", "vin"])["month"].agg(["min", "max"])
    monthly = v.drop_duplicates(["dealer_id", "vin", "month"]).merge(
        per["min"].rename("first"), left_on=["dealer_id", "vin"], right_index=True)
    monthly["is_new"] = monthly["month"] == monthly["first"]
    flow = (monthly.groupby(["dealer_id", "month"])
            .agg(customers=("vin", "size"), new=("is_new", "sum")))
    flow["returning"] = flow["customers"] - flow["new"]
    first_month, last_month = v["month"].min(), v["month"].max()
    lost = (per["max"] + lost_after).rename("month").reset_index()
    lost = lost.loc[lost["month"] <= last_month].groupby(["dealer_id", "month"]).size()
    months = pd.period_range(first_month, last_month, freq="M")
    grid = pd.MultiIndex.from_product([sorted(v["dealer_id"].unique()), months],
                                      names=["dealer_id", "month"])
    out = (flow.reindex(grid, fill_value=0).assign(lost=lost.reindex(grid, fill_value=0))
           .astype("int64").reset_index())
    out["history"] = out["month"] >= first_month + lost_after
    out["month"] = out["month"].astype(str)
    return out[["dealer_id", "month", "customers", "new", "returning", "lost", "history"]]


def return_times(
    repair_orders: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    touchpoint: str | None = None,
    comeback_days: float | None = None,
    params: Mapping | None = None,
    nps_params: Mapping | None = None,
) -> pd.DataFrame:
    """For each answer with a VIN (of ``touchpoint``), the days to the car's next visit.

    The next visit is the first repair order of the VIN (at any dealer) opened at least
    ``comeback_days`` after the answer. Without one the time is censored at ``as_of`` (default:
    the latest repair order's opening).

    Returns
    -------
    ``response_id``, ``dealer_id``, ``vin``, ``responded_at``, ``nps``, ``category``,
    ``days`` (to the visit, or watched until ``as_of``) and ``returned`` (bool).
    """
    cfg = _loop(params)["retention"]
    touchpoint = touchpoint if touchpoint is not None else cfg["touchpoint"]
    gap = pd.Timedelta(days=float(comeback_days if comeback_days is not None
                                  else cfg["comeback_days"]))
    require_columns(responses, ["response_id", "dealer_id", "responded_at", "nps", "vin"],
                    table="responses", error=RetentionDataError)
    v = _visits(repair_orders)
    as_of = pd.Timestamp(as_of) if as_of is not None else v["opened_at"].max()
    answers = responses.loc[responses["vin"].notna()
                            & (responses["responded_at"] <= as_of)]
    if touchpoint is not None and "touchpoint" in answers.columns:
        answers = answers.loc[answers["touchpoint"] == touchpoint]
    answers = answers[["response_id", "dealer_id", "vin", "responded_at", "nps"]].assign(
        category=lambda d: categorize(d["nps"], nps_params=nps_params),
        _from=lambda d: (d["responded_at"] + gap).astype("datetime64[ns]"))
    # the first visit of the same VIN at or after answer + gap (merge_asof: sorted by time)
    visits = (v.loc[v["opened_at"] <= as_of, ["vin", "opened_at"]]
              .astype({"opened_at": "datetime64[ns]"}).sort_values("opened_at", kind="stable"))
    joined = pd.merge_asof(answers.sort_values("_from", kind="stable"), visits,
                           left_on="_from", right_on="opened_at", by="vin",
                           direction="forward")
    returned = joined["opened_at"].notna()
    end = joined["opened_at"].where(returned, as_of)
    days = (end - joined["responded_at"]).dt.total_seconds() / 86400
    return (joined.assign(days=days, returned=returned)
            .drop(columns=["_from", "opened_at"])
            .sort_values(["responded_at", "response_id"], kind="stable")
            .reset_index(drop=True))


def kaplan_meier(days, returned, *, horizon: float, level: float | None = None,
                 settings: Settings | None = None) -> tuple[float, float, float, int]:
    """Kaplan-Meier share that returned by ``horizon`` days (1 - S), its interval (Greenwood's
    variance on the log(-log) scale, at ``level``; None: ``settings.level``) and the number
    still watched at the horizon.

    The curve and its Greenwood standard error are statsmodels' (``SurvfuncRight``); the
    interval is on the log(-log) scale. NaN where nobody was watched as long as ``horizon``:
    the curve says nothing there.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    days = np.asarray(days, dtype=float)
    event = np.asarray(returned, dtype=bool)
    at_horizon = int(np.sum(days >= horizon))
    if len(days) == 0 or at_horizon == 0:
        return np.nan, np.nan, np.nan, at_horizon
    if not event.any():  # nobody came back: statsmodels has no event time to step at
        return 0.0, 0.0, np.nan, at_horizon
    curve = SurvfuncRight(days, event.astype(float))
    upto = np.searchsorted(curve.surv_times, horizon, side="right")
    if upto == 0:  # the first return came after the horizon
        return 0.0, 0.0, np.nan, at_horizon
    surv = float(curve.surv_prob[upto - 1])
    if surv <= 0:
        return 1.0, np.nan, 1.0, at_horizon
    if surv >= 1:
        return 0.0, 0.0, np.nan, at_horizon
    se = float(curve.surv_prob_se[upto - 1]) / (surv * abs(np.log(surv)))
    z = z_value(level_or(level, settings))
    s_low, s_high = surv ** np.exp(z * se), surv ** np.exp(-z * se)
    return 1 - surv, 1 - s_high, 1 - s_low, at_horizon


def return_rates(
    repair_orders: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    months: int = 12,
    by: Sequence[str] = (),
    as_of: pd.Timestamp | str | None = None,
    level: float | None = None,
    params: Mapping | None = None,
    nps_params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The share of customers who came back within ``months`` after their answer, by the NPS
    category of the answer (Kaplan-Meier, censored at the data's end; see the module docstring).

    Parameters
    ----------
    by
        Further grouping columns of the answers (e.g. ``("dealer_id",)``).
    level
        Confidence level of the rates' intervals; None takes ``settings.level`` (None:
        params/*.yaml), the report's one level.

    Returns
    -------
    One row per category (and group): ``*by``, ``category``, ``n`` (answers), ``returned``
    (returns seen within the horizon), ``at_horizon`` (answers watched the whole horizon),
    ``rate``, ``rate_low``, ``rate_high``. NaN rates where no answer is old enough.
    """
    level = level_or(level, settings)
    horizon = months * DAYS_PER_MONTH
    times = return_times(repair_orders, responses, as_of=as_of, params=params,
                         nps_params=nps_params)
    by = list(by)
    missing = [c for c in by if c not in times.columns]
    if missing:
        extra = responses[["response_id", *missing]]
        times = times.merge(extra, on="response_id", how="left")
    rows = []
    groups = times.groupby([*by, "category"], sort=False) if len(times) else []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        rate, low, high, watched = kaplan_meier(part["days"], part["returned"], horizon=horizon,
                                                level=level)
        rows.append({**dict(zip([*by, "category"], key)), "n": len(part),
                     "returned": int((part["returned"] & (part["days"] <= horizon)).sum()),
                     "at_horizon": watched, "rate": rate, "rate_low": low, "rate_high": high})
    out = pd.DataFrame(rows, columns=[*by, "category", "n", "returned", "at_horizon", "rate",
                                      "rate_low", "rate_high"])
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return (out.sort_values([*by, "category"], key=lambda s: s.map(order)
                            if s.name == "category" else s, kind="stable")
            .reset_index(drop=True))


def _gap(rates: pd.DataFrame) -> tuple[float, float, float]:
    """The promoters' return rate minus the detractors', with an interval (each rate's
    half-widths combined as independent normal errors)."""
    r = rates.set_index("category")
    if not {"promoter", "detractor"} <= set(r.index):
        return np.nan, np.nan, np.nan
    p, d = r.loc["promoter"], r.loc["detractor"]
    gap = p["rate"] - d["rate"]
    half = np.sqrt(((p["rate_high"] - p["rate_low"]) / 2) ** 2
                   + ((d["rate_high"] - d["rate_low"]) / 2) ** 2)
    return float(gap), float(gap - half), float(gap + half)


def value_at_stake(
    responses: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    by: Sequence[str] = ("dealer_id",),
    visits_per_year: float | None = None,
    average_order_value: float | None = None,
    params: Mapping | None = None,
    nps_params: Mapping | None = None,
) -> pd.DataFrame:
    """What detractors cost per group (a dealer) in a year of workshop visits:
    detractors x (the promoters' return rate - the detractors') x visits a year x the average
    order value, with the interval of the gap.

    Parameters
    ----------
    responses
        The answers whose detractors are counted (e.g. the last 12 months' service answers);
        one detractor per VIN (its latest answer), or per answer where there is no VIN.
    rates
        :func:`return_rates` of the network (its promoter and detractor rows).
    visits_per_year, average_order_value
        Default from params/loop.yaml (``value:``).

    Returns
    -------
    ``*by``, ``detractors``, ``gap``, ``gap_low``, ``gap_high``, ``customers_at_stake``
    (detractors x gap), ``value``, ``value_low``, ``value_high`` (in the network's currency).
    """
    cfg = _loop(params)["value"]
    visits = float(visits_per_year if visits_per_year is not None else cfg["visits_per_year"])
    aov = float(average_order_value if average_order_value is not None
                else cfg["average_order_value"])
    by = list(by)
    require_columns(responses, [*by, "nps"], table="responses", error=RetentionDataError)
    latest = responses
    if "vin" in responses.columns:
        has_vin = responses["vin"].notna()
        time_col = "responded_at" if "responded_at" in responses.columns else None
        ordered = responses.sort_values(time_col, kind="stable") if time_col else responses
        latest = pd.concat([ordered.loc[has_vin].drop_duplicates("vin", keep="last"),
                            responses.loc[~has_vin]])
    counts = (latest.assign(detractor=categorize(latest["nps"], nps_params=nps_params)
                            == "detractor")
              .groupby(by)["detractor"].sum().rename("detractors").astype("int64"))
    gap, low, high = _gap(rates)
    out = counts.reset_index().assign(gap=gap, gap_low=low, gap_high=high)
    out["customers_at_stake"] = out["detractors"] * gap
    per_customer = visits * aov
    for col, g in (("value", gap), ("value_low", low), ("value_high", high)):
        out[col] = out["detractors"] * g * per_customer
    return out


def uplift_value(
    gains: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    gain: str = "nps_gain",
    customers: str = "customers",
    gain_interval: tuple[str, str] | None = None,
    visits_per_year: float | None = None,
    average_order_value: float | None = None,
    params: Mapping | None = None,
) -> pd.DataFrame:
    """What an NPS gain (a growth zone's promised uplift) is associated with in a year of
    visits: ``customers x gain / 200 x gap x visits a year x average order value``.

    An NPS gain of ``g`` points among ``N`` customers is at least ``N g / 200`` customers
    moved from detractor to promoter (each such move adds 200/N points); moves through
    passives give more customers, each with part of the gap, and the same value when the
    return rate rises evenly across the categories.

    Parameters
    ----------
    gains
        One row per dealer (or zone), with the NPS gain in points (``gain``) and the number of
        customers it applies to in a year (``customers``); e.g. ``growth_zones(...).table``
        (``gain="uplift"``) with each dealer's service customers of the last 12 months.
    gain_interval
        The gain's interval columns (``("uplift_low", "uplift_high")``): the value's interval
        then spans every product of the ends of both (gain and return-rate gap: the low ends
        and the high ends when both are positive), else the gain is taken as exact.

    Returns
    -------
    ``gains`` with ``customers_moved``, ``value``, ``value_low``, ``value_high``.
    """
    cfg = _loop(params)["value"]
    visits = float(visits_per_year if visits_per_year is not None else cfg["visits_per_year"])
    aov = float(average_order_value if average_order_value is not None
                else cfg["average_order_value"])
    require_columns(gains, [gain, customers], table="growth gains", error=RetentionDataError)
    gap, low, high = _gap(rates)
    moved = gains[customers] * gains[gain] / 200
    lo_gain, hi_gain = (gains[gain_interval[0]], gains[gain_interval[1]]) if gain_interval \
        else (gains[gain], gains[gain])
    # the product of two intervals: its ends are among the products of their ends (a gap
    # whose interval crosses 0 must not turn the low end of the value into a high one)
    corners = np.column_stack([g * r for g in (lo_gain.to_numpy(dtype=float),
                                               hi_gain.to_numpy(dtype=float))
                               for r in (low, high)])
    scale = gains[customers].to_numpy(dtype=float) / 200 * visits * aov
    return gains.assign(customers_moved=moved, value=moved * gap * visits * aov,
                        value_low=scale * corners.min(axis=1),
                        value_high=scale * corners.max(axis=1))


def service_customers(
    repair_orders: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    months: int = 12,
) -> pd.DataFrame:
    """Each dealer's service customers: the cars (VINs) with a workshop visit in the
    ``months`` up to ``as_of`` (default: the latest repair order), for :func:`uplift_value`.

    Returns
    -------
    ``dealer_id``, ``customers``.
    """
    v = _visits(repair_orders)
    as_of = pd.Timestamp(as_of) if as_of is not None else v["opened_at"].max()
    recent = v.loc[(v["opened_at"] <= as_of)
                   & (v["opened_at"] > as_of - pd.DateOffset(months=months))]
    return (recent.groupby("dealer_id")["vin"].nunique().rename("customers")
            .astype("int64").reset_index())


def win_back(
    repair_orders: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    include_contacts: bool = False,
    params: Mapping | None = None,
    nps_params: Mapping | None = None,
) -> pd.DataFrame:
    """The customer-care team's call list per dealer: recent detractors who have not come back
    and lapsed customers (no visit for ``lapsed_after_months``, not yet lost).

    Personal data: the list carries VINs always and the customer's ``phone`` and ``email`` only
    with ``include_contacts=True``, for the team's own export. It must never reach the HTML
    report; a report shows counts per dealer, or the list through the report's masking.

    Returns
    -------
    ``dealer_id``, ``vin``, ``reason`` (``detractor`` or ``lapsed``), ``last_visit``,
    ``last_answer_at``, ``last_nps``, ``months_since_visit`` (+ ``phone``, ``email``), one row
    per VIN and dealer, detractors first.
    """
    cfg = _loop(params)
    wb, lost_after = cfg["win_back"], int(cfg["retention"]["lost_after_months"])
    v = _visits(repair_orders)
    as_of = pd.Timestamp(as_of) if as_of is not None else v["opened_at"].max()
    v = v.loc[v["opened_at"] <= as_of]
    last_visit = (v.groupby(["dealer_id", "vin"])["opened_at"].max().rename("last_visit")
                  .reset_index())
    cols = ["dealer_id", "vin", "responded_at", "nps",
            *[c for c in ("phone", "email") if include_contacts and c in responses.columns]]
    answers = (responses.loc[responses["vin"].notna() & (responses["responded_at"] <= as_of),
                             cols]
               .sort_values("responded_at", kind="stable")
               .drop_duplicates(["dealer_id", "vin"], keep="last")
               .rename(columns={"responded_at": "last_answer_at", "nps": "last_nps"}))
    people = last_visit.merge(answers, on=["dealer_id", "vin"], how="outer")
    since = (as_of - people["last_visit"]).dt.days / DAYS_PER_MONTH
    recent = people["last_answer_at"] >= as_of - pd.Timedelta(days=wb["recent_detractor_days"])
    detractor = (recent & (categorize(people["last_nps"].fillna(10), nps_params=nps_params)
                           == "detractor")
                 & ~(people["last_visit"] > people["last_answer_at"]))
    lapsed = (since >= wb["lapsed_after_months"]) & (since < lost_after)
    out = people.assign(months_since_visit=since,
                        reason=np.where(detractor, "detractor", "lapsed"))
    out = out.loc[detractor | lapsed]
    cols = ["dealer_id", "vin", "reason", "last_visit", "last_answer_at", "last_nps",
            "months_since_visit", *cols[4:]]
    return (out[cols].sort_values(["dealer_id", "reason", "last_answer_at"],
                                  ascending=[True, True, False], kind="stable")
            .reset_index(drop=True))


def win_back_months(month: str, *, params: Mapping | None = None) -> tuple[str, ...]:
    """The months of repair orders and answers the win-back list at the end of ``month``
    needs: back to the earliest day a customer's last visit can fall on and still not count as
    lost (``lost_after_months`` of :data:`DAYS_PER_MONTH` days, as :func:`win_back` counts
    them), so ``lost_after_months + 1`` months (YYYY-MM, oldest first)."""
    lost_after = int(_loop(params)["retention"]["lost_after_months"])
    end = pd.Period(month, freq="M")
    first = (end.end_time - pd.Timedelta(days=math.ceil(lost_after * DAYS_PER_MONTH))
             ).to_period("M")
    return tuple(str(p) for p in pd.period_range(first, end, freq="M"))


def load_win_back(
    month: str,
    *,
    data_dir: str | os.PathLike | None = None,
    regions: Sequence[str] | None = None,
    dealers: Iterable[str] | None = None,
    include_contacts: bool = False,
    params: Mapping | None = None,
    nps_params: Mapping | None = None,
) -> pd.DataFrame:
    """The win-back list at the end of ``month``, read from the store: :func:`win_back` over
    the repair orders and service answers of :func:`win_back_months`.

    The monthly report and the customer-care team's export both count the list here, over
    the same months, so they agree to the customer (a report's own frames span its trend
    months, which may not reach back as far). ``regions`` and ``dealers`` (ids) narrow the
    scope; ``data_dir`` may be a :class:`analysis.store.Snapshot` (the versions a report
    read). ``phone`` and ``email`` are read only with ``include_contacts``.
    """
    from analysis import store

    cfg = _loop(params)
    months = list(win_back_months(month, params=cfg))
    columns = ["response_id", "dealer_id", "touchpoint", "responded_at", "nps", "vin",
               *(["phone", "email"] if include_contacts else [])]
    responses = store.load("responses", months=months, regions=regions, data_dir=data_dir,
                           columns=columns)
    orders = store.load("repair_orders", months=months, regions=regions, data_dir=data_dir)
    if dealers is not None:
        keep = set(dealers)
        responses = responses.loc[responses["dealer_id"].isin(keep)]
        orders = orders.loc[orders["dealer_id"].isin(keep)]
    service = responses.loc[responses["touchpoint"] == cfg["retention"]["touchpoint"]]
    return win_back(orders, service, as_of=pd.Period(month, freq="M").end_time,
                    include_contacts=include_contacts, params=cfg, nps_params=nps_params)
