"""The sections of the monthly reports, in the order of the importer's deck.

Each section takes the report's :class:`~analysis.reports.ReportBook` and
:class:`~analysis.reports.ReportData`, shows its tables through the book (escaped, masked,
kept for the Excel workbook) and draws its charts on new figures; the notebook only calls
them, one cell per section. A section whose data is absent says so in one line.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis import cases, css, drivers, growth, incidents, nps, plots, repairs, rootcause, store
from analysis.config import load_params
from analysis.reports import ReportBook, ReportData


def _scope_label(data: ReportData) -> str:
    return "Network" if data.is_network else data.region


def headline(book: ReportBook, data: ReportData) -> None:
    """Headline NPS with interval and change, and the 12-month dynamics."""
    with book.section("Headline NPS and its dynamics"):
        book.show("NPS in the report month", nps.headline(
            data.responses, month=data.month, invitations=data.invitations,
            label=_scope_label(data)))
        # the month-by-month series is store-wide work: it runs on the report's engine
        invitations = (None if data.invitations is None
                       else data.engine_source("invitations")["source"])
        monthly = data.engine.summarize(by=(), period="M", invitations=invitations,
                                        **data.engine_source())
        book.show("NPS by month", monthly)
        plots.nps_errorbars(monthly, title=f"NPS by month, {data.months[0]} - {data.month}")


def touchpoints(book: ReportBook, data: ReportData) -> None:
    """NPS by touchpoint: the month with intervals, and the dynamics."""
    with book.section("By touchpoint"):
        book.show("NPS by touchpoint", nps.headline(
            data.responses, month=data.month, by=("touchpoint",), invitations=data.invitations))
        plots.nps_errorbars(nps.summarize(data.responses, by=("touchpoint",)), hue="touchpoint",
                            title="NPS by touchpoint and month")


def response_rates(book: ReportBook, data: ReportData) -> None:
    """Responses and response rate (responses / invitations) by month and touchpoint."""
    with book.section("Responses and response rate"):
        data.require("invitations")
        table = nps.summarize(data.responses, by=("touchpoint",), period="M",
                              invitations=data.invitations)
        wide = (table.assign(period=table["period"].astype(str))
                .pivot_table(index="period", columns="touchpoint",
                             values=["n", "response_rate"], observed=True))
        book.show("Responses and response rate by month", wide.round(3))
        _, ax = plt.subplots(figsize=(9, 3.5))
        rate = table.assign(month=table["period"].astype(str),
                            rate=100 * table["response_rate"])
        sns.lineplot(data=rate, x="month", y="rate", hue="touchpoint", marker="o", ax=ax)
        ax.set(xlabel="", ylabel="Response rate, %", title="Response rate by touchpoint")
        ax.tick_params(axis="x", rotation=45)


def regions(book: ReportBook, data: ReportData) -> None:
    """Network report: the regions side by side."""
    with book.section("Regions"):
        book.show("Regions in the report month", nps.headline(
            data.responses, month=data.month, by=("region",), invitations=data.invitations))
        plots.nps_errorbars(nps.summarize(data.responses, by=("region",)), hue="region",
                            title="NPS by region and month")


def dealers(book: ReportBook, data: ReportData, *, top: int = 30) -> None:
    """Dealer table and the ranking by shrunk NPS, with intervals and small-sample marks."""
    with book.section("Dealers and ranking"):
        book.show("Dealers in the report month", nps.dealer_table(
            data.responses, month=data.month, dealers=data.dealers))
        ranking = data.engine.rank_dealers(period=data.month, **data.engine_source())
        plots.dealer_ranking(ranking, top=top,
                             title=f"Dealer ranking, {data.month} (shrunk NPS, top {top})")


def loyalty_drivers(book: ReportBook, data: ReportData, *, n_boot: int = 200) -> None:
    """Which drivers move NPS (LMG share with intervals) and how that changes by month."""
    with book.section("Loyalty drivers"):
        current = drivers.relative_importance(
            data.current, target="nps", drivers=list(drivers.driver_labels()), n_boot=n_boot,
            random_state=0)
        book.show(f"Driver importance, {data.month} (R2 = {current.r2:.2f}, "
                  f"n = {current.n})", drivers.importance_display(current))
        by_month = drivers.importance_by_period(data.responses, period="M", n_boot=n_boot,
                                                random_state=0)
        drivers.plot_importance_dynamics(by_month)
        change = drivers.importance_change(data.responses, period="M", n_boot=n_boot,
                                           random_state=0)
        book.show("Did importance really change vs the previous month?",
                  drivers.change_display(change))


def importance_performance(book: ReportBook, data: ReportData) -> None:
    """The importance-performance map of the report month."""
    with book.section("Importance-performance map"):
        table = drivers.importance_performance(data.current)
        labels = drivers.driver_labels()
        book.show("Importance and performance", table.assign(
            driver=table["driver"].map(labels)))
        _, ax = plt.subplots(figsize=(7, 5))
        drivers.plot_importance_performance(table, labels=labels, ax=ax)


def root_causes(book: ReportBook, data: ReportData) -> None:
    """What went wrong: comments below 9 clustered into causes, ranked by NPS impact."""
    with book.section("What went wrong: root causes of answers below 9"):
        model = rootcause.make_model(random_state=0)
        causes = rootcause.label_responses(data.current, model)
        if causes.empty:
            book.note(f"No comments below 9 in {data.month}.")
            return
        book.show("Causes by NPS impact (points the month loses to each cause)",
                  rootcause.impact_table(data.current, causes, model=model))
        book.show("Dealers x causes: NPS impact", rootcause.dealer_cause_matrix(
            data.current, causes, value="impact"), float_format="{:.2f}", max_rows=30)


def growth_zones(book: ReportBook, data: ReportData) -> None:
    """TOP-20 dealers with growth zones, modelled on the whole network's 12 months."""
    with book.section("TOP-20 dealers with growth zones"):
        zones = growth.growth_zones(data.network, random_state=0)
        top = growth.top_display(zones, dealers=data.all_dealers)
        if not data.is_network:
            top = top.loc[top["Region"] == data.region]
            book.note(f"Dealers of {data.region} among the network's TOP-20: {len(top)}.")
        book.show("TOP-20 growth zones", top)
        table = growth.growth_table_display(zones, dealers=data.all_dealers)
        if not data.is_network:
            table = table.loc[table["Region"] == data.region]
        book.show("Growth zones, every dealer and driver", table, max_rows=20)
        ranking = growth.rank_dealers_by_driver(data.responses)
        book.show("Dealers ranked on each driver", growth.ranking_display(
            ranking, dealers=data.dealers), max_rows=40)


