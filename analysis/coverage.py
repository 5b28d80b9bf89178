"""What the data allows: for each report section, whether its inputs are there and thick enough.

One place decides it. The dry run of an export (``python -m analysis ingest FILE --check``)
prints it before anything is stored; the report's sections ask it before they compute, and a
section whose need is not met shows one plain line (``params/labels.yaml``, group
``coverage``) naming what is missing and what would fill it, instead of a traceback.

The thresholds are ``needs:`` of params/report.yaml. Numbers only: the words are the report
layer's (the catalogue) and the command line's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from analysis.config import load_params, params_or
from analysis.keywords import normalize

__all__ = ["SECTIONS", "Need", "SectionDataMissing", "assess", "meaningful_comments",
           "mixed_scales", "need", "rated_drivers", "scale_of", "verdict", "with_tables_held"]

# every section of the monthly report whose data is judged, in the deck's order
SECTIONS = ("headline", "trend", "touchpoints", "response_rates", "regions", "dealers",
            "loyalty_drivers", "importance_performance", "root_causes", "growth_zones",
            "css_index", "red_flags", "golden_stars", "incidents", "repeat_repairs", "actions",
            "customers", "survey_funnel", "cities")


@dataclass(frozen=True)
class Need:
    """One section's verdict: ``ok``, else the catalogue key of what is missing (``reason``)
    with the count found and the count needed (None where a count means nothing)."""

    section: str
    ok: bool
    reason: str = ""
    found: int | None = None
    needed: int | None = None


class SectionDataMissing(LookupError):
    """A report section's data is absent; the section says so in one line instead of failing.

    ``what`` is a key of the catalogue's ``data`` group (a table such as ``cases``, or
    ``css_ratings``); the book names it in the report's language. ``need`` is the verdict of
    :mod:`analysis.coverage` when it decided (``what`` is then its reason): the book shows the
    catalogue's ``coverage`` line, which says what is missing and what would fill it.
    """

    def __init__(self, what: str, month: str, *, need: Need | None = None) -> None:
        self.what, self.month, self.need = what, month, need
        if need is None:
            message = f"No {what.replace('_', ' ')} data for {month} in this data set."
        else:
            counts = "" if need.found is None else f" ({need.found} of {need.needed} needed)"
            message = f"{need.section}: {need.reason.replace('_', ' ')}{counts} in {month}."
        super().__init__(message)


def _month_of(responses: pd.DataFrame) -> pd.Series:
    if "month" in responses:
        return responses["month"].astype(str)
    return responses["responded_at"].dt.to_period("M").astype(str)


def _present(frame: pd.DataFrame | None) -> bool:
    return frame is not None and not frame.empty


def meaningful_comments(comments: pd.Series, *, params: Mapping | None = None) -> pd.Series:
    """The comments that say something: not empty and not one of ``needs.empty_comments``
    ("нет", "-", "no", ...) once case, spaces and punctuation are ignored."""
    needs = params_or("report", params)["needs"]
    empty = {normalize(w) for w in needs["empty_comments"]}
    text = comments.dropna().astype(str)
    norm = text.map({t: normalize(t) for t in text.unique()})  # comments repeat: once each
    return text.loc[(norm != "") & ~norm.isin(empty)]


def assess(
    tables: Mapping[str, pd.DataFrame | None], *, month: str | None = None,
    drivers: tuple[str, ...] | None = None, css: tuple[str, ...] | None = None,
    network: bool = True, params: Mapping | None = None,
    params_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Each section of the report for ``month`` (default: the latest month with answers):
    ``section``, ``ok``, ``reason`` (a key of the catalogue's ``coverage`` group, "" when ok),
    ``found``, ``needed``.

    ``tables`` maps table names to frames as the store holds them (``responses`` with
    ``responded_at`` or ``month``; absent or None tables are missing). ``network`` is False for
    a region's report (the regions section is the network's only); a region's report may pass
    the whole network's answers as ``tables["network"]``: the growth model spans them, so its
    dealers are counted there. Driver sections need ``needs.rated_answers`` answers rating every
    driver that many answers rate (:func:`rated_drivers`; an export may rate only some).
    """
    params = params_or("report", params, params_dir=params_dir)
    needs = params["needs"]
    drivers = tuple(drivers if drivers is not None
                    else load_params("drivers", params_dir=params_dir)["drivers"])
    css = tuple(css if css is not None
                else load_params("css", params_dir=params_dir)["attributes"])
    responses = tables.get("responses")
    dealers = tables.get("dealers")
    out: list[Need] = []
    months = _month_of(responses) if _present(responses) else pd.Series(dtype=str)
    month = month or (months.max() if len(months) else None)
    current = responses.loc[months == month] if len(months) else pd.DataFrame()
    if current.empty:
        # a section's own table, when absent, is named first: it is the fix to make
        return _frame([_table_need(s, tables) or Need(s, False, "no_answers", 0, 1)
                       for s in SECTIONS])
    previous = str(pd.Period(month, freq="M") - 1)
    n_dealers = int(current["dealer_id"].nunique())
    regions = (dealers["region"].dropna().nunique()
               if _present(dealers) and "region" in dealers else 0)

    out.append(Need("headline", True))
    out.append(Need("trend", True) if (months == previous).any()
               else Need("trend", False, "no_previous_month", 0, 1))
    out.append(Need("touchpoints", True))
    out.append(_table_need("response_rates", tables) or Need("response_rates", True))
    if network:
        out.append(Need("regions", True) if regions >= 2
                   else Need("regions", False, "one_region", int(regions), 2))
    out.append(Need("dealers", True) if n_dealers >= 2
               else Need("dealers", False, "one_dealer", n_dealers, 2))

    ratings = _ratings_need(current, drivers, params)
    out += [Need(s, ratings.ok, ratings.reason, ratings.found, ratings.needed)
            for s in ("loyalty_drivers", "importance_performance")]
    # the growth model spans the network (a region's report passes it as ``network``): its
    # ratings and dealers count, not the region's
    network_ = tables.get("network")
    model = network_.loc[_month_of(network_) == month] if _present(network_) else current
    model_ratings = ratings if model is current else _ratings_need(model, drivers, params)
    model_dealers = int(model["dealer_id"].nunique())
    if not model_ratings.ok:
        out.append(Need("growth_zones", False, model_ratings.reason, model_ratings.found,
                        model_ratings.needed))
    elif model_dealers < 2:
        out.append(Need("growth_zones", False, "one_dealer", model_dealers, 2))
    else:
        out.append(Need("growth_zones", True))

    score_max = int(load_params("taxonomy", params_dir=params_dir)["scope"]["score_max"])
    below = current.loc[current["nps"] <= score_max]
    comments = (meaningful_comments(below["comment"], params=params)
                if "comment" in below else pd.Series(dtype=str))
    distinct = int(comments.str.strip().str.lower().nunique())
    min_comments = int(needs["distinct_comments"])
    if distinct == 0:
        out.append(Need("root_causes", False, "no_comments", 0, min_comments))
    elif distinct < min_comments:
        out.append(Need("root_causes", False, "few_comments", distinct, min_comments))
    else:
        out.append(Need("root_causes", True))

    has_css = any(c in current and current[c].notna().any() for c in css)
    out.append(Need("css_index", True) if has_css else Need("css_index", False, "no_css"))
    out.append(_table_need("red_flags", tables) or Need("red_flags", True))
    praise = (meaningful_comments(current.loc[current["nps"] > score_max, "comment"],
                                  params=params) if "comment" in current else [])
    out.append(Need("golden_stars", True) if len(praise)
               else Need("golden_stars", False, "no_praise"))
    out += [_table_need(s, tables) or Need(s, True)
            for s in ("incidents", "repeat_repairs", "actions", "customers", "survey_funnel")]
    cities = (dealers["city"].notna().any()
              if _present(dealers) and "city" in dealers else False)
    out.append(Need("cities", True) if cities else Need("cities", False, "no_city"))
    return _frame(out)


