"""The sections of the monthly report, in the order of the importer's deck.

Each section takes the report's :class:`~analysis.report.book.ReportBook` and
:class:`~analysis.report.data.ReportData`, asks the statistics modules for numbers, the
tables module for what to show and the charts module for what to draw; it computes and
formats nothing itself. Words come from the catalogue in the book's language. The notebook
only calls the sections, one cell each. A section whose data is absent says so in one line.
"""

from __future__ import annotations

import pandas as pd

from analysis import (
    actions,
    cases,
    drivers,
    funnel,
    growth,
    incidents,
    nps,
    repairs,
    retention,
    rootcause,
    store,
)
from analysis.config import load_params
from analysis.report import charts, tables
from analysis.report import format as F
from analysis.report import labels as L
from analysis.report.book import ReportBook
from analysis.report.data import ReportData, SectionDataMissing


def _scope_label(book: ReportBook, data: ReportData) -> str:
    return book.text("labels", "network") if data.is_network else data.region


def _title(book: ReportBook, key: str, **values) -> str:
    return book.text("tables", key, **values)


def title(book: ReportBook, data: ReportData) -> None:
    """The report's title and one line on how to read it."""
    book.heading(data.title_in(book.language))
    star = book.text("marks", "significant")
    book.note(book.text("notes", "how_to_read", mark=star,
                        level=F.percent(load_params("nps")["level"])))


def headline(book: ReportBook, data: ReportData) -> None:
    """Headline NPS with interval and change, and the 12-month dynamics."""
    lang = book.language
    with book.section(book.text("sections", "headline")):
        book.show(_title(book, "nps_month"), tables.headline_table(
            data.responses, month=data.month, invitations=data.invitations,
            label=_scope_label(book, data), language=lang))
        # the month-by-month series is store-wide work: it runs on the report's engine
        invitations = (None if data.invitations is None
                       else data.engine_source("invitations")["source"])
        monthly = data.engine.summarize(by=(), period="M", invitations=invitations,
                                        **data.engine_source())
        book.show(_title(book, "nps_by_month"), tables.series_table(monthly, language=lang))
        book.chart(charts.nps_errorbars(monthly, language=lang, title=book.text(
            "charts", "nps_by_month_title", first=data.months[0], last=data.month)))


def _by_group(book: ReportBook, data: ReportData, by: str, key: str) -> None:
    """NPS by one grouping column: the month with intervals, and the dynamics."""
    lang = book.language
    with book.section(book.text("sections", key)):
        book.show(_title(book, f"{key}_month"), tables.headline_table(
            data.responses, month=data.month, by=(by,), invitations=data.invitations,
            language=lang))
        book.chart(charts.nps_errorbars(nps.summarize(data.responses, by=(by,)), hue=by,
                                        language=lang,
                                        title=book.text("charts", f"{key}_title")))


def touchpoints(book: ReportBook, data: ReportData) -> None:
    """NPS by touchpoint: the month with intervals, and the dynamics."""
    _by_group(book, data, "touchpoint", "touchpoints")


def response_rates(book: ReportBook, data: ReportData) -> None:
    """Responses and response rate (responses / invitations) by month and touchpoint."""
    lang = book.language
    with book.section(book.text("sections", "response_rates")):
        data.require("invitations")
        table = nps.summarize(data.responses, by=("touchpoint",), period="M",
                              invitations=data.invitations)
        book.show(_title(book, "response_rates"), tables.response_rate_table(table,
                                                                             language=lang))
        book.chart(charts.response_rates(table, language=lang))


def regions(book: ReportBook, data: ReportData) -> None:
    """The regions side by side (the network's report only)."""
    _by_group(book, data, "region", "regions")


def dealers(book: ReportBook, data: ReportData, *, top: int = 30) -> None:
    """Dealer table and the ranking by shrunk NPS, with intervals and small-sample marks."""
    lang = book.language
    with book.section(book.text("sections", "dealers")):
        book.show(_title(book, "dealers_month"), tables.dealer_table(
            data.responses, month=data.month, dealers=data.dealers, language=lang))
        ranking = data.engine.rank_dealers(period=data.month, **data.engine_source())
        book.chart(charts.dealer_ranking(ranking, top=top, language=lang, title=book.text(
            "charts", "dealer_ranking_title", month=data.month, top=top)))