def css_index(book: ReportBook, data: ReportData) -> None:
    """The CSS weighted index per dealer vs previous month, region and nation."""
    with book.section("Service satisfaction index (CSS)"):
        attrs = list(load_params("css")["attributes"])
        if not set(attrs) <= set(data.responses) or data.current[attrs].isna().all().all():
            from analysis.reports import SectionDataMissing

            raise SectionDataMissing(f"No CSS ratings for {data.month} in this data set.")
        book.show("CSS by dealer", css.css_table(data.responses, month=data.month,
                                                 dealers=data.dealers, reference=data.network))


def red_flags(book: ReportBook, data: ReportData) -> None:
    """Red flags and the 72-hour contact SLA, by owner and dealer, with the overdue list."""
    with book.section("Red flags and the 72-hour SLA"):
        data.require("cases")
        sla = cases.sla_report(data.current, data.cases, dealers=data.dealers)
        book.note(sla.summary())
        book.show("SLA by owner", cases.sla_table(sla.by_owner))
        book.show("SLA by dealer", cases.sla_table(sla.by_dealer))
        cases.plot_sla_compliance(sla.by_dealer)
        book.show("Open and overdue red flags", cases.overdue_flags(sla.flags, data.current))


def golden_stars(book: ReportBook, data: ReportData, *, per_dealer: int = 3) -> None:
    """Promoters who praise named staff or the dealer, quotes masked."""
    with book.section("Golden stars"):
        stars = cases.golden_stars(data.current, dealers=data.dealers)
        book.show("Golden stars", cases.golden_star_table(stars, per_dealer=per_dealer))


