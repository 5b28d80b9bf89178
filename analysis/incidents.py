"""Incidents: complaints and thanks by channel, category and month; closure in working hours.

Every complaint and every thanks reaches customer service with its channel (phone, e-mail,
web form, messenger, in store, social media) and category; "long service" complaints carry a
``reason``. Each incident should be closed within ``incidents.sla_working_hours`` (3) working
hours, counted on the working calendar of params/operations.yaml (``working_calendar``:
Mon-Fri 09:00-18:00 less the Russian public holidays and transferred days off, plus the
Saturdays made working by a transfer).

Working time is a coordinate: for a moment ``t`` on date ``d``, the working hours since a
fixed origin are ``(working days in [origin, d)) * hours per day + (time of day clipped to the
working day, if d is a working day)``. The working time between two moments is the difference
of their coordinates, so it is vectorised with :func:`numpy.busday_count` and needs no loop:
nights, weekends and holidays add nothing, and an incident created at 20:00 starts its clock at
09:00 the next working day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import load_params
from analysis.errors import OperationsDataError, require_columns
from analysis.estimators import wilson_interval
from analysis.settings import Settings, level_or

__all__ = ["CLOSURE_STATUSES", "IncidentReport", "WorkingCalendar", "closure_summary",
           "closure_times", "incident_counts", "incident_report", "long_service_reasons",
           "working_hours_between"]

CLOSURE_STATUSES = ("closed_within_sla", "closed_late", "open_within_sla", "open_overdue")
_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours: a weekmask, the working day's start and end, holidays, and
    weekend days made working by a transfer."""

    weekmask: str
    day_start: pd.Timedelta
    day_end: pd.Timedelta
    holidays: tuple[str, ...] = ()
    working_days: tuple[str, ...] = ()

    def __post_init__(self):
        if not pd.Timedelta(0) <= self.day_start < self.day_end <= pd.Timedelta(days=1):
            raise ValueError(f"working day must start before it ends within one day; got "
                             f"{self.day_start} - {self.day_end} (working_calendar in "
                             "params/operations.yaml)")

    @classmethod
    def from_params(cls, spec: dict | None = None) -> WorkingCalendar:
        """The calendar of ``working_calendar`` in params/operations.yaml (or of ``spec``)."""
        p = load_params("operations")["working_calendar"] if spec is None else spec
        return cls(
            weekmask=p["weekmask"],
            day_start=pd.Timedelta(f"{p['day_start']}:00"),
            day_end=pd.Timedelta(f"{p['day_end']}:00"),
            holidays=tuple(str(d) for d in p.get("holidays", []) or []),
            working_days=tuple(str(d) for d in p.get("working_days", []) or []),
        )

    @property
    def hours_per_day(self) -> float:
        return (self.day_end - self.day_start) / _HOUR

    @property
    def _busdaycal(self) -> np.busdaycalendar:
        return np.busdaycalendar(weekmask=self.weekmask,
                                 holidays=np.array(self.holidays, dtype="datetime64[D]"))

    @property
    def _extra(self) -> np.ndarray:
        return np.sort(np.array(self.working_days, dtype="datetime64[D]"))

    def is_working_day(self, dates) -> np.ndarray:
        """Whether each date is a working day (weekmask, holidays and transfers applied)."""
        d = np.asarray(dates, dtype="datetime64[D]")
        return np.is_busday(d, busdaycal=self._busdaycal) | np.isin(d, self._extra)

    def working_days_between(self, start, end) -> np.ndarray:
        """Working days in ``[start, end)`` per pair of dates (negative when end < start)."""
        s = np.asarray(start, dtype="datetime64[D]")
        e = np.asarray(end, dtype="datetime64[D]")
        extra = self._extra
        # numpy counts [begin, end) forwards but (end, begin] backwards; counting both ends
        # forwards from the earlier date keeps the result a difference of one coordinate
        origin = np.minimum(s, e)
        cal = self._busdaycal
        return (np.busday_count(origin, e, busdaycal=cal) - np.busday_count(origin, s,
                                                                             busdaycal=cal)
                + np.searchsorted(extra, e) - np.searchsorted(extra, s))


def _naive(values) -> pd.Series:
    """Timestamps as naive local time of the network (tz-aware input is converted first)."""
    s = pd.Series(pd.to_datetime(values))
    if s.dt.tz is not None:
        s = s.dt.tz_convert(load_params("network")["timezone"]).dt.tz_localize(None)
    return s.astype("datetime64[ns]")