# the sections that read a table of their own, and the reason when it is absent
_OWN_TABLE = {"response_rates": ("invitations", "no_invitations"),
              "red_flags": ("cases", "no_cases"), "incidents": ("incidents", "no_incidents"),
              "repeat_repairs": ("repair_orders", "no_repair_orders"),
              "actions": ("actions", "no_actions"),
              "customers": ("repair_orders", "no_repair_orders"),
              "survey_funnel": ("contacts", "no_contacts")}


def with_tables_held(assessed: pd.DataFrame, held) -> pd.DataFrame:
    """``assessed`` (:func:`assess`) with the sections whose own table is one of ``held``
    allowed where it said that table is absent.

    A dealer's page narrows the store's tables to the dealer: a table the store holds without
    a row of the dealer (no case opened, no action planned) is a fact about the dealer,
    which its section shows, not an export to ingest."""
    reasons = {reason for table, reason in _OWN_TABLE.values() if table in set(held)}
    held_ = assessed["reason"].isin(reasons)
    return assessed.assign(ok=assessed["ok"] | held_,
                           reason=assessed["reason"].where(~held_, ""))


def _table_need(section: str, tables: Mapping[str, pd.DataFrame | None]) -> Need | None:
    """The verdict of a section whose own table is absent, else None."""
    if section not in _OWN_TABLE:
        return None
    table, reason = _OWN_TABLE[section]
    return None if _present(tables.get(table)) else Need(section, False, reason)