def loyalty_drivers(book: ReportBook, data: ReportData, *, n_boot: int = 200) -> None:
    """Which drivers move NPS (LMG share with intervals) and how that changes by month."""
    lang = book.language
    with book.section(book.text("sections", "loyalty_drivers")):
        current = drivers.relative_importance(
            data.current, target="nps", drivers=drivers.driver_names(), n_boot=n_boot,
            random_state=0)
        book.show(_title(book, "driver_importance", month=data.month,
                         r2=F.number(current.r2, 2), n=F.count(current.n)),
                  tables.importance_table(current, language=lang))
        by_month = drivers.importance_by_period(data.responses, period="M", n_boot=n_boot,
                                                random_state=0)
        book.chart(charts.importance_dynamics(by_month, language=lang))
        change = drivers.importance_change(data.responses, period="M", n_boot=n_boot,
                                           random_state=0)
        book.show(_title(book, "importance_change"),
                  tables.importance_change_table(change, language=lang))


def importance_performance(book: ReportBook, data: ReportData) -> None:
    """The importance-performance map of the report month."""
    lang = book.language
    with book.section(book.text("sections", "importance_performance")):
        table = drivers.importance_performance(data.current)
        book.show(_title(book, "importance_performance"),
                  tables.importance_performance_table(table, language=lang))
        book.chart(charts.importance_performance(table, language=lang))


def root_causes(book: ReportBook, data: ReportData) -> None:
    """What went wrong: comments below 9 clustered into causes, ranked by NPS impact."""
    lang = book.language
    with book.section(book.text("sections", "root_causes")):
        model = rootcause.make_model(random_state=0)
        causes = rootcause.label_responses(data.current, model)
        if causes.empty:
            book.note(book.text("notes", "no_comments", month=data.month))
            return
        book.show(_title(book, "cause_impact"), tables.impact_table(
            rootcause.top_causes(data.current, causes, model=model), language=lang))
        book.show(_title(book, "dealer_causes"), tables.cause_matrix_table(
            rootcause.dealer_cause_matrix(data.current, causes, value="impact"),
            language=lang), decimals=2, max_rows=30)


def growth_zones(book: ReportBook, data: ReportData) -> None:
    """TOP-20 dealers with growth zones, modelled on the whole network's 12 months."""
    lang = book.language
    top_n = int(load_params("growth")["top"])
    with book.section(book.text("sections", "growth_zones", n=top_n)):
        zones = growth.growth_zones(data.network, random_state=0)
        # a region's report keeps its own dealers, ranked within the whole network
        only = None if data.is_network else data.dealers["dealer_id"]
        top = tables.top_growth_table(zones, dealers=data.all_dealers, only=only,
                                      language=lang)
        if not data.is_network:
            book.note(book.text("notes", "region_in_top", region=data.region, n=top_n,
                                count=len(top)))
        book.show(_title(book, "growth_top", n=top_n), top)
        book.show(_title(book, "growth_table"), tables.growth_table(
            zones, dealers=data.all_dealers, only=only, language=lang), max_rows=20)
        ranking = growth.rank_dealers_by_driver(data.responses)
        book.show(_title(book, "driver_ranking"), tables.driver_ranking_table(
            ranking, dealers=data.dealers, language=lang), max_rows=40)


def css_index(book: ReportBook, data: ReportData) -> None:
    """The CSS weighted index per dealer vs previous month, region and nation."""
    with book.section(book.text("sections", "css")):
        attrs = list(load_params("css")["attributes"])
        if not set(attrs) <= set(data.responses) or data.current[attrs].isna().all().all():
            raise SectionDataMissing("css_ratings", data.month)
        book.show(_title(book, "css_by_dealer"), tables.css_table(
            data.responses, month=data.month, dealers=data.dealers, reference=data.network,
            language=book.language))


def red_flags(book: ReportBook, data: ReportData) -> None:
    """Red flags and the 72-hour contact SLA, by owner and dealer, with the overdue list."""
    lang = book.language
    hours = load_params("operations")["red_flags"]["sla_hours"]
    with book.section(book.text("sections", "red_flags", hours=f"{hours:g}")):
        data.require("cases")
        sla = cases.sla_report(data.current, data.cases, dealers=data.dealers)
        book.note(_sla_note(book, sla))
        book.show(_title(book, "sla_by_owner"), tables.sla_table(sla.by_owner, language=lang))
        book.show(_title(book, "sla_by_dealer"), tables.sla_table(sla.by_dealer, language=lang))
        book.chart(charts.sla_compliance(sla.by_dealer, language=lang))
        book.show(_title(book, "overdue_flags"),
                  tables.overdue_table(sla.flags, data.current, language=lang))


