"""Every table a report shows: statistics' frames and results made readable.

Each function takes the tidy frame or result object of a statistics module and returns a
frame with the catalogue's human headers (params/labels.yaml) and the text of the one
formatter (:mod:`analysis.report.format`). Plain quantities stay numbers so that Excel can sum
them; composite ones (a value with a significance mark, an interval) are text. Filtering is
done on machine columns before anything is formatted. ``language=None`` is the catalogue's
default language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analysis import drivers as dr
from analysis import nps as nps_module
from analysis import repairs
from analysis.config import load_params
from analysis.css import load_css_params, summarize_css
from analysis.incidents import CLOSURE_STATUSES
from analysis.privacy import mask_pii_series
from analysis.report import format as F
from analysis.report import labels as L
from analysis.report import rules

__all__ = [
    "action_review_table", "agreement_table", "cause_matrix_table", "channel_difference_table",
    "closure_table", "completion_table", "css_table", "customer_flow_table", "dealer_table",
    "driver_labels", "driver_means_table", "funnel_table", "growth_value_table",
    "return_rate_table",
    "value_at_stake_table",
    "driver_ranking_table", "golden_star_table", "growth_table", "headline_table", "impact_table",
    "importance_change_table", "importance_performance_table", "importance_table",
    "incident_table", "overdue_table", "pairs_table", "quality_table", "reasons_table",
    "repeat_kpi_table", "repeats_by_dealer_table", "response_rate_table", "reviews_table",
    "series_table", "sla_table", "top_growth_table",
]


def _nps_params(params: dict | None) -> dict:
    return params if params is not None else load_params("nps")


def _level(level: float | None, p: dict) -> float:
    return float(p["level"] if level is None else level)


def _names(group: str, values: pd.Series, language: str | None) -> pd.Series:
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


def _stars(table: pd.DataFrame, test: str, alpha: float, rule) -> list[bool]:
    """Which rows carry the star: the report's rule when given, else a raw p below alpha."""
    if rule is not None:
        return rules.significant(table, test, rule=rule).tolist()
    return F.significant(table[f"{test}_p_value"], alpha)


def _rank_interval(low, high) -> list[str]:
    """A rank interval as text: ``3–17`` (the same rank twice: ``3``)."""
    return [F.MISSING if F.is_missing(lo) or F.is_missing(hi)
            else (f"{int(lo)}" if int(lo) == int(hi) else f"{int(lo)}–{int(hi)}")
            for lo, hi in zip(low, high, strict=True)]


def _rank_level() -> str:
    return F.percent(load_params("flags")["ranks"]["level"])


def _nps_frame(table: pd.DataFrame, first: dict, *, level: float, language: str | None,
               extra: bool = False, rule=None) -> pd.DataFrame:
    """The NPS columns of a summary: answers, NPS (small samples marked), interval, change
    (significant ones marked), its p-value and the response rate when there is one.

    ``extra`` keeps every other number of the summary (counts by category, invitations, the
    shrunk NPS): the month-by-month table shows them all.
    """
    c = L.columns(language)
    alpha = 1 - level
    small = f" ({L.text('marks', 'small_sample', language=language)})"
    star = L.text("marks", "significant", language=language)
    shown = pd.DataFrame({
        **first,
        c("answers"): table["n"].to_numpy(),
        **({c("promoters"): table["promoters"].to_numpy(),
            c("passives"): table["passives"].to_numpy(),
            c("detractors"): table["detractors"].to_numpy()} if extra else {}),
        c("nps"): [F.marked(F.nps(v), s, small)
                   for v, s in zip(table["nps"], table["small_sample"])],
        c("interval", level=F.percent(level)): F.each(F.interval, table["nps_low"],
                                                       table["nps_high"], sign=True),
        c("change"): [F.marked(F.signed(v), s, star) for v, s in zip(
            table["change_vs_previous"], _stars(table, "change", alpha, rule))],
        c("p_value"): [F.p_value(v, alpha=alpha) for v in table["change_p_value"]],
    })
    if extra and "invited" in table:
        shown[c("invited")] = table["invited"].to_numpy()
    if "response_rate" in table:
        shown[c("response_rate")] = [F.percent(v) for v in table["response_rate"]]
    if extra and "nps_shrunk" in table:
        shown[c("nps_shrunk")] = [F.nps(v) for v in table["nps_shrunk"]]
    return shown.reset_index(drop=True)


def headline_table(
    responses: pd.DataFrame,
    *,
    month: str,
    by: Sequence[str] = (),
    invitations: pd.DataFrame | None = None,
    level: float | None = None,
    min_n: int | None = None,
    label: str | None = None,
    params: dict | None = None,
    language: str | None = None,
    rule=None,
) -> pd.DataFrame:
    """The report month: NPS with interval, change vs previous month, one row per group.

    ``responses`` should include the previous month for the change column; ``label`` names
    the row when ``by=()``. The table holds aggregates only, never personal data. A ``*``
    marks a change that passes ``rule`` (the report's :class:`~analysis.stars.StarRule`;
    without one: significant at 1 - level).
    """
    p = _nps_params(params)
    lvl = _level(level, p)
    table = nps_module.summarize(responses, by=by, period="M", invitations=invitations,
                                 level=lvl, min_n=min_n, params=p)
    table = table.loc[table["period"] == pd.Period(month, freq="M")]
    if table.empty:
        raise ValueError(f"no answers in {month}")
    names = table[list(by)].astype(str)
    if "touchpoint" in names:
        names["touchpoint"] = _names("touchpoints", names["touchpoint"], language)
    if label is None:
        label = L.text("labels", "all_answers", language=language)
    groups = (names.agg(" / ".join, axis=1) if by else pd.Series(label, index=table.index))
    shown = _nps_frame(table, {L.column("group", language=language): groups.to_numpy()},
                       level=lvl, language=language, rule=rule)
    weighted = _weighted_nps(responses, invitations, by=by, month=month, level=lvl, params=p)
    if weighted is not None:
        # response rates differ across dealer x touchpoint cells: beside the answers' NPS,
        # the NPS with every cell weighted by its invitations
        c = L.columns(language)
        w = table[list(by)].merge(weighted, on=list(by), how="left") if by else weighted
        shown[c("nps_weighted")] = [F.nps(v) for v in w["nps_weighted"]]
        shown[c("nps_weighted_interval", level=F.percent(lvl))] = F.each(
            F.interval, w["nps_weighted_low"], w["nps_weighted_high"], sign=True)
    return shown