def working_hours_between(start, end, *, calendar: WorkingCalendar | None = None) -> np.ndarray:
    """Working hours from ``start`` to ``end``, element-wise; NaN where either is missing.

    Nights, weekends and holidays count nothing; a start outside working hours counts from
    the next working moment and an end outside them from the last one. Signed: swapping start
    and end flips the sign.
    """
    cal = WorkingCalendar.from_params() if calendar is None else calendar
    s, e = _naive(start), _naive(end)
    if len(s) != len(e):
        raise ValueError(f"start and end differ in length: {len(s)} and {len(e)}")
    missing = (s.isna() | e.isna()).to_numpy()
    anchor = np.datetime64("2000-01-01", "ns")
    s_ns = s.to_numpy().copy()
    e_ns = e.to_numpy().copy()
    s_ns[missing] = anchor
    e_ns[missing] = anchor

    def within_day(t: np.ndarray) -> np.ndarray:
        day = t.astype("datetime64[D]")
        clock = t - day.astype("datetime64[ns]")
        clipped = np.clip(clock, cal.day_start.to_timedelta64(), cal.day_end.to_timedelta64())
        worked = (clipped - cal.day_start.to_timedelta64()) / np.timedelta64(1, "h")
        return np.where(cal.is_working_day(day), worked, 0.0)

    days = cal.working_days_between(s_ns.astype("datetime64[D]"), e_ns.astype("datetime64[D]"))
    hours = days * cal.hours_per_day + within_day(e_ns) - within_day(s_ns)
    return np.where(missing, np.nan, hours)


def _check_incidents(incidents: pd.DataFrame, extra: Sequence[str] = ()) -> None:
    require_columns(incidents, ["incident_id", "created_at", "kind", *extra], table="incidents",
                    error=OperationsDataError)


def closure_times(
    incidents: pd.DataFrame,
    *,
    sla_working_hours: float | None = None,
    now: pd.Timestamp | str | None = None,
    calendar: WorkingCalendar | None = None,
) -> pd.DataFrame:
    """Incidents with their closure time (calendar and working hours) and SLA status.

    Parameters
    ----------
    incidents
        ``incident_id, created_at, closed_at`` (NaT while open), ``kind`` and any others,
        which are kept.
    sla_working_hours
        ``incidents.sla_working_hours`` (3) by default; closing at exactly the limit is in time.
    now
        The snapshot moment for open incidents; closures after it have not happened yet.
        Default: the latest ``created_at`` or ``closed_at``.

    Returns
    -------
    DataFrame
        The input plus ``hours_to_close``, ``working_hours_to_close`` (NaN while open),
        ``working_hours_open`` (open ones: working hours from creation to ``now``) and
        ``status`` (ordered categorical of :data:`CLOSURE_STATUSES`).
    """
    _check_incidents(incidents, ["closed_at"])
    sla = float(load_params("operations")["incidents"]["sla_working_hours"]
                if sla_working_hours is None else sla_working_hours)
    cal = WorkingCalendar.from_params() if calendar is None else calendar
    if now is None:
        stamps = pd.concat([incidents["created_at"], incidents["closed_at"]]).dropna()
        if stamps.empty:
            raise OperationsDataError("incidents hold no timestamps: pass now= explicitly")
        now = stamps.max()
    now = pd.Timestamp(now)
    if (incidents["closed_at"] < incidents["created_at"]).any():
        bad = incidents.loc[incidents["closed_at"] < incidents["created_at"], "incident_id"]
        raise OperationsDataError(
            f"{len(bad)} incident(s) closed before they were created, e.g. "
            f"{bad.head(5).tolist()}; fix closed_at in the export")
    frame = incidents.loc[incidents["created_at"] <= now]
    closed = frame["closed_at"].where(frame["closed_at"] <= now)
    worked = working_hours_between(frame["created_at"], closed, calendar=cal)
    open_for = working_hours_between(frame["created_at"], pd.Series(now, index=frame.index),
                                     calendar=cal)
    is_closed = closed.notna().to_numpy()
    status = np.select(
        [is_closed & (worked <= sla), is_closed, open_for <= sla],
        ["closed_within_sla", "closed_late", "open_within_sla"], default="open_overdue")
    return frame.assign(
        closed_at=closed,
        hours_to_close=(closed - frame["created_at"]) / _HOUR,
        working_hours_to_close=worked,
        working_hours_open=np.where(is_closed, np.nan, open_for),
        status=pd.Categorical(status, categories=list(CLOSURE_STATUSES), ordered=True),
    ).reset_index(drop=True)