def _sla_note(book: ReportBook, sla: cases.SlaReport) -> str:
    row = sla.network.iloc[0]
    return book.text("notes", "sla", now=f"{sla.now:%Y-%m-%d %H:%M}", hours=f"{sla.sla_hours:g}",
                     **{k: F.count(row[k]) for k in ("flags", *cases.STATUSES, "no_case")},
                     compliance=F.percent(row["compliance"]),
                     interval=F.percent_interval(row["compliance_low"], row["compliance_high"]))


def golden_stars(book: ReportBook, data: ReportData, *, per_dealer: int = 3) -> None:
    """Promoters who praise named staff or the dealer, quotes masked."""
    with book.section(book.text("sections", "golden_stars")):
        stars = cases.golden_stars(data.current, dealers=data.dealers)
        book.show(_title(book, "golden_stars"), tables.golden_star_table(
            stars, per_dealer=per_dealer, language=book.language))


def incident_section(book: ReportBook, data: ReportData) -> None:
    """Complaints and thanks by channel and category, long-service reasons, closure SLA."""
    lang = book.language
    with book.section(book.text("sections", "incidents")):
        data.require("incidents")
        inc = incidents.incident_report(data.incidents, month=data.month)
        book.note(_incident_note(book, inc))
        book.show(_title(book, "complaints_by_channel"),
                  tables.incident_table(inc.counts, rows="channel", language=lang))
        book.chart(charts.incidents_by_month(inc.counts, hue="category", language=lang))
        book.show(_title(book, "long_service"), tables.reasons_table(inc.reasons, language=lang))
        book.show(_title(book, "closure"),
                  tables.closure_table(inc.closure_by_channel, language=lang))


def _incident_note(book: ReportBook, inc: incidents.IncidentReport) -> str:
    lang = book.language
    kinds = inc.closures["kind"].value_counts().sort_index()
    counts = ", ".join(f"{F.count(n)} {_kind(k, lang)}" for k, n in kinds.items())
    shares = "; ".join(
        f"{_kind(k, lang)}: {F.percent(row['share_within_sla'])} "
        f"{F.percent_interval(row['share_low'], row['share_high'])}"
        for k, row in inc.closure_by_kind.set_index("kind").iterrows())
    text = book.text("notes", "incidents", counts=counts, hours=f"{inc.sla_working_hours:g}",
                     shares=shares)
    if len(inc.reasons):
        top = inc.reasons.iloc[0]
        text += " " + book.text("notes", "main_reason", share=F.percent(top["share"]),
                                reason=L.name("reasons", top["reason"], language=lang))
    return text


def _kind(kind: str, language: str) -> str:
    return L.name("kinds", kind, language=language)


def repeat_repairs(book: ReportBook, data: ReportData) -> None:
    """Repeat repairs within the window by VIN, KPI by mechanic and foreman, survey reviews."""
    lang = book.language
    with book.section(book.text("sections", "repeat_repairs")):
        data.require("repair_orders")
        rr = repairs.monthly_report(data.repair_orders, month=data.month, dealers=data.dealers)
        book.note(_repeat_note(book, rr))
        book.show(_title(book, "repeats_by_dealer"),
                  tables.repeats_by_dealer_table(rr.by_dealer, language=lang))
        book.show(_title(book, "kpi_mechanics"),
                  tables.repeat_kpi_table(rr.kpi_mechanic, role="mechanic", language=lang))
        book.show(_title(book, "kpi_foremen"),
                  tables.repeat_kpi_table(rr.kpi_foreman, role="foreman", language=lang))
        book.show(_title(book, "repair_reviews"), tables.reviews_table(
            repairs.survey_repair_reviews(data.current, data.repair_orders), language=lang))


