"""Every table a report shows: statistics' frames and results made readable.

Each function takes the tidy frame or result object of a statistics module and returns a
frame with the catalogue's human headers (params/labels.yaml) whose columns hold numbers,
dates and words, each column's kind in ``attrs["kinds"]`` (:mod:`analysis.report.kinds`): the
page writes them through the one formatter (:mod:`analysis.report.format`), joining an
interval's ends or a mark into one cell (``+21.6 [+17.7, +25.3]``, ``29 (small n)``); the
workbook keeps every number a number. ``kinds.page(table)`` is the table as the page shows
it. Filtering is done on machine columns before anything is formatted. ``language=None`` is
the catalogue's default language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analysis import repairs
from analysis.incidents import CLOSURE_STATUSES
from analysis.privacy import mask_pii_series
from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report import rules
from analysis.report.kinds import Table
from analysis.settings import Settings, level_or

__all__ = ["action_review_table", "agreement_table", "as_dates", "catalogue_names",
           "cause_matrix_table", "cause_name", "channel_difference_table", "closure_table",
           "completion_table", "css_table", "customer_flow_table", "dealer_table",
           "dealer_zones_table", "driver_labels", "driver_means_table", "driver_ranking_table",
           "funnel_table", "golden_star_table", "growth_table", "growth_value_table",
           "headline_table", "impact_table", "importance_change_table",
           "importance_performance_table", "importance_table", "incident_table", "overdue_table",
           "pairs_table", "quality_table", "reasons_table", "repeat_kpi_table",
           "repeat_people_table", "repeats_by_dealer_table", "response_rate_table",
           "return_rate_table", "reviews_table", "series_table", "sla_table", "summary_table",
           "target_name", "top_growth_table", "value_at_stake_table"]


def catalogue_names(group: str, values: pd.Series, language: str | None) -> pd.Series:
    """Machine values (touchpoint codes, statuses, causes) as the catalogue names them."""
    known = L.names(group, language=language)
    return values.map(lambda v: v if F.is_missing(v) else known.get(str(v), v))


def driver_labels(drivers: Iterable[str], *, scales=None,
                  language: str | None = None) -> dict[str, str]:
    """Each driver's name; with its scale, ``Booking (1–5)``, when ``scales``
    (``{driver: (low, high)}``, :func:`analysis.ingest.rating_scales`) rate the drivers on
    different scales: a reader then sees which scale each rating is in."""
    from analysis.coverage import mixed_scales, scale_of

    drivers = list(drivers)
    labels = L.driver_labels(language)
    if not mixed_scales(drivers, scales):
        return {d: labels.get(d, d) for d in drivers}
    return {d: "{} ({}–{})".format(labels.get(d, d), *scale_of(d, scales)) for d in drivers}


def _rename(frame: pd.DataFrame, language: str | None, **columns: str) -> pd.DataFrame:
    """Rename machine columns to the catalogue's headers (``columns`` maps column -> key)."""
    return frame.rename(columns={c: L.column(k, language=language) for c, k in columns.items()})


# --- NPS -------------------------------------------------------------------------------------


def _rank_level(settings: Settings | None, language: str | None) -> str:
    return F.percent(rules.settings_or(settings).rank_level, language=L.resolve(language))


def _nps_frame(table: pd.DataFrame, t: Table, *, level: float, language: str | None,
               extra: bool = False, rule=None, change: str = "change",
               settings: Settings | None = None) -> Table:
    """The NPS columns of a summary after ``t``'s first ones: answers, NPS (small samples
    marked), interval, change (significant ones marked), its p-value and the response rate
    when there is one.

    ``extra`` keeps every other number of the summary (counts by category, invitations, the
    shrunk NPS): the month-by-month table shows them all. ``change``: the change's header
    (a key of the catalogue's columns).
    """
    c = L.columns(language)
    alpha = 1 - level
    small = L.text("marks", "small_sample", language=language)
    star = L.text("marks", "significant", language=language)
    t.count(c("answers"), table["n"])
    if extra:
        for key in ("promoters", "passives", "detractors"):
            t.count(c(key), table[key])
    t.signed(c("nps"), table["nps"], mark=(table["small_sample"], small), scale="nps")
    t.interval(c("interval", level=F.percent(level, language=L.resolve(language))), table["nps_low"], table["nps_high"],
               "signed")
    t.signed(c(change), table["change_vs_previous"], mark=(rules.significant(
        table, "change", rule=rule, settings=settings).tolist(), star))
    t.p_value(c("p_value"), table["change_p_value"], alpha=alpha)
    if extra and "invited" in table:
        t.count(c("invited"), table["invited"])
    if "response_rate" in table:
        t.percent(c("response_rate"), table["response_rate"], scale="rate")
    if extra and "nps_shrunk" in table:
        t.signed(c("nps_shrunk"), table["nps_shrunk"], scale="nps")
    return t