def closure_summary(
    closures: pd.DataFrame,
    *,
    by: Sequence[str] = ("kind",),
    level: float | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Closure time and the share closed within the working-hours SLA per group.

    ``closures`` is the output of :func:`closure_times`. The share is
    ``closed_within_sla / (closed_within_sla + closed_late + open_overdue)`` with a Wilson
    interval at ``level`` (None: ``settings.level``; None: params/*.yaml); incidents still
    open within the SLA have no outcome yet.
    """
    keys = list(by)
    require_columns(closures, [*keys, "status", "hours_to_close", "working_hours_to_close"],
                    table="closures", error=OperationsDataError,
                    fix="make them with closure_times(incidents)")
    lvl = level_or(level, settings)
    dummies = pd.get_dummies(closures["status"].astype(pd.CategoricalDtype(CLOSURE_STATUSES)),
                             dtype="int64")
    frame = pd.concat([closures[[*keys, "hours_to_close", "working_hours_to_close"]], dummies],
                      axis=1).assign(incidents=1, _all=0)
    agg = {"incidents": ("incidents", "sum"), **{s: (s, "sum") for s in CLOSURE_STATUSES},
           "median_hours": ("hours_to_close", "median"),
           "median_working_hours": ("working_hours_to_close", "median")}
    out = frame.groupby(keys or ["_all"], observed=True, sort=True).agg(**agg)
    out = out.reset_index(drop=not keys)
    out = out.assign(decided=lambda d: d["closed_within_sla"] + d["closed_late"]
                     + d["open_overdue"],
                     share_within_sla=lambda d: d["closed_within_sla"]
                     / d["decided"].where(d["decided"] > 0))
    low, high = wilson_interval(out["closed_within_sla"], out["decided"], level=lvl)
    return out.assign(share_low=low, share_high=high)


def incident_counts(
    incidents: pd.DataFrame,
    *,
    by: Sequence[str] = ("kind", "channel", "category"),
    period: str | None = "M",
) -> pd.DataFrame:
    """Number of incidents per group and period, tidy: ``*by, [period], n`` (no zero rows)."""
    keys = list(by)
    _check_incidents(incidents, keys)
    frame = incidents[keys]
    if period:
        frame = frame.assign(period=incidents["created_at"].dt.to_period(period).astype(str))
        keys = [*keys, "period"]
    return (frame.groupby(keys, observed=True, sort=True, dropna=False).size()
            .rename("n").reset_index())


def long_service_reasons(
    incidents: pd.DataFrame,
    *,
    period: str | None = None,
    category: str | None = None,
) -> pd.DataFrame:
    """Breakdown of "long service" complaints by reason: ``[period], reason, n, share``.

    ``category`` is the long-service category label (``incidents.long_service_category``);
    a missing reason is shown as ``"not given"``.
    """
    _check_incidents(incidents, ["category", "reason"])
    cat = load_params("operations")["incidents"]["long_service_category"] \
        if category is None else category
    frame = (incidents.loc[(incidents["category"] == cat) & (incidents["kind"] == "complaint")]
             .assign(reason=lambda d: d["reason"].fillna("not given")))
    keys = ["reason"]
    if period:
        frame = frame.assign(period=frame["created_at"].dt.to_period(period).astype(str))
        keys = ["period", "reason"]
    counts = frame.groupby(keys, sort=True).size().rename("n").reset_index()
    total = counts.groupby(keys[:-1])["n"].transform("sum") if period else counts["n"].sum()
    return (counts.assign(share=counts["n"] / total)
            .sort_values([*keys[:-1], "n"], ascending=[True] * (len(keys) - 1) + [False])
            .reset_index(drop=True))


@dataclass(frozen=True)
class IncidentReport:
    """Incidents of a scope: counts by channel, category and month, long-service reasons and
    closure against the working-hours SLA."""

    counts: pd.DataFrame
    reasons: pd.DataFrame
    closures: pd.DataFrame
    closure_by_kind: pd.DataFrame
    closure_by_channel: pd.DataFrame
    sla_working_hours: float

    def summary(self) -> str:
        """A few lines for the report."""
        kinds = self.closures["kind"].value_counts().sort_index()
        c = self.closure_by_kind.set_index("kind")
        names = {"complaint": "complaints", "thanks": "thanks"}
        parts = [f"{n} {names.get(k, k)}" for k, n in kinds.items()]
        shares = [f"{k}: {row['share_within_sla']:.0%} "
                  f"({row['share_low']:.0%}-{row['share_high']:.0%})"
                  for k, row in c.iterrows()]
        top = self.reasons.iloc[0] if len(self.reasons) else None
        reason = (f" The main cause of long service: {top['reason']} ({top['share']:.0%})."
                  if top is not None else "")
        return (f"Incidents: {', '.join(parts)}. Closed within {self.sla_working_hours:g} "
                f"working hours - {'; '.join(shares)}.{reason}")


def incident_report(
    incidents: pd.DataFrame,
    *,
    month: str | None = None,
    now: pd.Timestamp | str | None = None,
    period: str = "M",
    settings: Settings | None = None,
) -> IncidentReport:
    """Everything the incidents section of a report shows, in one object.

    Counts cover every incident given (the dynamics); long-service reasons and closure cover
    ``month`` (``YYYY-MM``) when it is given, else every incident too.
    """
    sla = float(load_params("operations")["incidents"]["sla_working_hours"])
    scope = incidents
    if month:
        scope = incidents.loc[incidents["created_at"].dt.to_period("M") == pd.Period(month, "M")]
    closures = closure_times(scope, sla_working_hours=sla, now=now)
    return IncidentReport(
        counts=incident_counts(incidents, period=period),
        reasons=long_service_reasons(scope),
        closures=closures,
        closure_by_kind=closure_summary(closures, by=("kind",), settings=settings),
        closure_by_channel=closure_summary(closures, by=("channel",), settings=settings),
        sla_working_hours=sla,
    )