def _weighted_nps(responses: pd.DataFrame, invitations: pd.DataFrame | None, *,
                  by: Sequence[str], month: str, level: float,
                  params: dict) -> pd.DataFrame | None:
    """:func:`analysis.nps.summarize_weighted` of ``month``, or None without invitations."""
    cells = ("dealer_id", "touchpoint")
    if invitations is None or invitations.empty or not (
            {*by, *cells, "month", "invited"} <= set(invitations)
            and {*by, *cells} <= set(responses)):
        return None
    current = pd.Period(month, freq="M")
    weighted = nps_module.summarize_weighted(responses, invitations, by=by, period="M",
                                             level=level, params=params)
    weighted = weighted.loc[weighted["period"] == current]
    return None if weighted.empty else weighted.drop(columns="period").reset_index(drop=True)


def series_table(summary: pd.DataFrame, *, level: float | None = None,
                 language: str | None = None, rule=None) -> pd.DataFrame:
    """A :func:`analysis.nps.summarize` frame by period (one group), every number kept."""
    lvl = _level(level, _nps_params(None))
    first = {L.column("month", language=language): summary["period"].astype(str).to_numpy()}
    return _nps_frame(summary, first, level=lvl, language=language, extra=True, rule=rule)


def dealer_table(
    responses: pd.DataFrame,
    *,
    month: str | None = None,
    dealers: pd.DataFrame | None = None,
    level: float | None = None,
    min_n: int | None = None,
    params: dict | None = None,
    language: str | None = None,
    rule=None,
    ranked: pd.DataFrame | None = None,
    regional: bool = False,
) -> pd.DataFrame:
    """The dealer ranking: interval, shrunk NPS, small-sample mark, the rank's interval and
    the chances of the top and bottom quarter.

    Aggregates only (no customer data). ``*`` marks a change vs the previous month or a gap
    to the rest of the region that passes ``rule`` (the report's star rule; without one:
    significant at 1 - level). ``ranked`` is :func:`analysis.nps.rank_dealers` when the
    caller has it (otherwise it is computed from ``responses``). ``regional``: the answers
    are one region's, so its region and the rank in it (the rank itself) are left out.
    """
    p = _nps_params(params)
    lvl = _level(level, p)
    c = L.columns(language)
    star = L.text("marks", "significant", language=language)
    small = f" ({L.text('marks', 'small_sample', language=language)})"
    if ranked is None:
        ranked = nps_module.rank_dealers(responses, period=month, dealers=dealers, level=lvl,
                                         min_n=min_n, params=p)
    alpha = 1 - lvl

    def change(values, test):
        return [F.marked(F.signed(v), s, star)
                for v, s in zip(values, _stars(ranked, test, alpha, rule))]

    shown = pd.DataFrame({
        c("rank"): ranked["rank_network"],
        c("rank_region"): ranked["rank_region"],
        c("region"): ranked["region"],
        c("dealer"): ranked["dealer_name"] if "dealer_name" in ranked else ranked["dealer_id"],
        c("answers"): [F.marked(F.count(n), s, small)
                       for n, s in zip(ranked["n"], ranked["small_sample"])],
        c("nps"): [F.nps(v) for v in ranked["nps"]],
        c("interval", level=F.percent(lvl)): F.each(F.interval, ranked["nps_low"],
                                                      ranked["nps_high"], sign=True),
        c("nps_shrunk"): [F.nps(v) for v in ranked["nps_shrunk"]],
        c("vs_rest_of_region"): change(ranked["vs_region"], "vs_region"),
    })
    if "change_vs_previous" in ranked:
        shown[c("change")] = change(ranked["change_vs_previous"], "change")
    if regional:
        shown = shown.drop(columns=[c("rank_region"), c("region")])
    if "rank_low" in ranked:
        shown[c("rank_interval", level=_rank_level())] = _rank_interval(ranked["rank_low"],
                                                                        ranked["rank_high"])
        # one column for both chances keeps the HTML table on one line a dealer
        shown[c("p_quarters")] = [f"{F.percent(t)} / {F.percent(b)}" for t, b in zip(
            ranked["p_top_quarter"], ranked["p_bottom_quarter"], strict=True)]
    return shown.reset_index(drop=True)