def _repeat_note(book: ReportBook, rr: repairs.MonthlyRepeatReport) -> str:
    orders = int(rr.by_dealer["orders"].sum())
    return book.text("notes", "repeat_repairs", month=rr.month, n=F.count(len(rr.pairs)),
                     days=rr.window_days, orders=F.count(orders),
                     rate=F.percent(len(rr.pairs) / orders if orders else None, 1),
                     mechanics=F.count((rr.kpi_mechanic["bonus_share"] == 0).sum()),
                     foremen=F.count((rr.kpi_foreman["bonus_share"] == 0).sum()))


def actions_review(book: ReportBook, data: ReportData) -> None:
    """Last month's improvement actions: completion, and the effect of each closed one against
    comparable dealers without such an action (difference in differences)."""
    lang = book.language
    with book.section(book.text("sections", "actions")):
        data.require("actions")
        month_end = pd.Period(data.month, freq="M").end_time
        by = ("region",) if data.is_network else ("dealer_id",)
        done = actions.completion(data.actions, by=by, dealers=data.dealers, as_of=month_end)
        book.show(_title(book, "action_completion"),
                  tables.completion_table(_with_names(done, data), language=lang))
        # the comparison dealers are the whole network's: a region's own may be too few
        review = actions.monthly_review(data.actions, data.network, month=data.month,
                                        dealers=data.all_dealers)
        if review.empty:
            book.note(book.text("notes", "no_actions", month=data.month))
            return
        measured = review["effect"].notna()
        book.note(book.text("notes", "actions", n=len(review), measured=int(measured.sum()),
                            effective=int(review.loc[measured, "effective"].astype(bool).sum()),
                            level=F.percent(load_params("loop")["actions"]["level"])))
        book.show(_title(book, "action_review"), tables.action_review_table(review, language=lang))
        if measured.any():
            book.chart(charts.action_effects(review, language=lang))