def incident_section(book: ReportBook, data: ReportData) -> None:
    """Complaints and thanks by channel and category, long-service reasons, closure SLA."""
    with book.section("Incidents"):
        data.require("incidents")
        inc = incidents.incident_report(data.incidents, month=data.month)
        book.note(inc.summary())
        book.show("Complaints by channel and category",
                  incidents.incident_table(inc.counts, rows="channel"))
        incidents.plot_incidents_by_month(inc.counts, hue="category")
        book.show("Why service took long", incidents.reasons_table(inc.reasons))
        book.show("Closure within the SLA (working hours)",
                  incidents.closure_table(inc.closure_by_channel))


def repeat_repairs(book: ReportBook, data: ReportData) -> None:
    """Repeat repairs within the window by VIN, KPI by mechanic and foreman, survey reviews."""
    with book.section("Repeat repairs"):
        data.require("repair_orders")
        rr = repairs.monthly_report(data.repair_orders, month=data.month, dealers=data.dealers)
        book.note(rr.summary())
        book.show("Repeat repairs by dealer", rr.by_dealer)
        book.show("KPI: mechanics", repairs.kpi_display(rr.kpi_mechanic, role="mechanic"))
        book.show("KPI: foremen", repairs.kpi_display(rr.kpi_foreman, role="foreman"))
        book.show("Survey answers that open a repeat-repair review",
                  repairs.reviews_table(repairs.survey_repair_reviews(data.current,
                                                                      data.repair_orders)))


def data_quality(book: ReportBook, data: ReportData) -> None:
    """Appendix: rows read, accepted and quarantined per ingested file."""
    from analysis.ingest import quarantine_summary

    with book.section("Appendix: data quality"):
        quality = quarantine_summary(data.data_dir)
        if quality.empty:
            book.note("No exports were ingested into this data directory.")
        else:
            book.show("Rows read, accepted and quarantined", quality.drop(
                columns=["quarantine_file"], errors="ignore"))
        book.note(f"Answers in this report: {len(data.current)} in {data.month}, "
                  f"{len(data.responses)} over {len(data.months)} months.")
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
        raise ValueError(f"dealer {dealer_id!r} is not in {_scope_label(data)}; known dealers: "
                         f"{sorted(data.dealers['dealer_id'])[:20]}...")

    def only(frame):
        return None if frame is None else frame.loc[frame["dealer_id"] == dealer_id]

    return replace(data, responses=only(data.responses), invitations=only(data.invitations),
                   cases=only(data.cases), repair_orders=only(data.repair_orders),
                   incidents=only(data.incidents), dealers=only(data.dealers),
                   network_responses=data.network, network_dealers=data.all_dealers,
                   dealer_id=dealer_id)


def dealer_vs_peers(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's NPS and mean driver ratings next to its region and the network."""
    with book.section("The dealer against its region and the network"):
        row = dealer.dealers.iloc[0]
        network = dealer.network
        scopes = {row["dealer_name"]: dealer.responses,
                  f"Region {row['region']}": network.loc[network["region"] == row["region"]],
                  "Network": network}
        book.show("NPS in the report month", pd.concat(
            [nps.headline(frame, month=dealer.month, label=name)
             for name, frame in scopes.items()], ignore_index=True))
        labels = drivers.driver_labels()
        means = pd.DataFrame({name: frame.loc[frame["month"] == dealer.month, list(labels)]
                              .mean() for name, frame in scopes.items()})
        book.show("Mean driver ratings (1-10)", means.rename(index=labels).rename_axis("driver"),
                  float_format="{:.2f}")


def dealer_growth_zones(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's drivers: gap to the benchmark and the modelled NPS uplift."""
    with book.section("Growth zones"):
        zones = growth.growth_zones(dealer.network, random_state=0)
        table = growth.growth_table_display(zones, dealers=dealer.all_dealers)
        book.show("Drivers by modelled uplift", table.loc[
            table["Dealer ID"] == dealer.dealers["dealer_id"].iloc[0]])


__all__ = ["headline", "touchpoints", "response_rates", "regions", "dealers", "loyalty_drivers",
           "importance_performance", "root_causes", "growth_zones", "css_index", "red_flags",
           "golden_stars", "incident_section", "repeat_repairs", "data_quality", "dealer_scope",
           "dealer_vs_peers", "dealer_growth_zones"]