def headline_table(
    summary: pd.DataFrame,
    *,
    month: str,
    by: Sequence[str] = (),
    weighted: pd.DataFrame | None = None,
    level: float | None = None,
    label: str | None = None,
    language: str | None = None,
    rule=None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The report month: NPS with interval, change vs previous month, one row per group.

    ``summary`` is :func:`analysis.nps.summarize` by ``by`` and month (the sections ask the
    engine for it; it holds the month before for the change); ``weighted`` its
    :func:`analysis.nps.summarize_weighted` (None: not shown). ``label`` names the row when
    ``by=()``. The table holds aggregates only, never personal data. A ``*`` marks a change
    that passes ``rule`` (:func:`analysis.report.rules.significant`; ``settings`` the
    report's, whose level the interval has unless ``level`` says).
    """
    lvl = level_or(level, settings)
    table = summary.loc[summary["period"] == pd.Period(month, freq="M")]
    if table.empty:
        raise ValueError(f"no answers in {month}")
    names = table[list(by)].astype(str)
    if "touchpoint" in names:
        names["touchpoint"] = catalogue_names("touchpoints", names["touchpoint"], language)
    if label is None:
        label = L.text("labels", "all_answers", language=language)
    groups = (names.agg(" / ".join, axis=1) if by else pd.Series(label, index=table.index))
    t = Table(language=language).text(L.column("group", language=language), groups)
    t = _nps_frame(table, t, level=lvl, language=language, rule=rule, settings=settings)
    if weighted is not None:
        weighted = weighted.loc[weighted["period"] == pd.Period(month, freq="M")]
    if weighted is not None and not weighted.empty:
        # response rates differ across dealer x touchpoint cells: beside the answers' NPS,
        # the NPS with every cell weighted by its invitations
        c = L.columns(language)
        weighted = weighted.drop(columns="period").reset_index(drop=True)
        w = table[list(by)].merge(weighted, on=list(by), how="left") if by else weighted
        t.signed(c("nps_weighted"), w["nps_weighted"], scale="nps")
        t.interval(c("nps_weighted_interval", level=F.percent(lvl, language=L.resolve(language))), w["nps_weighted_low"],
                   w["nps_weighted_high"], "signed")
    return t.frame()


def series_table(summary: pd.DataFrame, *, level: float | None = None,
                 language: str | None = None, rule=None,
                 settings: Settings | None = None) -> pd.DataFrame:
    """A :func:`analysis.nps.summarize` frame by period (one group), every number kept."""
    lvl = level_or(level, settings)
    t = Table(language=language).month(L.column("month", language=language),
                                        summary["period"].astype(str))
    return _nps_frame(summary, t, level=lvl, language=language, extra=True,
                      rule=rule, settings=settings).frame()


def summary_table(summary: pd.DataFrame, *, by: Sequence[str] = (),
                  level: float | None = None, language: str | None = None,
                  rule=None, settings: Settings | None = None) -> pd.DataFrame:
    """A :func:`analysis.nps.summarize` frame of any grouping and period (the explore
    notebooks' slices) as the report shows NPS: the groups by name, the period, answers, NPS
    (small samples marked), interval, change (starred by ``rule``), its p-value and the
    response rate; without a time split there is no change to show."""
    lvl = level_or(level, settings)
    c = L.columns(language)
    table = summary.reset_index(drop=True)
    if "change_vs_previous" not in table:
        table = table.assign(change_vs_previous=np.nan, change_p_value=np.nan)
    t = Table(language=language)
    for key in by:
        values = table[key].astype(str)
        if key == "touchpoint":
            values = catalogue_names("touchpoints", values, language)
        t.text(c({"dealer_name": "dealer"}.get(key, key)) if L.has("columns", key)
               or key == "dealer_name" else key, values)
    monthly = getattr(table["period"].dtype, "freqstr", None) == "M" if "period" in table else True
    if "period" in table:
        if monthly:
            t.month(c("month"), table["period"])
        else:
            t.text(c("period"), table["period"].astype(str))
    return _nps_frame(table, t, level=lvl, language=language, rule=rule, settings=settings,
                      change="change" if monthly else "change_period").frame()


def dealer_table(
    ranked: pd.DataFrame,
    *,
    level: float | None = None,
    language: str | None = None,
    rule=None,
    regional: bool = False,
    alarms: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The dealer ranking: the median rank, interval, shrunk NPS, small-sample mark, the
    rank's interval and the chances of the top and bottom quarter, from
    :func:`analysis.nps.rank_dealers` (``ranked``: the sections ask the engine for it).

    Aggregates only (no customer data). ``*`` marks a change vs the previous month or a gap
    to the rest of the region that passes ``rule`` (:func:`analysis.report.rules.
    significant`). ``regional``: the answers are one region's, so its region and the rank in
    it (the rank itself) are left out. ``alarms``: the dealers' sustained-change alarms (rows
    of :attr:`analysis.alarms.Alarms.alarms`), shown in a column of their own. The levels
    of the intervals are the report's ``settings``' (``level`` overrides the NPS one).
    """
    lvl = level_or(level, settings)
    c = L.columns(language)
    star = L.text("marks", "significant", language=language)
    small = L.text("marks", "small_sample", language=language)
    ranked = ranked.reset_index(drop=True)
    t = Table(language=language).count(c("rank_median"), ranked["rank_network"])
    if not regional:  # one region's answers: its region and the rank in it are the rank
        t.count(c("rank_region"), ranked["rank_region"]).text(c("region"), ranked["region"])
    t.text(c("dealer"), ranked["dealer_name"] if "dealer_name" in ranked else ranked["dealer_id"])
    t.count(c("answers"), ranked["n"], mark=(ranked["small_sample"], small))
    t.signed(c("nps"), ranked["nps"], scale="nps")
    t.interval(c("interval", level=F.percent(lvl, language=L.resolve(language))), ranked["nps_low"], ranked["nps_high"],
               "signed")
    t.signed(c("nps_shrunk"), ranked["nps_shrunk"], scale="nps")
    months = int(ranked["vs_region_months"].max()) if "vs_region_months" in ranked else 1
    t.signed(c("vs_rest_of_region", months=months), ranked["vs_region"],
             mark=(rules.significant(ranked, "vs_region", rule=rule,
                                     settings=settings).tolist(), star))
    if "change_vs_previous" in ranked:
        t.signed(c("change"), ranked["change_vs_previous"], mark=(rules.significant(
            ranked, "change", rule=rule, settings=settings).tolist(), star))
    if "rank_low" in ranked:
        t.interval(c("rank_interval", level=_rank_level(settings, language)), ranked["rank_low"],
                   ranked["rank_high"], "count")
        # one page column for both chances keeps the HTML table on one line a dealer
        t.pair(c("p_quarters"), ranked["p_top_quarter"], ranked["p_bottom_quarter"],
               "percent", names=(c("p_top_quarter"), c("p_bottom_quarter")))
    if alarms is not None:
        cells = _alarm_cells(alarms, language)
        t.text(c("alarm"), [cells.get(d, "") for d in ranked["dealer_id"]])
    return t.frame()


def _alarm_cells(alarms: pd.DataFrame, language: str | None) -> dict:
    """dealer_id -> "down 12 since Aug 2026" for the dealers' alarms."""
    mine = alarms.loc[alarms["level"] == "dealer"]
    cells: dict = {}
    for row in mine.itertuples():
        text = L.text("marks", f"alarm_{row.direction}", language=language,
                      change=F.number(int(round(abs(row.change))),
                                      language=L.resolve(language)),
                      month=F.month_since(row.start, language=language))
        cells[row.dealer_id] = f"{cells[row.dealer_id]}; {text}" if row.dealer_id in cells else text
    return cells


def response_rate_table(summary: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """Answers and response rate by month (rows) and touchpoint (columns)."""
    c = L.columns(language)
    data = summary.assign(period=summary["period"].astype(str),
                          touchpoint=catalogue_names("touchpoints", summary["touchpoint"], language))
    wide = data.pivot_table(index="period", columns="touchpoint",
                            values=["n", "response_rate"], observed=True)
    wide.index = pd.PeriodIndex(wide.index, freq="M")
    t = Table(language=language).month(c("month"), wide.index)
    for touchpoint in wide["n"].columns:
        t.count(f"{c('answers')}: {touchpoint}", wide["n"][touchpoint])
    for touchpoint in wide["response_rate"].columns:
        t.percent(f"{c('response_rate')}: {touchpoint}", wide["response_rate"][touchpoint],
                  scale="rate")
    return t.frame().set_index(c("month"))


# --- loyalty drivers -------------------------------------------------------------------------


def importance_table(shares: pd.DataFrame, *, level: float,
                     language: str | None = None) -> pd.DataFrame:
    """The driver table of a report: share of explained NPS variance with its interval.

    ``shares`` is :meth:`analysis.drivers.ImportanceResult.shares` of an
    :class:`~analysis.drivers.ImportanceResult` (by driver: ``rank``, ``share``,
    ``share_low``, ``share_high`` at ``level``, ``importance``). Shares are shown in percent
    of R^2; the interval is missing without bootstrap draws.
    """
    labels = L.driver_labels(language)
    c = L.columns(language)
    table = shares.sort_values("rank", kind="stable")
    return (Table(language=language)
            .count(c("rank"), table["rank"].to_numpy())
            .text(c("driver"), [labels.get(d, d) for d in table.index])
            .number(c("share_pct"), 100 * table["share"].to_numpy())
            .interval(c("interval_pct", level=F.percent(level, language=L.resolve(language))),
                      100 * table["share_low"].to_numpy(), 100 * table["share_high"].to_numpy())
            .number(c("r2_part"), table["importance"].to_numpy(), 3)
            .frame())


def importance_change_table(change: pd.DataFrame, *, level: float | None = None,
                            language: str | None = None, rule=None,
                            settings: Settings | None = None) -> pd.DataFrame:
    """:func:`analysis.drivers.importance_change` as a report table, shares in percent points.

    "Really changed" is the report's star rule (``rule``) on the bootstrap p-value (without
    one, the Benjamini-Hochberg flag over the drivers, ``change_flag``, never a raw p); a
    driver it does not star reads "no" only when the interval rules out a change of the
    equivalence margin (the ``settings``' ``importance_pp``), else "not enough evidence yet"
    or, where the interval alone excludes 0, "not by the report's rule"
    (:func:`analysis.stars.evidence`)."""
    labels = L.driver_labels(language)
    c = L.columns(language)
    lvl = level_or(level, settings)
    return (Table(language=language)
            .text(c("driver"), change["driver"].map(lambda d: labels.get(d, d)))
            .month(c("before"), change["before"].astype(str))
            .month(c("after"), change["after"].astype(str))
            .number(c("share_before_pct"), 100 * change["value_before"])
            .number(c("share_after_pct"), 100 * change["value_after"])
            .number(c("change_pp"), 100 * change["diff"])
            .interval(c("interval_pp", level=F.percent(lvl, language=L.resolve(language))), 100 * change["low"],
                      100 * change["high"], "signed")
            .p_value(c("p_value"), change["p_value"])
            .text(c("really_changed"), _importance_verdicts(change, rule, language,
                                                            rules.settings_or(settings)))
            .frame())


def _importance_verdicts(change: pd.DataFrame, rule, language: str | None,
                         settings: Settings) -> list[str]:
    """Each driver's "really changed" in words (:func:`analysis.report.rules.evidence`)."""
    # the test under the other tables' names (analysis.stars.importance_tests)
    tests = change.rename(columns={"p_value": "change_p_value", "p_adj": "change_p_adj"}).assign(
        change_low=100 * change["low"], change_high=100 * change["high"])
    if rule is None and "change_flag" not in tests:
        tests = tests.assign(change_flag=change["changed"].astype(bool))
    verdicts = rules.evidence(tests, "change", rule=rule, quantity="importance_pp",
                              settings=settings)
    margin = F.number(settings.margin("importance_pp"), 0, language=L.resolve(language))
    alpha = F.number(settings.alpha, 2, language=L.resolve(language))
    words = {v: L.text("evidence", v, language=language, margin=margin, alpha=alpha)
             for v in verdicts.unique()}
    return [words[v] for v in verdicts]


def importance_performance_table(table: pd.DataFrame, *, language: str | None = None,
                                 scales=None) -> pd.DataFrame:
    """:func:`analysis.drivers.importance_performance` with driver and quadrant names; the
    performance stays in each driver's scale (named with the driver when ``scales`` differ)."""
    labels = driver_labels(table["driver"], scales=scales, language=language)
    return _rename(table.drop(columns=["position"], errors="ignore").assign(
                                driver=table["driver"].map(lambda d: labels.get(d, d)),
                                quadrant=catalogue_names("quadrants", table["quadrant"].astype(str),
                                                language)),
                   language, driver="driver", importance="importance",
                   performance="performance", n="answers", quadrant="quadrant")


def driver_means_table(means: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.drivers.mean_ratings` (drivers down, scopes across) with driver names."""
    labels = L.driver_labels(language)
    return means.rename(index=lambda d: labels.get(d, d)).rename_axis(
        L.column("driver", language=language))


# --- growth zones ----------------------------------------------------------------------------


def _dealer_names(ids: pd.Series, dealers: pd.DataFrame | None, known: pd.Series | None,
                  by: str) -> pd.Series:
    if dealers is not None and "dealer_name" in dealers and by in dealers:
        return ids.map(dealers.drop_duplicates(by).set_index(by)["dealer_name"]).fillna(ids)
    if known is not None:
        return known
    return ids


def _only(frame: pd.DataFrame, by: str, only: Iterable | None) -> pd.DataFrame:
    return frame if only is None else frame.loc[frame[by].isin(set(only))]


def top_growth_table(
    result,
    *,
    dealers: pd.DataFrame | None = None,
    n: int | None = None,
    max_zones: int | None = None,
    only: Iterable[str] | None = None,
    language: str | None = None,
    decimals: int | None = None,
) -> pd.DataFrame:
    """The deck's "TOP dealers with growth zones", one row per dealer.

    Columns: ``#``, ``Dealer``, ``Region``, ``Answers``, ``NPS``, the NPS interval
    (``[+12.6, +19.5]``), the NPS points associated with closing all its growth zones at once
    (``assoc_total_uplift``: a cross-sectional association, not a promise) and ``Growth zone
    1..max_zones`` (``Driver label: +4.2 [+2.0, +6.5]``, NPS points). Only pairs that pass
    the one-sided gap test and whose uplift interval reaches ``min_uplift`` (``growth_zone``)
    are zones; empty when no dealer (of ``only``) has one.
    ``dealers`` supplies names when the responses had none; ``only`` keeps these dealers
    (ids) of the network's TOP, with their network ranks.
    """
    decimals = F.DECIMALS if decimals is None else decimals
    max_zones = result.max_zones if max_zones is None else max_zones
    labels = L.driver_labels(language)
    c = L.columns(language)
    top = _only(result.top(n, max_zones=max_zones), result.by, only)
    zones = (top.assign(label=lambda d: d["driver"].map(labels))
             .pivot(index=result.by, columns="zone",
                    values=["label", "uplift", "uplift_low", "uplift_high"]))
    info = result.dealers.set_index(result.by)
    leaders = top.drop_duplicates(result.by)[["rank", result.by, "total_uplift"]]
    if "assoc_total_uplift" in result.dealers:
        leaders = leaders.assign(total_uplift=leaders[result.by].map(
            result.dealers.set_index(result.by)["assoc_total_uplift"]))
    ids = leaders[result.by]
    known = info.loc[ids, "dealer_name"].reset_index(drop=True) if "dealer_name" in info else None
    row = info.loc[ids]
    t = (Table(language=language)
         .count(c("number"), leaders["rank"])
         .text(c("dealer"), _dealer_names(ids.reset_index(drop=True), dealers, known,
                                          result.by))
         .text(c("region"), row["region"])
         .count(c("answers"), row["n"])
         .signed(c("nps"), row["nps"], decimals, scale="nps")
         .interval(c("interval", level=F.percent(result.level, language=L.resolve(language))), row["nps_low"],
                   row["nps_high"], "signed", decimals)
         .number(c("assoc_uplift"), leaders["total_uplift"].round(decimals), decimals))
    for z in range(1, max_zones + 1):
        # each zone a page cell "Driver: +4.2 [+2.0, +6.5]" (NPS points), four columns here
        zone = c("growth_zone_n", n=z)
        part = (zones.xs(z, axis=1, level="zone") if z in zones.columns.get_level_values("zone")
                else pd.DataFrame(index=zones.index,
                                  columns=["label", "uplift", "uplift_low", "uplift_high"]))
        part = part.reindex(ids)
        t.label(zone, part["label"].astype(object))
        t.signed(f"{zone}: {c('uplift')}", part["uplift"], decimals, into=zone)
        t.interval(zone, part["uplift_low"], part["uplift_high"], "signed", decimals,
                   into=zone)
    return t.frame()


def driver_ranking_table(
    ranking: pd.DataFrame,
    *,
    dealers: pd.DataFrame | None = None,
    drivers: Sequence[str] | None = None,
    by: str = "dealer_id",
    language: str | None = None,
    decimals: int | None = None,
    scales=None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The per-driver dealer ranking of :func:`analysis.growth.rank_dealers_by_driver`
    (means in each driver's scale, named with the driver when ``scales`` differ).

    One row per driver x dealer, drivers in ``drivers`` order (default: the ranking's), best
    first: ``Driver``, ``Median rank``, ``Rank in region``, ``Dealer``, ``Region``, ``Answers``,
    ``Mean [interval]``, ``Shrunk mean``, ``Region mean``, the rank's interval and the
    chances of the top and bottom quarter (when the ranking has them) and a ``Note`` on
    small samples.
    """
    decimals = F.DECIMALS if decimals is None else decimals
    order = list(dict.fromkeys(ranking["driver"])) if drivers is None else list(drivers)
    labels = driver_labels(order, scales=scales, language=language)
    c = L.columns(language)
    keys = ["period"] if "period" in ranking else []
    ranked = (ranking.loc[lambda d: d["driver"].isin(order)]
              .assign(_order=lambda d: d["driver"].map({v: i for i, v in enumerate(order)}))
              .sort_values([*keys, "_order", "rank_network", by])
              .reset_index(drop=True))
    t = Table(language=language)
    if keys:
        t.text(c("period"), ranked["period"].astype(str))
    (t.text(c("driver"), ranked["driver"].map(lambda d: labels.get(d, d)))
     .count(c("rank_median"), ranked["rank_network"])
     .count(c("rank_region"), ranked["rank_region"])
     .text(c("dealer"), _dealer_names(ranked[by], dealers, None, by))
     .text(c("region"), ranked["region"])
     .count(c("answers"), ranked["n"])
     .number(c("mean_interval"), ranked["mean"], decimals,
             interval=(ranked["low"], ranked["high"]))
     .number(c("shrunk_mean"), ranked["shrunk"], decimals + 1)
     .number(c("region_mean"), ranked["region_mean"], decimals + 1))
    if "rank_low" in ranked:
        (t.interval(c("rank_interval", level=_rank_level(settings, language)), ranked["rank_low"],
                    ranked["rank_high"], "count")
         .percent(c("p_top_quarter"), ranked["p_top_quarter"])
         .percent(c("p_bottom_quarter"), ranked["p_bottom_quarter"]))
    return t.text(c("note"), np.where(
        ranked["small_sample"], L.text("marks", "shrunk_toward_region", language=language),
        "")).frame()


def growth_table(
    result,
    *,
    dealers: pd.DataFrame | None = None,
    only: Iterable[str] | None = None,
    language: str | None = None,
    decimals: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The full dealer x driver table, numbers kept numeric (Excel); ``only`` keeps these
    dealers (ids). Sorted by dealer, then growth zones first by uplift."""
    decimals = F.DECIMALS if decimals is None else decimals
    # current and benchmark are in each driver's own scale: named with it when they differ
    labels = driver_labels(result.drivers, scales=getattr(result, "scales", None),
                           language=language)
    c = L.columns(language)
    info = result.dealers.set_index(result.by)
    t = (_only(result.table, result.by, only)
         .assign(_zone=lambda d: d["zone_rank"].fillna(len(result.drivers) + 1))
         .sort_values([result.by, "_zone", "uplift"], ascending=[True, True, False])
         .reset_index(drop=True))
    known = (t[result.by].map(info["dealer_name"]) if "dealer_name" in info else None)
    rating_digits, nps_digits = decimals + 1, decimals
    out = (Table(language=language)
           .text(c("dealer_id"), t[result.by])
           .text(c("dealer"), _dealer_names(t[result.by], dealers, known, result.by))
           .text(c("region"), t["region"])
           .text(c("driver"), t["driver"].map(lambda d: labels.get(d, d)))
           .count(c("answers_rating_driver"), t["n"])
           .number(c("current_shrunk_mean"), t["current"], rating_digits)
           .number(c("benchmark"), t["benchmark"], rating_digits)
           .number(c("gap"), t["gap"], rating_digits)
           .number(c("uplift"), t.get("assoc_uplift", t["uplift"]), nps_digits)
           .interval(c("interval", level=F.percent(result.level, language=L.resolve(language))), t["uplift_low"],
                     t["uplift_high"], "signed", nps_digits))
    if "zone_p_value" in t:
        # a zone is a gap test passed after Benjamini-Hochberg at q: never rounded across it
        q = rules.settings_or(settings).q
        out.p_value(c("gap_p_value"), t["zone_p_value"], alpha=q)
        out.p_value(c("gap_p_adj"), t["zone_p_adj"], alpha=q)
    return (out.text(c("growth_zone"), np.where(t["growth_zone"],
                                                L.text("marks", "yes", language=language), ""))
            .count(c("zone_rank"), t["zone_rank"])
            .signed(c("dealer_nps"), t[result.by].map(info["nps"]), nps_digits, scale="nps")
            .frame())


def dealer_zones_table(result, *, dealer_id: str, language: str | None = None,
                       decimals: int | None = None) -> pd.DataFrame:
    """One dealer's drivers as its page shows them: current rating, benchmark, gap and the
    NPS points associated with closing it (with interval), growth zones first by rank, then
    the other drivers by uplift (:func:`growth_table` holds every number)."""
    decimals = F.DECIMALS if decimals is None else decimals
    labels = driver_labels(result.drivers, scales=getattr(result, "scales", None),
                           language=language)
    c = L.columns(language)
    t = (result.table.loc[result.table[result.by] == dealer_id]
         .assign(_zone=lambda d: d["zone_rank"].fillna(len(result.drivers) + 1))
         .sort_values(["_zone", "uplift"], ascending=[True, False])
         .reset_index(drop=True))
    return (Table(language=language)
            .text(c("driver"), t["driver"].map(lambda d: labels.get(d, d)))
            .number(c("current_shrunk_mean"), t["current"], decimals + 1)
            .number(c("benchmark"), t["benchmark"], decimals + 1)
            .number(c("gap"), t["gap"], decimals + 1)
            .signed(c("uplift"), t.get("assoc_uplift", t["uplift"]), decimals)
            .interval(c("interval", level=F.percent(result.level, language=L.resolve(language))), t["uplift_low"],
                      t["uplift_high"], "signed", decimals)
            .text(c("growth_zone"), np.where(t["growth_zone"],
                                             L.text("marks", "yes", language=language), ""))
            .frame())


# --- CSS -------------------------------------------------------------------------------------


def css_table(
    summary: pd.DataFrame,
    *,
    month: str,
    by: Sequence[str] = ("region", "dealer_id"),
    dealers: pd.DataFrame | None = None,
    level: float,
    language: str | None = None,
    rule=None,
) -> pd.DataFrame:
    """CSS per dealer in the report month vs previous month, region and nation.

    ``summary`` is :func:`analysis.css.summarize_css` by ``by`` and month, at ``level``
    (params/css.yaml; the sections ask for it). Aggregates only, no customer data. ``*``
    marks a change that passes ``rule`` (the report's star rule; without one: the Welch
    test's Benjamini-Hochberg flag, never below the small-sample threshold).
    """
    table = summary.loc[summary["period"] == pd.Period(month, freq="M")]
    if table.empty:
        raise ValueError(f"no CSS answers in {month}")
    if dealers is not None and "dealer_id" in table:
        names = dealers.set_index("dealer_id")["dealer_name"]
        label = table["dealer_id"].map(names).fillna(table["dealer_id"])
    else:
        label = table[list(by)].astype(str).agg(" / ".join, axis=1)
    c = L.columns(language)
    star = L.text("marks", "significant", language=language)
    small = L.text("marks", "small_sample", language=language)
    shown = (Table(language=language)
             .text(c("region"), table.get("region", ""))
             .text(c("dealer"), label)
             .count(c("answers"), table["n"], mark=(table["small_sample"], small))
             .number(c("css"), table["css"].round(1))
             .interval(c("interval", level=F.percent(level, language=L.resolve(language))), table["css_low"],
                       table["css_high"])
             .signed(c("change"), table["change_vs_previous"], mark=(rules.significant(
                 table, "change", level_=level, rule=rule), star))
             .signed(c("vs_region"), table["vs_region"])
             .signed(c("vs_national"), table["vs_national"])
             .frame())
    return shown.sort_values(c("css"), ascending=False).reset_index(drop=True)


# --- red flags and golden stars --------------------------------------------------------------


def _level_text(level: float | None, language: str | None) -> str:
    """The interval's level in words: ``level``, else the run's (the params' settings: every
    interval of a report is at one level, :class:`analysis.settings.Settings`)."""
    return F.percent(level_or(level), language=L.resolve(language))


def sla_table(summary: pd.DataFrame, *, level: float | None = None,
              language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.cases.sla_summary` frame: readable headers, percentages, worst first.

    Compliance is ``met_in_closed / decided``: over the flags whose SLA window has closed
    (both shown). ``level`` names the interval's level in its header (params/operations.yaml
    by default).
    """
    texts = {"region": "region", "dealer_name": "dealer", "dealer_id": "dealer_id",
             "owner": "owner"}
    counts = {"flags": "red_flags", "met": "met", "breached": "breached",
              "open_overdue": "open_overdue", "open_within_sla": "open_within_sla",
              "no_case": "no_case"}
    c = L.columns(language)
    s = summary.sort_values(["compliance", "decided"], ascending=[True, False],
                            na_position="last").reset_index(drop=True)
    if "owner" in s:
        s = s.assign(owner=catalogue_names("owners", s["owner"], language))
    t = Table(language=language)
    for key, label in texts.items():
        if key in s:
            t.text(c(label), s[key])
    for key, label in counts.items():
        if key in s:
            t.count(c(label), s[key])
    if {"met_in_closed", "decided"} <= set(s):
        t.pair(c("met_in_closed"), s["met_in_closed"], s["decided"], "count",
               names=(c("met_closed"), c("decided")))
    pct = 100 * s[["compliance", "compliance_low", "compliance_high"]]
    return (t.number(c("compliance_pct"), pct["compliance"].round(1), scale="rate")
            .interval(c("interval_pct", level=_level_text(level, language)),
                      pct["compliance_low"], pct["compliance_high"])
            .number(c("median_hours_to_contact"), s["median_contact_hours"].round(1))
            .frame())


def overdue_table(flags: pd.DataFrame, responses: pd.DataFrame | None = None, *,
                  language: str | None = None) -> pd.DataFrame:
    """Red flags still without contact after the SLA, oldest first, with masked comments.

    ``responses`` supplies the comment (masked with :func:`analysis.privacy.mask_pii_series`).
    """
    out = flags.loc[flags["status"] == "open_overdue"]
    if responses is not None and "comment" in responses:
        out = out.merge(responses[["response_id", "comment"]], on="response_id", how="left")
        out = out.assign(comment=lambda d: mask_pii_series(d["comment"]))
    cols = {"response_id": "response_id", "region": "region", "dealer_name": "dealer",
            "dealer_id": "dealer_id", "owner": "owner", "responded_at": "answered",
            "nps": "score", "hours_open": "hours_open", "no_case": "no_case",
            "comment": "comment"}
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    out = (out.sort_values("responded_at")[[c for c in cols if c in out]]
           .assign(hours_open=lambda d: d["hours_open"].round(1))
           .reset_index(drop=True))
    if "owner" in out:
        out = out.assign(owner=catalogue_names("owners", out["owner"], language))
    if "no_case" in out:
        out = out.assign(no_case=np.where(out["no_case"].astype(bool), yes, no))
    return _rename(out, language, **{k: v for k, v in cols.items() if k in out})


def golden_star_table(stars: pd.DataFrame, *, per_dealer: int | None = None,
                      language: str | None = None) -> pd.DataFrame:
    """Golden stars: dealer, date, score and the masked quote."""
    out = stars.assign(date=lambda d: as_dates(d["responded_at"]))
    if per_dealer is not None:
        out = out.groupby("dealer_id", sort=False).head(per_dealer)
    cols = [c for c in ("region", "dealer_name", "dealer_id", "date", "nps", "quote") if c in out]
    if {"dealer_name", "dealer_id"} <= set(cols) and (
            out["dealer_id"].astype(str) == out["dealer_name"].astype(str)).all():
        cols.remove("dealer_id")  # dealers named, not coded, in the export: the name is the code
    return _rename(out[cols], language, region="region", dealer_name="dealer",
                   dealer_id="dealer_id", date="date", nps="score",
                   quote="quote").reset_index(drop=True)


# --- incidents -------------------------------------------------------------------------------


def incident_table(counts: pd.DataFrame, *, rows: str = "channel", kind: str = "complaint",
                   columns: str = "period", language: str | None = None) -> pd.DataFrame:
    """Counts of one kind: ``rows`` down, months across, totals at the end."""
    group = {"channel": "channels", "category": "categories"}.get(rows)
    data = counts.loc[counts["kind"] == kind]
    if group is not None:
        data = data.assign(**{rows: catalogue_names(group, data[rows], language)})
    table = (data.pivot_table(index=rows, columns=columns, values="n", aggfunc="sum",
                              fill_value=0)
             .rename_axis(index=L.column(rows, language=language), columns=None))
    total = L.column("total", language=language)
    table[total] = table.sum(axis=1)
    return table.sort_values(total, ascending=False)


def closure_table(summary: pd.DataFrame, *, level: float | None = None,
                  language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.incidents.closure_summary` frame made readable."""
    c = L.columns(language)
    keys = [k for k in summary.columns if k not in {
        "incidents", *CLOSURE_STATUSES, "median_hours", "median_working_hours", "decided",
        "share_within_sla", "share_low", "share_high"}]
    groups = {"channel": "channels", "kind": "kinds", "category": "categories"}
    t = Table(language=language)
    for k in keys:
        t.text(c(k), catalogue_names(groups[k], summary[k], language) if k in groups else summary[k])
    for key, label in (("incidents", "incidents"), ("closed_within_sla", "closed_in_time"),
                       ("closed_late", "closed_late"), ("open_overdue", "open_overdue"),
                       ("open_within_sla", "open_in_time")):
        t.count(c(label), summary[key])
    pct = 100 * summary[["share_within_sla", "share_low", "share_high"]]
    return (t.number(c("within_sla_pct"), pct["share_within_sla"].round(1), scale="rate")
            .interval(c("interval_pct", level=_level_text(level, language)),
                      pct["share_low"], pct["share_high"])
            .number(c("median_hours"), summary["median_hours"].round(1))
            .number(c("median_working_hours"), summary["median_working_hours"].round(1))
            .frame())


def reasons_table(reasons: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """Long-service reasons: reason, count, share in %."""
    c = L.columns(language)
    return (reasons.assign(**{c("share_pct"): (100 * reasons["share"]).round(1),
                              "reason": catalogue_names("reasons", reasons["reason"], language)})
            .drop(columns="share")
            .rename(columns={"reason": c("reason"), "n": c("complaints")}))


# --- repeat repairs --------------------------------------------------------------------------


def as_dates(values: pd.Series) -> pd.Series:
    """Dates as dates (the day; the page writes them 2026-10-30, the workbook as date cells)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values.dt.normalize()


def pairs_table(pairs: pd.DataFrame, *, dealers: pd.DataFrame | None = None,
                language: str | None = None) -> pd.DataFrame:
    """Repeat pairs. The VIN is left out (the order numbers identify the car)."""
    out = pairs
    if dealers is not None:
        out = out.merge(dealers[["dealer_id", "dealer_name"]], on="dealer_id", how="left")
    cols = {"dealer_name": "dealer", "dealer_id": "dealer_id", "first_ro_id": "first_order",
            "first_closed_at": "closed", "repeat_ro_id": "repeat_order",
            "repeat_opened_at": "reopened", "days": "days", "fault": "fault",
            "mechanic": "mechanic", "foreman": "foreman"}
    out = out.assign(first_closed_at=as_dates(out["first_closed_at"]),
                     repeat_opened_at=as_dates(out["repeat_opened_at"]))
    return _rename(out[[c for c in cols if c in out]], language,
                   **{k: v for k, v in cols.items() if k in out}).reset_index(drop=True)


def _people(frame: pd.DataFrame, role: str, language: str | None) -> tuple[Table, pd.DataFrame]:
    """Mechanics or foremen, most repeat repairs first: dealer, person, period, orders and
    repeats; the table and the rows in its order."""
    if role not in repairs.ROLES:
        raise ValueError(f"role must be one of {repairs.ROLES}, got {role!r}")
    c = L.columns(language)
    out = frame.sort_values(["repeats", "dealer_id", role],
                            ascending=[False, True, True]).reset_index(drop=True)
    t = Table(language=language).text(c("dealer_id"), out["dealer_id"]).text(c(role), out[role])
    _period(t, c("period"), out["period"])
    t.count(c("orders"), out["orders"]).count(c("repeats"), out["repeats"])
    return t, out


def repeat_people_table(stats: pd.DataFrame, *, role: str = "mechanic",
                        language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.repairs.repeat_stats` frame of one week: the people with a repeat
    repair, most first, with the orders they closed. (No cohort rate: a week's orders are
    still inside their window; the month's KPI table has it.)"""
    table, _ = _people(stats.loc[stats["repeats"] > 0], role, language)
    return table.frame()


def repeat_kpi_table(kpi: pd.DataFrame, *, role: str = "mechanic",
                     language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.repairs.kpi_table` frame: worst first, shares in %."""
    table, out = _people(kpi, role, language)
    return (_cohort_columns(table, out, language)
            .number(L.columns(language)("bonus_share_pct"),
                         (100 * out["bonus_share"]).round(1))
            .frame())


def _period(t: Table, header: str, values: pd.Series) -> Table:
    """A period column: months as months (date cells), other periods (ISO weeks) as text."""
    text = values.astype(str)
    if text.str.fullmatch(r"\d{4}-\d{2}").all():
        return t.month(header, text)
    return t.text(header, text)


def _cohort_columns(t: Table, frame: pd.DataFrame, language: str | None) -> Table:
    """The cohort repeat rate (:mod:`analysis.repairs`, Rates) with its Wilson interval; the
    old ratio of repeats by return date to orders by close date where there is no cohort."""
    c = L.columns(language)
    if "cohort_rate" not in frame:
        return t.number(c("repeat_rate_pct"), (100 * frame["repeat_rate"]).round(1),
                        scale="rate", better="low")
    level = _level_text(None, language)
    return (t.count(c("cohort_orders"), frame["cohort_orders"])
            .count(c("cohort_repeats"), frame["cohort_repeats"])
            .number(c("cohort_rate_pct"), (100 * frame["cohort_rate"]).round(1), scale="rate",
                    better="low")
            .interval(c("interval_pct", level=level), 100 * frame["cohort_rate_low"],
                      100 * frame["cohort_rate_high"]))


def repeats_by_dealer_table(by_dealer: pd.DataFrame, *, language: str | None = None
                            ) -> pd.DataFrame:
    """:attr:`analysis.repairs.MonthlyRepeatReport.by_dealer`: orders closed, repeats (by
    return date), and the cohort repeat rate with its Wilson interval, highest first."""
    c = L.columns(language)
    if "cohort_rate" in by_dealer:
        by_dealer = by_dealer.sort_values(["cohort_rate", "cohort_repeats"],
                                          ascending=[False, False], na_position="last")
    by_dealer = by_dealer.reset_index(drop=True)
    t = Table(language=language)
    for key, label in (("dealer_id", "dealer_id"), ("dealer_name", "dealer"),
                       ("region", "region")):
        if key in by_dealer:
            t.text(c(label), by_dealer[key])
    for key in ("orders", "repeats"):
        if key in by_dealer:
            t.count(c(key), by_dealer[key])
    return _cohort_columns(t, by_dealer, language).frame()


def reviews_table(reviews: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """Survey answers that ask for a review (masked quote, linked order)."""
    cols = {"responded_at": "answered", "dealer_id": "dealer_id", "nps": "score",
            "quote": "comment", "ro_id": "repair_order", "fault": "fault",
            "mechanic": "mechanic", "days_since_repair": "days_since_repair",
            "already_repeat": "already_repeat"}
    c = L.columns(language)
    if reviews.empty:
        return pd.DataFrame(columns=[c(v) for v in cols.values()])
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    out = reviews.assign(responded_at=as_dates(reviews["responded_at"]))
    if "days_since_repair" in out:  # whole days; answers without a linked order have none
        out = out.assign(days_since_repair=out["days_since_repair"].astype("Int64"))
    if "already_repeat" in out:
        out = out.assign(already_repeat=np.where(out["already_repeat"].astype(bool), yes, no))
    return _rename(out[[k for k in cols if k in reviews]], language,
                   **{k: v for k, v in cols.items() if k in reviews})


# --- root causes -----------------------------------------------------------------------------


def cause_name(cause, label, language: str | None) -> str:
    """A taxonomy cause by its catalogue name; a discovered cluster by its top words."""
    if L.has("causes", cause):
        return L.name("causes", cause, language=language)
    return label or str(cause)


def impact_table(causes: pd.DataFrame, *, sources: pd.DataFrame | None = None,
                 language: str | None = None, level: float | None = None,
                 settings: Settings | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.top_causes` made readable: causes by NPS impact, with their
    name and masked quotes.

    With a ``contribution`` column (:func:`analysis.rootcause.cause_impact` joined with the
    labels and quotes of ``top_causes``) the causes are ranked by their contribution to the
    gap, shown in points with its bootstrap interval: the contributions of all causes add
    up to the scope's gap (``scope_nps - ref_nps``), so a reader may sum the column. With
    the change from last month (:attr:`analysis.report.rules.CauseVerdict.causes`) it shows
    last month's contribution and the change with its interval, starred where the verdict's
    ``trend`` calls it more or less (never recomputed here).

    ``sources`` (:func:`analysis.rootcause.cause_shares`) adds where each cause's answers got
    it: how many the team labelled and ``source`` (team, model or both). Top words are left
    out when no cause has any (causes learnt from labels are named by the taxonomy).
    """
    c = L.columns(language)
    contribution = "contribution" in causes
    if contribution:
        ranked = causes.sort_values(["contribution", "count"], ascending=[True, False])
        ranks = np.arange(1, len(ranked) + 1)
        labels = ranked.get("label", ranked["cause"]).fillna("")
    else:
        ranked, ranks, labels = causes, causes["rank"], causes["label"]
    ranked = ranked.reset_index(drop=True)
    labels = pd.Series(np.asarray(labels), index=ranked.index)
    t = (Table(language=language).count(c("rank"), ranks)
         .text(c("cause"), [cause_name(k, lab, language)
                            for k, lab in zip(ranked["cause"], labels, strict=True)]))
    if not contribution and labels.astype(str).str.strip().astype(bool).any():
        t.text(c("top_words"), labels)  # causes learnt from labels are named by the taxonomy
    t.count(c("answers"), ranked["count"])
    if sources is not None:
        known = sources.set_index("cause")
        t.count(c("labelled_by_team"),
                ranked["cause"].map(known["team"]).fillna(0).astype(np.int64))
        t.text(c("cause_source"), catalogue_names("cause_sources", ranked["cause"].map(known["source"]),
                                         language))
    t.number(c("share_pct"), (100 * ranked["share"]).round(1))
    t.signed(c("nps"), ranked["nps"], scale="nps")
    if contribution:
        lvl = level_or(level, settings)
        t.number(c("contribution_points"), ranked["contribution"].round(2))
        t.interval(c("interval", level=F.percent(lvl, language=L.resolve(language))), ranked["contribution_low"],
                   ranked["contribution_high"], "signed")
        if "change" in ranked and ranked["previous_contribution"].notna().any():
            # the change as the report's verdict words it (analysis.report.rules.
            # cause_verdict): a star only on a change called "more" or "less"
            star = L.text("marks", "significant", language=language)
            moved = (ranked["trend"].isin(["more", "less"]) if "trend" in ranked
                     else pd.Series(False, index=ranked.index))
            t.number(c("previous_points"), ranked["previous_contribution"].round(2))
            t.signed(c("change"), ranked["change"],
                     interval=(ranked["change_low"], ranked["change_high"]),
                     mark=(moved.tolist(), star))
        quotes = ranked["quotes"] if "quotes" in ranked else pd.Series([()] * len(ranked))
        quotes = [("\n".join(f"«{s}»" for s in q) if isinstance(q, tuple) else "")
                  for q in quotes]
    else:
        t.number(c("impact_points"), ranked["impact"].round(2))
        quotes = ranked["quotes"].apply(lambda q: "\n".join(f"«{s}»" for s in q))
    return t.text(c("quotes"), quotes).frame()


def agreement_table(per_cause: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:attr:`analysis.rootcause.Agreement.per_cause`: per cause the team labelled, how often
    the cross-validated model finds it (recall with its interval), its precision and F1."""
    c = L.columns(language)
    return (Table(language=language)
            .text(c("cause"), [cause_name(k, "", language) for k in per_cause["cause"]])
            .count(c("labelled_by_team"), per_cause["n"])
            .percent(c("model_finds_it"), per_cause["recall"],
                     interval=(per_cause["recall_low"], per_cause["recall_high"]))
            .number(c("precision"), per_cause["precision"], 2)
            .number(c("f1"), per_cause["f1"], 2)
            .frame())


def cause_matrix_table(matrix: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.dealer_cause_matrix` with cause names as headers (cells
    built on fewer answers than ``matrix_min_count`` stay empty)."""
    return (matrix.rename(columns=lambda k: L.name("causes", k, language=language))
            .rename_axis(index=L.column("dealer", language=language), columns=None))


# --- appendix --------------------------------------------------------------------------------


def quality_table(quality: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.ingest.quarantine_summary` without the quarantine file's path; tables
    and reasons in the catalogue's words."""
    quality = quality.drop(columns=["quarantine_file"], errors="ignore").assign(
        table=catalogue_names("store_tables", quality["table"], language),
        top_reasons=[_reasons_text(r, language) for r in quality["top_reasons"]])
    if "ingested_at" in quality:
        # the ingest log's ISO time stamps (UTC) as date-time cells
        stamps = pd.to_datetime(quality["ingested_at"], utc=True, errors="coerce",
                                format="ISO8601")
        if stamps.notna().sum() == quality["ingested_at"].notna().sum():
            quality = quality.assign(ingested_at=stamps.dt.tz_localize(None))
    return _rename(quality, language, file="file", table="table", ingested_at="ingested_at",
                   read="read", accepted="accepted", quarantined="quarantined",
                   top_reasons="top_reasons")


# ingest's top reasons: "column: reason (rows); ..." (analysis.ingest.quarantine_summary)
_REASON = re.compile(r"(?P<column>[^;:]+): (?P<reason>.+?) \((?P<rows>\d+)\)(?:; |$)")


def _reasons_text(reasons, language: str | None) -> str:
    """ingest's top reasons with each column and reason as the catalogue words them; a text
    of another shape is shown as it is."""
    if F.is_missing(reasons) or not _REASON.match(str(reasons)):
        return reasons

    def column(name: str) -> str:
        return "+".join(L.name("columns", part, language=language) if L.has("columns", part)
                        else L.matched("quarantine_reasons", part, language=language)
                        for part in name.split("+"))

    return "; ".join(
        f"{column(m['column'])}: "
        f"{L.matched('quarantine_reasons', m['reason'], language=language)} "
        f"({F.count(int(m['rows']), language=L.resolve(language))})"
        for m in _REASON.finditer(str(reasons)))


# --- closing the loop: actions, customers, the survey funnel ----------------------------------


def target_name(target, language: str | None) -> str:
    """An action's target: a driver's or a cause's name from the catalogue."""
    group = "drivers" if L.has("drivers", target) else "causes"
    return L.name(group, target, language=language)


def action_review_table(review: pd.DataFrame, *, language: str | None = None,
                        decimals: int = 2) -> pd.DataFrame:
    """:func:`analysis.actions.monthly_review`: each action with its state and its effect.

    The effect is in the target's units (a driver's mean rating, a cause's share) with its
    interval, beside the number of comparable dealers it is measured against and the verdict
    (effective, worse, not enough evidence yet, or why it is not measurable: an empty effect).
    """
    c = L.columns(language)
    names = review.get("dealer_name", review["dealer_id"]).fillna(review["dealer_id"])
    return (Table(language=language)
            .text(c("action"), review["action_id"])
            .text(c("dealer"), names)
            .text(c("target"), [target_name(t, language) for t in review["target"]])
            .text(c("description"), mask_pii_series(review["description"].astype("string"))
                  .astype(object))
            .text(c("state"), catalogue_names("action_states", review["state"], language))
            .date(c("due"), as_dates(review["due_at"]))
            .date(c("closed"), as_dates(review["closed_at"]))
            .number(c("before"), review["before"], decimals)
            .number(c("after"), review["after"], decimals)
            .signed(c("effect"), review["effect"], decimals,
                    interval=(review["effect_low"], review["effect_high"]))
            .count(c("n_comparison"), review["n_comparison"])
            .text(c("verdict"), catalogue_names("action_verdicts", review["verdict"], language))
            .frame())


def completion_table(completion: pd.DataFrame, *, language: str | None = None
                     ) -> pd.DataFrame:
    """:func:`analysis.actions.completion`: actions by state, done share and on-time rate."""
    c = L.columns(language)
    t = Table(language=language)
    for key, label in (("group", "group"), ("region", "region"), ("dealer_id", "dealer_id"),
                       ("dealer_name", "dealer")):
        if key in completion:  # group: a scope's name (a dealer beside its region)
            t.text(c(label), completion[key])
    for state in ("n", "done", "overdue", "open", "cancelled"):
        t.count(c("actions_n" if state == "n" else f"actions_{state}"), completion[state])
    return (t.percent(c("done_share"), completion["done_share"], scale="rate")
            .percent(c("on_time"), completion["on_time_rate"], scale="rate")
            .interval(c("interval_pct", level=_level_text(None, language)),
                      completion["on_time_low"], completion["on_time_high"], "percent")
            .frame())



def customer_flow_table(flow: pd.DataFrame, *, month: str, dealers: pd.DataFrame | None = None,
                        language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.customer_flow` in ``month``: dealers with most lost first."""
    c = L.columns(language)
    now = flow.loc[flow["month"] == month].sort_values(["lost", "dealer_id"],
                                                       ascending=[False, True])
    names = _dealer_names(now["dealer_id"], dealers, None, "dealer_id")
    return pd.DataFrame({
        c("dealer"): names.to_numpy(),
        c("customers"): now["customers"].astype("int64").to_numpy(),
        c("new_customers"): now["new"].astype("int64").to_numpy(),
        c("returning_customers"): now["returning"].astype("int64").to_numpy(),
        c("lost_customers"): now["lost"].astype("int64").to_numpy(),
    })


def return_rate_table(rates: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.return_rates`: who came back, by NPS category."""
    c = L.columns(language)
    level = _level_text(None, language)
    return (Table(language=language)
            .text(c("nps_category"), catalogue_names("nps_categories", rates["category"], language))
            .count(c("customers"), rates["n"])
            .count(c("returned"), rates["returned"])
            .percent(c("return_rate"), rates["rate"], scale="rate")
            .interval(c("interval_pct", level=level), rates["rate_low"], rates["rate_high"],
                      "percent")
            .frame())


def value_at_stake_table(value: pd.DataFrame, *, dealers: pd.DataFrame | None = None,
                         language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.value_at_stake`: the dealers whose detractors cost most."""
    c = L.columns(language)
    v = value.sort_values(["value", "dealer_id"], ascending=[False, True], na_position="last")
    level = _level_text(None, language)
    return (Table(language=language)
            .text(c("dealer"), _dealer_names(v["dealer_id"], dealers, None, "dealer_id"))
            .count(c("detractors"), v["detractors"])
            .number(c("return_gap"), 100 * v["gap"], 0,
                    interval=(100 * v["gap_low"], 100 * v["gap_high"]))
            .count(c("customers_at_stake"), v["customers_at_stake"].round(0))
            .money(c("value_per_year"), v["value"])
            .interval(c("interval", level=level), v["value_low"], v["value_high"], "money")
            .frame())


def growth_value_table(value: pd.DataFrame, *, dealers: pd.DataFrame | None = None,
                       compact: bool = False, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.uplift_value` of growth zones: the value associated with
    closing each zone's gap, largest first: dealer, driver, NPS uplift, service customers,
    customers moved, value a year and its interval. ``compact``: dealer, driver, NPS uplift
    and the value with its interval in one column (one line a row, for the HTML)."""
    c = L.columns(language)
    v = value.sort_values(["value", "dealer_id", "driver"], ascending=[False, True, True],
                          na_position="last")
    level = _level_text(None, language)
    t = (Table(language=language)
         .text(c("dealer"), _dealer_names(v["dealer_id"], dealers, None, "dealer_id"))
         .text(c("driver"), v["driver"].map(L.driver_labels(language)).fillna(v["driver"])))
    if compact:
        return (t.signed(c("uplift"), v["uplift"])
                .money(c("value_interval", level=level), v["value"],
                       interval=(v["value_low"], v["value_high"]))
                .frame())
    return (t.signed(c("uplift"), v["uplift"], interval=(v["uplift_low"], v["uplift_high"]))
            .count(c("service_customers"), v["customers"])
            .count(c("customers_moved"), v["customers_moved"].round(0))
            .money(c("value_associated"), v["value"])
            .interval(c("interval", level=level), v["value_low"], v["value_high"], "money")
            .frame())


def funnel_table(rates: pd.DataFrame, *, by: str = "channel", dealers: pd.DataFrame | None = None,
                 language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.funnel.funnel_rates`: attempted, reached, answered and the rates."""
    c = L.columns(language)
    level = _level_text(None, language)
    if by == "channel":
        group = catalogue_names("channels", rates["channel"], language)
    elif by == "dealer_id":
        group = _dealer_names(rates["dealer_id"], dealers, None, "dealer_id")
    else:
        group = rates[by].astype(str)
    t = Table(language=language).text(c("channel" if by == "channel" else "dealer"), group)
    for stage in ("attempted", "reached", "answered"):
        t.count(c(stage + "_contacts"), rates[stage])
    for rate in ("reach", "response"):
        t.percent(c(f"{rate}_rate"), rates[f"{rate}_rate"], scale="rate")
        t.interval(c(f"{rate}_interval", level=level), rates[f"{rate}_low"],
                   rates[f"{rate}_high"], "percent")
    return t.percent(c("yield_rate"), rates["yield_rate"], scale="rate").frame()


def channel_difference_table(differences: pd.DataFrame, *, language: str | None = None
                             ) -> pd.DataFrame:
    """:func:`analysis.funnel.channel_differences`: each channel against the reference one."""
    c = L.columns(language)
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    d = differences
    return (Table(language=language)
            .text(c("channel"), catalogue_names("channels", d["channel"], language))
            .text(c("stage"), catalogue_names("funnel_stages", d["stage"], language))
            .percent(c("rate"), d["rate"])
            .percent(c("reference_rate"), d["reference_rate"])
            .signed(c("difference_pp"), 100 * d["difference"],
                    interval=(100 * d["difference_low"], 100 * d["difference_high"]))
            .text(c("differs"), [yes if x else no for x in d["differs"]])
            .frame())