def _with_names(frame: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    if "dealer_id" not in frame:
        return frame
    names = data.all_dealers.drop_duplicates("dealer_id").set_index("dealer_id")["dealer_name"]
    return frame.assign(dealer_name=frame["dealer_id"].map(names).fillna(frame["dealer_id"]))


def customers(book: ReportBook, data: ReportData, *, top: int = 15) -> None:
    """New, returning and lost customers from repair orders by VIN; who comes back by NPS
    category, and what the detractors cost in workshop visits (value at stake)."""
    lang = book.language
    with book.section(book.text("sections", "customers")):
        data.require("repair_orders")
        loop = load_params("loop")
        flow = retention.customer_flow(data.repair_orders)
        book.chart(charts.customer_flow(flow, language=lang))
        book.show(_title(book, "customer_flow", month=data.month), tables.customer_flow_table(
            flow, month=data.month, dealers=data.dealers, language=lang), max_rows=top)
        # a return rate over `months` needs that many months of history after the answers:
        # the data the report reads allow one month less than they span
        span = data.responses["month"].nunique()
        months = max(1, min(int(loop["retention"]["months"]), span - 1))
        service = data.responses.loc[
            data.responses["touchpoint"] == loop["retention"]["touchpoint"]]
        rates = retention.return_rates(data.repair_orders, service, months=months)
        if rates["rate"].isna().all():
            book.note(book.text("notes", "no_return_history", months=months))
            return
        book.note(book.text("notes", "return_rates", months=months))
        book.show(_title(book, "return_rates", months=months),
                  tables.return_rate_table(rates, language=lang))
        book.chart(charts.return_rates(rates, language=lang))
        value = retention.value_at_stake(service, rates)
        book.note(book.text("notes", "value_at_stake",
                            visits=loop["value"]["visits_per_year"],
                            order=F.count(loop["value"]["average_order_value"])))
        book.show(_title(book, "value_at_stake"), tables.value_at_stake_table(
            value, dealers=data.dealers, language=lang), max_rows=top)
        # the call list itself (VINs, contacts) belongs to the team's own export, never here
        calls = retention.win_back(data.repair_orders, service,
                                   as_of=pd.Period(data.month, freq="M").end_time)
        book.note(book.text("notes", "win_back",
                            detractors=int((calls["reason"] == "detractor").sum()),
                            lapsed=int((calls["reason"] == "lapsed").sum()),
                            dealers=int(calls["dealer_id"].nunique())))


def survey_funnel(book: ReportBook, data: ReportData) -> None:
    """The call centre's funnel: contacts attempted, reached and answered by channel."""
    lang = book.language
    with book.section(book.text("sections", "funnel")):
        data.require("contacts")
        month = data.contacts.loc[data.contacts["month"] == data.month]
        if month.empty:
            raise SectionDataMissing("contacts", data.month)
        by_channel = funnel.funnel_rates(month, by=("channel",))
        book.show(_title(book, "funnel_by_channel"), tables.funnel_table(by_channel,
                                                                        language=lang))
        book.chart(charts.funnel_rates(by_channel, language=lang))
        book.show(_title(book, "channel_differences"), tables.channel_difference_table(
            funnel.channel_differences(month), language=lang))
        by_dealer = funnel.funnel_rates(month, by=("dealer_id",))
        book.show(_title(book, "funnel_by_dealer"), tables.funnel_table(
            by_dealer, by="dealer_id", dealers=data.dealers, language=lang), max_rows=20)


def data_quality(book: ReportBook, data: ReportData) -> None:
    """Appendix: rows read, accepted and quarantined per ingested file."""
    from analysis.ingest import quarantine_summary

    with book.section(book.text("sections", "data_quality")):
        quality = quarantine_summary(data.data_dir)
        if quality.empty:
            book.note(book.text("notes", "no_exports"))
        else:
            book.show(_title(book, "data_quality"),
                      tables.quality_table(quality, language=book.language))
        book.note(book.text("notes", "answers", current=F.count(len(data.current)),
                            month=data.month, total=F.count(len(data.responses)),
                            months=len(data.months)))
        book.note(store.describe_versions(data.data_dir))


# --- the dealer one-pager (notebooks/explore/dealer_onepager) --------------------------------

def dealer_scope(data: ReportData, dealer_id: str = "") -> ReportData:
    """The report data narrowed to one dealer ("" = the dealer with most answers in the month).

    ``network_responses`` keeps the whole network, so the dealer is compared with its region
    and the network and its growth zones use the network-wide model.
    """
    from dataclasses import replace

    if not dealer_id:
        dealer_id = data.current["dealer_id"].value_counts().idxmax()
    if dealer_id not in set(data.dealers["dealer_id"]):
        scope = "network" if data.is_network else data.region
        raise ValueError(f"dealer {dealer_id!r} is not in {scope}; known dealers: "
                         f"{sorted(data.dealers['dealer_id'])[:20]}...")

    def only(frame):
        return None if frame is None else frame.loc[frame["dealer_id"] == dealer_id]

    return replace(data, responses=only(data.responses), invitations=only(data.invitations),
                   cases=only(data.cases), repair_orders=only(data.repair_orders),
                   incidents=only(data.incidents), actions=only(data.actions),
                   contacts=only(data.contacts), dealers=only(data.dealers),
                   network_responses=data.network, network_dealers=data.all_dealers,
                   dealer_id=dealer_id)


def dealer_vs_peers(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's NPS and mean driver ratings next to its region and the network."""
    lang = book.language
    with book.section(book.text("sections", "dealer_vs_peers")):
        row = dealer.dealers.iloc[0]
        network = dealer.network
        scopes = {row["dealer_name"]: dealer.responses,
                  book.text("labels", "region", region=row["region"]):
                  network.loc[network["region"] == row["region"]],
                  book.text("labels", "network"): network}
        book.show(_title(book, "nps_month"), pd.concat(
            [tables.headline_table(frame, month=dealer.month, label=name, language=lang)
             for name, frame in scopes.items()], ignore_index=True))
        means = drivers.mean_ratings(scopes, month=dealer.month)
        book.show(_title(book, "driver_means"), tables.driver_means_table(means, language=lang),
                  decimals=2)


def dealer_growth_zones(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's drivers: gap to the benchmark and the modelled NPS uplift."""
    with book.section(book.text("sections", "dealer_growth_zones")):
        zones = growth.growth_zones(dealer.network, random_state=0)
        book.show(_title(book, "dealer_uplift"), tables.growth_table(
            zones, dealers=dealer.all_dealers, only=[dealer.dealers["dealer_id"].iloc[0]],
            language=book.language))


__all__ = ["title", "headline", "touchpoints", "response_rates", "regions", "dealers", "loyalty_drivers",
           "importance_performance", "root_causes", "growth_zones", "css_index", "red_flags",
           "golden_stars", "incident_section", "repeat_repairs", "actions_review", "customers",
           "survey_funnel", "data_quality", "dealer_scope",
           "dealer_vs_peers", "dealer_growth_zones"]