def _ratings_need(current: pd.DataFrame, drivers: tuple[str, ...], params: Mapping) -> Need:
    """Whether the month's answers rate the drivers often enough for the driver analyses:
    they run on the drivers rated often enough, over the answers that rate them all."""
    min_rated = int(params["needs"]["rated_answers"])
    present = [d for d in drivers if d in current and current[d].notna().any()]
    used = list(rated_drivers(current, drivers, params=params))
    if not present:
        return Need("", False, "no_ratings", 0, min_rated)
    if not used:
        return Need("", False, "few_ratings", int(current[present].notna().sum().max()),
                    min_rated)
    complete = int(current[used].notna().all(axis=1).sum())
    return (Need("", True) if complete >= min_rated
            else Need("", False, "few_ratings", complete, min_rated))


def _frame(needs: list[Need]) -> pd.DataFrame:
    return pd.DataFrame([vars(n) for n in needs],
                        columns=["section", "ok", "reason", "found", "needed"]).astype(
        {"found": "Int64", "needed": "Int64"})


def need(tables: Mapping[str, pd.DataFrame | None], section: str, **kwargs) -> Need:
    """The verdict of one section (see :func:`assess`)."""
    return verdict(assess(tables, **kwargs), section)


def verdict(assessed: pd.DataFrame, section: str) -> Need:
    """One section's :class:`Need` from the frame of :func:`assess` (a section it does not
    list, such as the regions of a region's report, is ok)."""
    rows = assessed.loc[assessed["section"] == section]
    if rows.empty:
        return Need(section, True)
    row = rows.iloc[0]
    return Need(section, bool(row["ok"]), row["reason"],
                None if pd.isna(row["found"]) else int(row["found"]),
                None if pd.isna(row["needed"]) else int(row["needed"]))


def rated_drivers(responses: pd.DataFrame, drivers: tuple[str, ...] | None = None, *,
                  params: Mapping | None = None,
                  params_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The drivers (params/drivers.yaml order) that at least ``needs.rated_answers`` answers
    of ``responses`` rate: those the driver analyses run on when an export rates only some.
    A driver rated a few times would leave too few answers that rate every driver."""
    needed = int(params_or("report", params, params_dir=params_dir)["needs"]["rated_answers"])
    drivers = tuple(drivers if drivers is not None
                    else load_params("drivers", params_dir=params_dir)["drivers"])
    return tuple(d for d in drivers
                 if d in responses and int(responses[d].notna().sum()) >= needed)


def mixed_scales(drivers, scales: Mapping[str, tuple[int, int]] | None = None) -> bool:
    """Whether ``drivers`` were rated on more than one scale (:func:`scale_of` each)."""
    return len({scale_of(d, scales) for d in drivers}) > 1


def scale_of(driver: str, scales: Mapping[str, tuple[int, int]] | None = None, *,
             params_dir: str | os.PathLike | None = None) -> tuple[int, int]:
    """The scale ``driver`` was rated on: ``scales`` (:func:`analysis.ingest.rating_scales`)
    when it names the driver, else params/drivers.yaml ``rating_scale``."""
    if scales and driver in scales:
        low, high = scales[driver]
        return int(low), int(high)
    spec = load_params("drivers", params_dir=params_dir)["rating_scale"]
    return int(spec["min"]), int(spec["max"])