def response_rate_table(summary: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """Answers and response rate by month (rows) and touchpoint (columns)."""
    c = L.columns(language)
    data = summary.assign(period=summary["period"].astype(str),
                          touchpoint=_names("touchpoints", summary["touchpoint"], language))
    wide = data.pivot_table(index="period", columns="touchpoint",
                            values=["n", "response_rate"], observed=True)
    answers = wide["n"].rename(columns=lambda t: f"{c('answers')}: {t}")
    rates = wide["response_rate"].apply(lambda col: col.map(F.percent)).rename(
        columns=lambda t: f"{c('response_rate')}: {t}")
    return (pd.concat([answers.astype("Int64"), rates], axis=1)
            .rename_axis(index=c("month"), columns=None))


# --- loyalty drivers -------------------------------------------------------------------------


def importance_table(result: dr.ImportanceResult, *, language: str | None = None
                     ) -> pd.DataFrame:
    """The driver table of a report: share of explained NPS variance with its interval.

    Shares are in percent of R^2; the interval is the bootstrap percentile interval of the
    share (missing without bootstrap draws).
    """
    labels = L.driver_labels(language)
    c = L.columns(language)
    table = result.table
    share_draws = result.share_draws
    alpha = (1 - result.level) / 2
    if share_draws is not None:
        low, high = np.nanquantile(share_draws.to_numpy(), [alpha, 1 - alpha], axis=0)
    else:
        low = high = np.full(len(table), np.nan)
    return pd.DataFrame({
        c("rank"): table["rank"].to_numpy(),
        c("driver"): [labels.get(d, d) for d in table.index],
        c("share_pct"): 100 * table["share"].to_numpy(),
        c("interval_pct", level=F.percent(result.level)): F.each(F.interval, 100 * low,
                                                                  100 * high),
        c("r2_part"): table["importance"].to_numpy(),
    }).sort_values(c("rank")).reset_index(drop=True)


def importance_change_table(change: pd.DataFrame, *, level: float | None = None,
                            language: str | None = None, rule=None) -> pd.DataFrame:
    """:func:`analysis.drivers.importance_change` as a report table, shares in percent points.

    "Really changed" is the report's star rule (``rule``) on the bootstrap p-value; without
    one, the Benjamini-Hochberg flag over the drivers (``change_flag``), never a raw p."""
    labels = L.driver_labels(language)
    c = L.columns(language)
    lvl = _level(level, _nps_params(None))
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    return pd.DataFrame({
        c("driver"): change["driver"].map(lambda d: labels.get(d, d)),
        c("before"): change["before"].astype(str),
        c("after"): change["after"].astype(str),
        c("share_before_pct"): 100 * change["value_before"],
        c("share_after_pct"): 100 * change["value_after"],
        c("change_pp"): 100 * change["diff"],
        c("interval_pp", level=F.percent(lvl)): F.each(F.interval, 100 * change["low"],
                                                        100 * change["high"], sign=True),
        c("p_value"): [F.p_value(v) for v in change["p_value"]],
        c("really_changed"): np.where(_importance_stars(change, rule), yes, no),
    })


def _importance_stars(change: pd.DataFrame, rule) -> np.ndarray:
    from analysis.stars import importance_tests

    tests = importance_tests(change)
    if rule is None and "change_flag" not in tests:
        return change["changed"].to_numpy(dtype=bool)
    return rules.significant(tests, "change", rule=rule).to_numpy()


def importance_performance_table(table: pd.DataFrame, *, language: str | None = None,
                                 scales=None) -> pd.DataFrame:
    """:func:`analysis.drivers.importance_performance` with driver and quadrant names; the
    performance stays in each driver's scale (named with the driver when ``scales`` differ)."""
    labels = driver_labels(table["driver"], scales=scales, language=language)
    return _rename(table.drop(columns=["position"], errors="ignore").assign(
                                driver=table["driver"].map(lambda d: labels.get(d, d)),
                                quadrant=_names("quadrants", table["quadrant"].astype(str),
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
    the one-sided gap test (``growth_zone``) are zones.
    ``dealers`` supplies names when the responses had none; ``only`` keeps these dealers
    (ids) of the network's TOP, with their network ranks.
    """
    decimals = F.DECIMALS if decimals is None else decimals
    max_zones = result.max_zones if max_zones is None else max_zones
    labels = L.driver_labels(language)
    c = L.columns(language)
    top = _only(result.top(n, max_zones=max_zones), result.by, only)
    zones = (top.assign(text=lambda d: d["driver"].map(labels) + ": " + pd.Series(
        F.each(F.with_interval, d["uplift"], d["uplift_low"], d["uplift_high"],
               decimals=decimals, sign=True), index=d.index, dtype=object))
             .pivot(index=result.by, columns="zone", values="text")
             .reindex(columns=range(1, max_zones + 1))
             .astype(object)
             .fillna("")
             .rename(columns=lambda z: c("growth_zone_n", n=z)))
    info = result.dealers.set_index(result.by)
    leaders = top.drop_duplicates(result.by)[["rank", result.by, "total_uplift"]]
    if "assoc_total_uplift" in result.dealers:
        leaders = leaders.assign(total_uplift=leaders[result.by].map(
            result.dealers.set_index(result.by)["assoc_total_uplift"]))
    ids = leaders[result.by]
    known = info.loc[ids, "dealer_name"].reset_index(drop=True) if "dealer_name" in info else None
    row = info.loc[ids]
    out = pd.DataFrame({
        c("number"): leaders["rank"].to_numpy(),
        c("dealer"): _dealer_names(ids.reset_index(drop=True), dealers, known,
                                   result.by).to_numpy(),
        c("region"): row["region"].to_numpy(),
        c("answers"): row["n"].to_numpy(),
        c("nps"): [F.nps(v, decimals) for v in row["nps"]],
        c("interval", level=F.percent(result.level)): F.each(
            F.interval, row["nps_low"], row["nps_high"], decimals=decimals, sign=True),
        c("assoc_uplift"): leaders["total_uplift"].round(decimals).to_numpy(),
    })
    return pd.concat([out, zones.loc[ids].reset_index(drop=True)], axis=1)


def driver_ranking_table(
    ranking: pd.DataFrame,
    *,
    dealers: pd.DataFrame | None = None,
    drivers: Sequence[str] | None = None,
    by: str = "dealer_id",
    language: str | None = None,
    decimals: int | None = None,
    scales=None,
) -> pd.DataFrame:
    """The per-driver dealer ranking of :func:`analysis.growth.rank_dealers_by_driver`
    (means in each driver's scale, named with the driver when ``scales`` differ).

    One row per driver x dealer, drivers in ``drivers`` order (default: the ranking's), best
    first: ``Driver``, ``Rank``, ``Rank in region``, ``Dealer``, ``Region``, ``Answers``,
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
    return pd.DataFrame({
        **({c("period"): ranked["period"].astype(str)} if keys else {}),
        c("driver"): ranked["driver"].map(lambda d: labels.get(d, d)),
        c("rank"): ranked["rank_network"],
        c("rank_region"): ranked["rank_region"],
        c("dealer"): _dealer_names(ranked[by], dealers, None, by),
        c("region"): ranked["region"],
        c("answers"): ranked["n"],
        c("mean_interval"): F.each(F.with_interval, ranked["mean"], ranked["low"],
                                   ranked["high"], decimals=decimals),
        c("shrunk_mean"): ranked["shrunk"].round(decimals + 1),
        c("region_mean"): ranked["region_mean"].round(decimals + 1),
        **({c("rank_interval", level=_rank_level()): _rank_interval(ranked["rank_low"],
                                                                    ranked["rank_high"]),
            c("p_top_quarter"): F.each(F.percent, ranked["p_top_quarter"]),
            c("p_bottom_quarter"): F.each(F.percent, ranked["p_bottom_quarter"])}
           if "rank_low" in ranked else {}),
        c("note"): np.where(ranked["small_sample"],
                            L.text("marks", "shrunk_toward_region", language=language), ""),
    })


def growth_table(
    result,
    *,
    dealers: pd.DataFrame | None = None,
    only: Iterable[str] | None = None,
    language: str | None = None,
    decimals: int | None = None,
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
    return pd.DataFrame({
        c("dealer_id"): t[result.by],
        c("dealer"): _dealer_names(t[result.by], dealers, known, result.by),
        c("region"): t["region"],
        c("driver"): t["driver"].map(lambda d: labels.get(d, d)),
        c("answers_rating_driver"): t["n"],
        c("current_shrunk_mean"): t["current"].round(rating_digits),
        c("benchmark"): t["benchmark"].round(rating_digits),
        c("gap"): t["gap"].round(rating_digits),
        c("uplift"): t.get("assoc_uplift", t["uplift"]).round(nps_digits),
        c("interval", level=F.percent(result.level)): F.each(
            F.interval, t["uplift_low"], t["uplift_high"], decimals=nps_digits, sign=True),
        **({c("gap_p_value"): t["zone_p_value"].round(4),
            c("gap_p_adj"): t["zone_p_adj"].round(4)} if "zone_p_value" in t else {}),
        c("growth_zone"): np.where(t["growth_zone"], L.text("marks", "yes", language=language),
                                   ""),
        c("zone_rank"): t["zone_rank"],
        c("dealer_nps"): [F.nps(v, nps_digits) for v in t[result.by].map(info["nps"])],
    })


# --- CSS -------------------------------------------------------------------------------------


def css_table(
    responses: pd.DataFrame,
    *,
    month: str,
    by: Sequence[str] = ("region", "dealer_id"),
    dealers: pd.DataFrame | None = None,
    reference: pd.DataFrame | None = None,
    params: dict | None = None,
    language: str | None = None,
    rule=None,
) -> pd.DataFrame:
    """CSS per dealer in the report month vs previous month, region and nation.

    ``reference``: the network's answers for the averages (see
    :func:`analysis.css.summarize_css`). Aggregates only, no customer data. ``*`` marks a
    change that passes ``rule`` (the report's star rule; without one: the Welch test's
    Benjamini-Hochberg flag, never below the small-sample threshold).
    """
    p = load_css_params() if params is None else params
    level = float(p["level"])
    table = summarize_css(responses, by=by, period="M", reference=reference, params=p)
    table = table.loc[table["period"] == pd.Period(month, freq="M")]
    if table.empty:
        raise ValueError(f"no CSS answers in {month}")
    if dealers is not None and "dealer_id" in table:
        names = dealers.set_index("dealer_id")["dealer_name"]
        label = table["dealer_id"].map(names).fillna(table["dealer_id"])
    else:
        label = table[list(by)].astype(str).agg(" / ".join, axis=1)
    c = L.columns(language)
    star = L.text("marks", "significant", language=language)
    small = f" ({L.text('marks', 'small_sample', language=language)})"
    shown = pd.DataFrame({
        c("region"): table["region"].to_numpy() if "region" in table else "",
        c("dealer"): label.to_numpy(),
        c("answers"): [F.marked(F.count(n), s, small)
                       for n, s in zip(table["n"], table["small_sample"])],
        c("css"): table["css"].round(1).to_numpy(),
        c("interval", level=F.percent(level)): F.each(F.interval, table["css_low"],
                                                       table["css_high"]),
        c("change"): [F.marked(F.signed(v), s, star) for v, s in zip(
            table["change_vs_previous"], rules.significant(table, "change", level_=level,
                                                           rule=rule))],
        c("vs_region"): [F.signed(v) for v in table["vs_region"]],
        c("vs_national"): [F.signed(v) for v in table["vs_national"]],
    })
    return shown.sort_values(c("css"), ascending=False).reset_index(drop=True)


# --- red flags and golden stars --------------------------------------------------------------


def _operations_level(rule: str, level: float | None) -> str:
    return F.percent(load_params("operations")[rule]["level"] if level is None else level)


def sla_table(summary: pd.DataFrame, *, level: float | None = None,
              language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.cases.sla_summary` frame: readable headers, percentages, worst first.

    Compliance is ``met_in_closed / decided``: over the flags whose SLA window has closed
    (both shown). ``level`` names the interval's level in its header (params/operations.yaml
    by default).
    """
    names = {"region": "region", "dealer_name": "dealer", "dealer_id": "dealer_id",
             "owner": "owner", "flags": "red_flags", "met": "met", "breached": "breached",
             "open_overdue": "open_overdue", "open_within_sla": "open_within_sla",
             "no_case": "no_case"}
    c = L.columns(language)
    interval = c("interval_pct", level=_operations_level("red_flags", level))
    pct = 100 * summary[["compliance", "compliance_low", "compliance_high"]]
    closed = ([f"{F.count(m)} / {F.count(d)}" for m, d in
               zip(summary["met_in_closed"], summary["decided"], strict=True)]
              if {"met_in_closed", "decided"} <= set(summary) else None)
    out = summary.assign(**{
        **({c("met_in_closed"): closed} if closed is not None else {}),
        c("compliance_pct"): pct["compliance"].round(1),
        interval: F.each(F.interval, pct["compliance_low"], pct["compliance_high"]),
        c("median_hours_to_contact"): summary["median_contact_hours"].round(1)})
    if "owner" in out:
        out = out.assign(owner=_names("owners", out["owner"], language))
    return (
        out.sort_values(["compliance", "decided"], ascending=[True, False], na_position="last")
        .rename(columns={k: c(v) for k, v in names.items()})
        [[c(names[k]) for k in names if k in summary]
         + ([c("met_in_closed")] if closed is not None else [])
         + [c("compliance_pct"), interval, c("median_hours_to_contact")]]
        .reset_index(drop=True)
    )


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
        out = out.assign(owner=_names("owners", out["owner"], language))
    if "no_case" in out:
        out = out.assign(no_case=np.where(out["no_case"].astype(bool), yes, no))
    return _rename(out, language, **{k: v for k, v in cols.items() if k in out})


def golden_star_table(stars: pd.DataFrame, *, per_dealer: int | None = None,
                      language: str | None = None) -> pd.DataFrame:
    """Golden stars: dealer, date, score and the masked quote."""
    out = stars.assign(date=lambda d: d["responded_at"].dt.strftime("%Y-%m-%d"))
    if per_dealer is not None:
        out = out.groupby("dealer_id", sort=False).head(per_dealer)
    cols = [c for c in ("region", "dealer_name", "dealer_id", "date", "nps", "quote") if c in out]
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
        data = data.assign(**{rows: _names(group, data[rows], language)})
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
    interval = c("interval_pct", level=_operations_level("incidents", level))
    keys = [k for k in summary.columns if k not in {
        "incidents", *CLOSURE_STATUSES, "median_hours", "median_working_hours", "decided",
        "share_within_sla", "share_low", "share_high"}]
    pct = 100 * summary[["share_within_sla", "share_low", "share_high"]]
    groups = {"channel": "channels", "kind": "kinds", "category": "categories"}
    out = summary.assign(**{k: _names(groups[k], summary[k], language)
                            for k in keys if k in groups})
    out = out.assign(**{
        c("within_sla_pct"): pct["share_within_sla"].round(1),
        interval: F.each(F.interval, pct["share_low"], pct["share_high"]),
        c("median_hours"): summary["median_hours"].round(1),
        c("median_working_hours"): summary["median_working_hours"].round(1)})
    out = _rename(out, language, **{k: k for k in keys}, incidents="incidents",
                  closed_within_sla="closed_in_time", closed_late="closed_late",
                  open_overdue="open_overdue", open_within_sla="open_in_time")
    return out[[*(c(k) for k in keys), c("incidents"), c("closed_in_time"), c("closed_late"),
                c("open_overdue"), c("open_in_time"), c("within_sla_pct"),
                interval, c("median_hours"),
                c("median_working_hours")]].reset_index(drop=True)


def reasons_table(reasons: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """Long-service reasons: reason, count, share in %."""
    c = L.columns(language)
    return (reasons.assign(**{c("share_pct"): (100 * reasons["share"]).round(1),
                              "reason": _names("reasons", reasons["reason"], language)})
            .drop(columns="share")
            .rename(columns={"reason": c("reason"), "n": c("complaints")}))


# --- repeat repairs --------------------------------------------------------------------------


def _date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d")


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
    out = out.assign(first_closed_at=_date(out["first_closed_at"]),
                     repeat_opened_at=_date(out["repeat_opened_at"]))
    return _rename(out[[c for c in cols if c in out]], language,
                   **{k: v for k, v in cols.items() if k in out}).reset_index(drop=True)


def repeat_kpi_table(kpi: pd.DataFrame, *, role: str = "mechanic",
                     language: str | None = None) -> pd.DataFrame:
    """A :func:`analysis.repairs.kpi_table` frame: worst first, shares in %."""
    if role not in repairs.ROLES:
        raise ValueError(f"role must be one of {repairs.ROLES}, got {role!r}")
    c = L.columns(language)
    out = (kpi.sort_values(["repeats", "dealer_id", role], ascending=[False, True, True])
           .assign(**{c("bonus_share_pct"): lambda d: (100 * d["bonus_share"]).round(1)}))
    rate = _cohort_columns(out, language)
    out = _rename(out, language, dealer_id="dealer_id", **{role: role}, period="period",
                  orders="orders", repeats="repeats")
    return pd.concat([out[[c("dealer_id"), c(role), c("period"), c("orders"), c("repeats")]]
                      .reset_index(drop=True), rate,
                      out[[c("bonus_share_pct")]].reset_index(drop=True)], axis=1)


def _cohort_columns(frame: pd.DataFrame, language: str | None) -> pd.DataFrame:
    """The cohort repeat rate (:mod:`analysis.repairs`, Rates) with its Wilson interval; the
    old ratio of repeats by return date to orders by close date where there is no cohort."""
    c = L.columns(language)
    if "cohort_rate" not in frame:
        return pd.DataFrame({c("repeat_rate_pct"): (100 * frame["repeat_rate"]).round(1)
                             .to_numpy()})
    level = _operations_level("red_flags", None)
    return pd.DataFrame({
        c("cohort_orders"): frame["cohort_orders"].astype("int64").to_numpy(),
        c("cohort_repeats"): frame["cohort_repeats"].astype("int64").to_numpy(),
        c("cohort_rate_pct"): (100 * frame["cohort_rate"]).round(1).to_numpy(),
        c("interval_pct", level=level): F.each(F.interval, 100 * frame["cohort_rate_low"],
                                                100 * frame["cohort_rate_high"]),
    })


def repeats_by_dealer_table(by_dealer: pd.DataFrame, *, language: str | None = None
                            ) -> pd.DataFrame:
    """:attr:`analysis.repairs.MonthlyRepeatReport.by_dealer`: orders closed, repeats (by
    return date), and the cohort repeat rate with its Wilson interval, highest first."""
    cols = {"dealer_id": "dealer_id", "dealer_name": "dealer", "region": "region",
            "orders": "orders", "repeats": "repeats"}
    if "cohort_rate" in by_dealer:
        by_dealer = by_dealer.sort_values(["cohort_rate", "cohort_repeats"],
                                          ascending=[False, False], na_position="last")
    keys = _rename(by_dealer[[k for k in cols if k in by_dealer]], language,
                   **{k: v for k, v in cols.items() if k in by_dealer})
    return pd.concat([keys.reset_index(drop=True), _cohort_columns(by_dealer, language)],
                     axis=1)


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
    out = reviews.assign(responded_at=_date(reviews["responded_at"]))
    if "already_repeat" in out:
        out = out.assign(already_repeat=np.where(out["already_repeat"].astype(bool), yes, no))
    return _rename(out[[k for k in cols if k in reviews]], language,
                   **{k: v for k, v in cols.items() if k in reviews})


# --- root causes -----------------------------------------------------------------------------


def _cause_name(cause, label, language: str | None) -> str:
    """A taxonomy cause by its catalogue name; a discovered cluster by its top words."""
    if L.has("causes", cause):
        return L.name("causes", cause, language=language)
    return label or str(cause)


def impact_table(causes: pd.DataFrame, *, sources: pd.DataFrame | None = None,
                 language: str | None = None, level: float | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.top_causes` made readable: causes by NPS impact, with their
    name and masked quotes.

    With a ``contribution`` column (:func:`analysis.rootcause.cause_impact` joined with the
    labels and quotes of ``top_causes``) the causes are ranked by their contribution to the
    gap, shown in points with its bootstrap interval: the contributions of all causes add
    up to the scope's gap (``scope_nps - ref_nps``), so a reader may sum the column.

    ``sources`` (:func:`analysis.rootcause.cause_shares`) adds where each cause's answers got
    it: how many the team labelled and ``source`` (team, model or both). Top words are left
    out when no cause has any (causes learnt from labels are named by the taxonomy).
    """
    c = L.columns(language)
    if "contribution" in causes:
        lvl = _level(level, _nps_params(None))
        ranked = causes.sort_values(["contribution", "count"], ascending=[True, False])
        quotes = ranked["quotes"] if "quotes" in ranked else pd.Series([()] * len(ranked))
        out = pd.DataFrame({
            c("rank"): np.arange(1, len(ranked) + 1),
            c("cause"): [_cause_name(k, lab, language) for k, lab in
                         zip(ranked["cause"], ranked.get("label", ranked["cause"]).fillna(""))],
            c("answers"): ranked["count"].to_numpy(),
            c("share_pct"): (100 * ranked["share"]).round(1).to_numpy(),
            c("nps"): [F.nps(v) for v in ranked["nps"]],
            c("contribution_points"): ranked["contribution"].round(2).to_numpy(),
            c("interval", level=F.percent(lvl)): F.each(
                F.interval, ranked["contribution_low"], ranked["contribution_high"],
                sign=True),
            c("quotes"): [("\n".join(f"«{s}»" for s in q) if isinstance(q, tuple) else "")
                          for q in quotes],
        })
    else:
        ranked = causes
        out = pd.DataFrame({
            c("rank"): causes["rank"].to_numpy(),
            c("cause"): [_cause_name(k, lab, language)
                         for k, lab in zip(causes["cause"], causes["label"])],
            c("top_words"): causes["label"].to_numpy(),
            c("answers"): causes["count"].to_numpy(),
            c("share_pct"): (100 * causes["share"]).round(1).to_numpy(),
            c("nps"): [F.nps(v) for v in causes["nps"]],
            c("impact_points"): causes["impact"].round(2).to_numpy(),
            c("quotes"): causes["quotes"].apply(
                lambda q: "\n".join(f"«{s}»" for s in q)).to_numpy(),
        })
        if not causes["label"].astype(str).str.strip().astype(bool).any():
            out = out.drop(columns=c("top_words"))
    if sources is not None:
        known = sources.set_index("cause")
        team = ranked["cause"].map(known["team"]).fillna(0).astype(np.int64).to_numpy()
        source = ranked["cause"].map(known["source"])
        out.insert(out.columns.get_loc(c("answers")) + 1, c("labelled_by_team"), team)
        out.insert(out.columns.get_loc(c("labelled_by_team")) + 1, c("cause_source"),
                   _names("cause_sources", source, language).to_numpy())
    return out


def agreement_table(per_cause: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:attr:`analysis.rootcause.Agreement.per_cause`: per cause the team labelled, how often
    the cross-validated model finds it (recall with its interval), its precision and F1."""
    c = L.columns(language)
    return pd.DataFrame({
        c("cause"): [_cause_name(k, "", language) for k in per_cause["cause"]],
        c("labelled_by_team"): per_cause["n"].to_numpy(),
        c("model_finds_it"): F.each(lambda v, lo, hi: f"{F.percent(v)} "
                                    f"{F.percent_interval(lo, hi)}", per_cause["recall"],
                                    per_cause["recall_low"], per_cause["recall_high"]),
        c("precision"): per_cause["precision"].round(2).to_numpy(),
        c("f1"): per_cause["f1"].round(2).to_numpy(),
    })


def cause_matrix_table(matrix: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.dealer_cause_matrix` with cause names as headers (cells
    built on fewer answers than ``matrix_min_count`` stay empty)."""
    return (matrix.rename(columns=lambda k: L.name("causes", k, language=language))
            .rename_axis(index=L.column("dealer", language=language), columns=None))


# --- appendix --------------------------------------------------------------------------------


def quality_table(quality: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.ingest.quarantine_summary` without the quarantine file's path; tables
    and reasons in the catalogue's words."""
    quality = quality.assign(table=_names("store_tables", quality["table"], language),
                             top_reasons=[_reasons_text(r, language)
                                          for r in quality["top_reasons"]])
    return _rename(quality.drop(columns=["quarantine_file"], errors="ignore"), language,
                   file="file", table="table", ingested_at="ingested_at", read="read",
                   accepted="accepted", quarantined="quarantined", top_reasons="top_reasons")


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
        f"({F.count(int(m['rows']))})" for m in _REASON.finditer(str(reasons)))


# --- closing the loop: actions, customers, the survey funnel ----------------------------------


def _target_name(target, language: str | None) -> str:
    """An action's target: a driver's or a cause's name from the catalogue."""
    group = "drivers" if L.has("drivers", target) else "causes"
    return L.name(group, target, language=language)


def action_review_table(review: pd.DataFrame, *, language: str | None = None,
                        decimals: int = 2) -> pd.DataFrame:
    """:func:`analysis.actions.monthly_review`: each action with its state and its effect.

    The effect is in the target's units (a driver's mean rating, a cause's share) with its
    interval; an empty effect means the months after the action are still too thin.
    """
    c = L.columns(language)
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    names = review.get("dealer_name", review["dealer_id"]).fillna(review["dealer_id"])
    return pd.DataFrame({
        c("action"): review["action_id"].to_numpy(),
        c("dealer"): names.to_numpy(),
        c("target"): [_target_name(t, language) for t in review["target"]],
        c("description"): mask_pii_series(review["description"].astype("string")).to_numpy(),
        c("state"): _names("action_states", review["state"], language).to_numpy(),
        c("due"): _date(review["due_at"]).fillna(F.MISSING).to_numpy(),
        c("closed"): _date(review["closed_at"]).fillna(F.MISSING).to_numpy(),
        c("before"): F.each(F.number, review["before"], decimals=decimals),
        c("after"): F.each(F.number, review["after"], decimals=decimals),
        c("effect"): F.each(F.with_interval, review["effect"], review["effect_low"],
                            review["effect_high"], decimals=decimals, sign=True),
        c("effective"): [F.MISSING if F.is_missing(e) else (yes if e else no)
                         for e in review["effective"]],
    })


def completion_table(completion: pd.DataFrame, *, language: str | None = None
                     ) -> pd.DataFrame:
    """:func:`analysis.actions.completion`: actions by state, done share and on-time rate."""
    c = L.columns(language)
    keys = [k for k in completion.columns if k in ("region", "dealer_id", "dealer_name")]
    out = completion[keys].copy()
    for state in ("n", "done", "overdue", "open", "cancelled"):
        out[c("actions_n" if state == "n" else f"actions_{state}")] = \
            completion[state].astype("int64").to_numpy()
    out[c("done_share")] = F.each(F.percent, completion["done_share"])
    out[c("on_time")] = F.each(F.percent, completion["on_time_rate"])
    out[c("interval_pct", level=_operations_level_loop("actions"))] = F.each(
        F.percent_interval, completion["on_time_low"], completion["on_time_high"])
    return _rename(out, language, region="region", dealer_id="dealer_id",
                   dealer_name="dealer")


def _operations_level_loop(part: str) -> str:
    return F.percent(load_params("loop")[part]["level"])


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
    level = _operations_level_loop("retention")
    return pd.DataFrame({
        c("nps_category"): _names("nps_categories", rates["category"], language).to_numpy(),
        c("customers"): rates["n"].astype("int64").to_numpy(),
        c("returned"): rates["returned"].astype("int64").to_numpy(),
        c("return_rate"): F.each(F.percent, rates["rate"]),
        c("interval_pct", level=level): F.each(F.percent_interval, rates["rate_low"],
                                                rates["rate_high"]),
    })


def value_at_stake_table(value: pd.DataFrame, *, dealers: pd.DataFrame | None = None,
                         language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.value_at_stake`: the dealers whose detractors cost most."""
    c = L.columns(language)
    v = value.sort_values(["value", "dealer_id"], ascending=[False, True], na_position="last")
    level = _operations_level_loop("retention")
    return pd.DataFrame({
        c("dealer"): _dealer_names(v["dealer_id"], dealers, None, "dealer_id").to_numpy(),
        c("detractors"): v["detractors"].astype("int64").to_numpy(),
        c("return_gap"): F.each(F.with_interval, 100 * v["gap"], 100 * v["gap_low"],
                                100 * v["gap_high"], decimals=0),
        c("customers_at_stake"): v["customers_at_stake"].round(0).astype("Int64").to_numpy(),
        c("value_per_year"): v["value"].round(0).astype("Int64").to_numpy(),
        c("interval", level=level): F.each(F.money_interval, v["value_low"], v["value_high"]),
    })


def growth_value_table(value: pd.DataFrame, *, dealers: pd.DataFrame | None = None,
                       compact: bool = False, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.uplift_value` of growth zones: the value associated with
    closing each zone's gap, largest first: dealer, driver, NPS uplift, service customers,
    customers moved, value a year and its interval. ``compact``: dealer, driver, NPS uplift
    and the value with its interval in one column (one line a row, for the HTML)."""
    c = L.columns(language)
    v = value.sort_values(["value", "dealer_id", "driver"], ascending=[False, True, True],
                          na_position="last")
    level = _operations_level_loop("retention")
    head = {
        c("dealer"): _dealer_names(v["dealer_id"], dealers, None, "dealer_id").to_numpy(),
        c("driver"): v["driver"].map(L.driver_labels(language)).fillna(v["driver"]).to_numpy(),
    }
    if compact:
        return pd.DataFrame({
            **head,
            c("uplift"): F.each(F.signed, v["uplift"]),
            c("value_interval", level=level): F.each(
                F.money_with_interval, v["value"], v["value_low"], v["value_high"]),
        })
    return pd.DataFrame({
        **head,
        c("uplift"): F.each(F.with_interval, v["uplift"], v["uplift_low"], v["uplift_high"],
                            sign=True),
        c("service_customers"): v["customers"].astype("int64").to_numpy(),
        c("customers_moved"): v["customers_moved"].round(0).astype("Int64").to_numpy(),
        c("value_associated"): v["value"].round(0).astype("Int64").to_numpy(),
        c("interval", level=level): F.each(F.money_interval, v["value_low"], v["value_high"]),
    })


def funnel_table(rates: pd.DataFrame, *, by: str = "channel", dealers: pd.DataFrame | None = None,
                 language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.funnel.funnel_rates`: attempted, reached, answered and the rates."""
    c = L.columns(language)
    level = _operations_level_loop("funnel")
    if by == "channel":
        group = _names("channels", rates["channel"], language)
    elif by == "dealer_id":
        group = _dealer_names(rates["dealer_id"], dealers, None, "dealer_id")
    else:
        group = rates[by].astype(str)
    out = pd.DataFrame({c("channel" if by == "channel" else "dealer"): group.to_numpy()})
    for stage in ("attempted", "reached", "answered"):
        out[c(stage + "_contacts")] = rates[stage].astype("int64").to_numpy()
    for rate in ("reach", "response"):
        out[c(f"{rate}_rate")] = F.each(F.percent, rates[f"{rate}_rate"])
        out[c(f"{rate}_interval", level=level)] = F.each(
            F.percent_interval, rates[f"{rate}_low"], rates[f"{rate}_high"])
    out[c("yield_rate")] = F.each(F.percent, rates["yield_rate"])
    return out


def channel_difference_table(differences: pd.DataFrame, *, language: str | None = None
                             ) -> pd.DataFrame:
    """:func:`analysis.funnel.channel_differences`: each channel against the reference one."""
    c = L.columns(language)
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    return pd.DataFrame({
        c("channel"): _names("channels", differences["channel"], language).to_numpy(),
        c("stage"): _names("funnel_stages", differences["stage"], language).to_numpy(),
        c("rate"): F.each(F.percent, differences["rate"]),
        c("reference_rate"): F.each(F.percent, differences["reference_rate"]),
        c("difference_pp"): F.each(F.with_interval, 100 * differences["difference"],
                                   100 * differences["difference_low"],
                                   100 * differences["difference_high"], sign=True),
        c("differs"): [yes if d else no for d in differences["differs"]],
    })
