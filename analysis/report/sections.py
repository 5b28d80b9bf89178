"""The sections of the monthly report, in the order of the importer's deck.

Each section takes the report's :class:`~analysis.report.book.ReportBook` and
:class:`~analysis.report.data.ReportData`. This module is where the report asks for its
numbers: of the report's engine (``data.engine``: NPS summaries, the dealer ranking) or the
statistics modules, once per report (:meth:`ReportData.memo`), with the report's settings
(``data.settings``: level, q, star scope, bootstrap draws, margins). It hands the resulting
frames and objects to the tables module (what to show) and the charts module (what to draw),
which only format and draw (tests/test_layering.py checks that no other report module
computes). Words come from the catalogue and numbers from the book's formatter
(``book.format``), in the book's language. The notebook only calls the sections, one cell
each. A section whose data is absent says so in one line; one that fails shows one line and
logs its traceback (:meth:`ReportBook.section`).
"""

from __future__ import annotations

from dataclasses import replace

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
    stars,
    store,
    table_specs,
)
from analysis.config import load_params
from analysis.report import catalogue as L
from analysis.report import charts, rules, shared, tables
from analysis.report import format as F
from analysis.report.book import ReportBook
from analysis.report.data import ReportData, SectionDataMissing


def _scope_label(book: ReportBook, data: ReportData) -> str:
    if data.dealer_id is not None:  # a dealer's page: its row is the dealer's
        return data.dealer_name
    return book.text("labels", "network") if data.is_network else data.region


def table_title(book: ReportBook, key: str, **values) -> str:
    """A table's title; its sheet in the workbook gets the catalogue's short name."""
    title = book.text("tables", key, **values)
    if L.has("sheets", key):
        book.sheets[title] = book.text("sheets", key, **values)
    return title


def title(book: ReportBook, data: ReportData) -> None:
    """The report's title and one line on how to read it, with the rule its stars follow
    (computed here, before the other sections: :func:`star_rule`)."""
    book.heading(data.title_in(book.language))
    star = book.text("marks", "significant")
    rule = star_rule(data) if not data.current.empty else None
    book.note(book.text("notes", "how_to_read", mark=star,
                        level=book.format.percent(data.settings.level),
                        rule=rules.rule_text(rule, language=book.language,
                                             settings=data.settings)))


def _driver_cluster() -> str | None:
    """The column whose groups the driver bootstrap resamples whole (params/drivers.yaml)."""
    return load_params("drivers").get("bootstrap_cluster")


def _star_tables(data: ReportData) -> dict:
    """The frames of every test the report stars (:func:`analysis.stars.report_tables`), once
    per report; the sections show these same frames."""
    def compute():
        causes = _cause_tests(data)
        if data.dealer_id is not None:  # a dealer's page stars its own tests only
            return {**_dealer_star_tables(data), **stars.cause_tables(causes)}
        return stars.report_tables(
            data.responses, month=data.month, network=data.is_network, reference=data.network,
            n_boot=data.settings.n_boot, cluster=_driver_cluster(), monthly=_monthly(data),
            ranking=_ranking(data), causes=causes)

    return data.memo("star_tables", compute)


def star_rule(data: ReportData) -> stars.StarRule:
    """The report's star rule, computed once per report before its sections run: one
    Benjamini-Hochberg family over every p-value the report shows (params/flags.yaml
    ``scope: report``), or each table's own flags (``scope: table``). Every section passes
    it to :func:`analysis.report.rules.significant` through its tables and charts. A rule
    that cannot be built fails the section asking for it, loudly (the book shows one line and
    logs the traceback): a table starred by another rule than the report states would say
    something the report does not."""
    return data.memo("star_rule", lambda: stars.StarRule.of(
        stars.family_p_values(_star_tables(data)), settings=data.settings))


def _monthly(data: ReportData) -> pd.DataFrame:
    """The scope's NPS by month (store-wide work on the report's engine), once per report."""
    return _summary(data, ())


def _summary(data: ReportData, by: tuple[str, ...]) -> pd.DataFrame:
    """The scope's NPS by ``by`` and month with the response rate, asked of the report's
    engine once per report (:func:`analysis.nps.summarize`): the tables and charts of the
    grouping show this one frame."""
    def compute():
        invitations = (None if data.invitations is None
                       else data.engine_source("invitations")["source"])
        return data.engine.summarize(by=by, period="M", invitations=invitations,
                                     settings=data.settings, **data.engine_source())

    return data.memo(f"summary {by}", compute)


def _weighted(data: ReportData, by: tuple[str, ...]) -> pd.DataFrame | None:
    """:func:`analysis.nps.summarize_weighted` of the scope by ``by`` and month (every
    dealer x touchpoint cell weighted by its invitations), or None without invitations that
    name the cells; once per report."""
    def compute():
        cells = ("dealer_id", "touchpoint")
        invitations = data.invitations
        if invitations is None or invitations.empty or not (
                {*by, *cells, "month", "invited"} <= set(invitations)
                and {*by, *cells} <= set(data.responses)):
            return None
        return data.engine.summarize_weighted(
            invitations=data.engine_source("invitations")["source"], by=by,
            settings=data.settings, **data.engine_source())

    return data.memo(f"weighted {by}", compute)


def _ranking(data: ReportData) -> pd.DataFrame:
    return data.memo("ranking", lambda: data.engine.rank_dealers(
        period=data.month, settings=data.settings, **data.engine_source()))


def headline(book: ReportBook, data: ReportData) -> None:
    """Headline NPS with interval and change, and the 12-month trend with its band."""
    lang = book.language
    with book.section(book.text("sections", "headline")):
        data.require_section("headline")  # a scope without answers this month (a dealer's)
        rule = star_rule(data)
        monthly = _monthly(data)
        book.show(table_title(book, "nps_month"), tables.headline_table(
            monthly, month=data.month, weighted=_weighted(data, ()),
            label=_scope_label(book, data), language=lang, rule=rule,
            settings=data.settings))
        trend = data.need("trend")
        if not trend.ok:  # no change to show: say why, in the coverage's words
            book.note(book.coverage_line(trend, data.month))
        if len(monthly) > 1:
            book.chart(charts.nps_trend(monthly, language=lang, rule=rule,
                                        settings=data.settings, title=book.text(
                "charts", "nps_by_month_title", first=book.format.month(monthly["period"].min()),
                last=book.format.month(data.month))))  # the months drawn, not the months asked for
        book.charts["nps_trend"] = _trend_sheet(monthly, lang)
        # the chart shows the months; their table is for the workbook
        book.show(table_title(book, "nps_by_month"), tables.series_table(
            monthly, language=lang, rule=rule, settings=data.settings),
                  html=False)


def _trend_sheet(monthly: pd.DataFrame, language: str) -> pd.DataFrame:
    c = L.columns(language)
    return pd.DataFrame({
        c("month"): pd.PeriodIndex(monthly["period"].astype(str), freq="M"),
        "NPS": monthly["nps"].round(1).to_numpy(),
        c("low"): monthly["nps_low"].round(1).to_numpy(),
        c("high"): monthly["nps_high"].round(1).to_numpy(),
    })


# --- the summary -----------------------------------------------------------------------------

def summary(book: ReportBook, data: ReportData) -> None:
    """What changed and what to do, in plain words, from the numbers of the other sections.

    Nothing is called a change unless it passes :func:`analysis.report.rules.significant`.
    """
    with book.section(book.text("sections", "summary")):
        if data.current.empty:
            raise SectionDataMissing("responses", data.month)
        facts, actions = [], []
        for part in (_summary_headline, _summary_dealers, _summary_alarms, _summary_cause,
                     _summary_growth, _summary_flags):
            try:
                fact, todo = part(book, data)
            except SectionDataMissing:  # its own section says what is missing
                continue
            except Exception as error:  # noqa: BLE001 - said and logged; the other facts stay
                book.failed(f"{book.text('sections', 'summary')}: {part.__name__}", error)
                continue
            facts += [fact] if fact else []
            actions += todo
        book.bullets(facts)  # the star rule is stated once, under the title
        book.subheading(book.text("summary", "to_do"))
        book.bullets(actions[:6] or [book.text("summary", "no_actions")], ordered=True)


def _summary_headline(book: ReportBook, data: ReportData):
    monthly = _monthly(data).sort_values("period")
    now = monthly.iloc[-1]
    values = dict(nps=book.format.nps(now["nps"]), interval=book.format.interval(now["nps_low"], now["nps_high"],
                                                            sign=True),
                  month=book.format.month(data.month))
    if len(monthly) < 2:
        return book.text("summary", "headline_first_month", **values), []
    if F.is_missing(now.get("change_vs_previous")):
        return book.text("summary", "headline_first", **values), []
    verdict = rules.evidence(monthly.tail(1), "change", rule=star_rule(data),
                             settings=data.settings).iloc[0]
    change = float(now["change_vs_previous"])
    values.update(previous=book.format.month(monthly["period"].iloc[-2]))
    if verdict == "real":
        return book.text("summary", "headline_changed", direction=book.text(
            "summary", "up" if change > 0 else "down"), change=book.format.number(abs(change)),
            **values), []
    # "no change" only where the interval rules a material change out; else say what is known
    return book.text("summary", f"headline_{verdict}", change=book.format.signed(change),
                     change_interval=book.format.interval(now["change_low"], now["change_high"],
                                                sign=True),
                     margin=book.format.number(data.settings.margin(), 0), **values), []


def _summary_dealers(book: ReportBook, data: ReportData):
    # "steady" or "moved" are claims about a change: they need two dealers and a month before
    if not (data.need("dealers").ok and data.need("trend").ok):
        return None, []
    ranking = _ranking(data)
    verdicts = rules.evidence(ranking, "change", rule=star_rule(data), settings=data.settings)
    moved = ranking.loc[verdicts == "real"].sort_values("change_vs_previous")
    if moved.empty:  # none starred: say how many could still have moved
        open_ = int(verdicts.isin(["unclear", "not_in_family"]).sum())
        key = "dealers_unclear" if open_ else "dealers_none"
        return book.text("summary", key, unclear=open_, n=len(ranking),
                         margin=book.format.number(data.settings.margin(), 0)), []
    names = moved["dealer_name"].fillna(moved["dealer_id"]).map(lambda n: _mask(n, book.language))
    shown = [f"{n} {book.format.signed(c)}" for n, c in zip(names, moved["change_vs_previous"],
                                                  strict=True)][:6]
    actions = [book.text("summary", "act_dealer", dealer=n, change=book.format.number(abs(c)),
                         nps=book.format.nps(v))
               for n, c, v in zip(names, moved["change_vs_previous"], moved["nps"],
                                  strict=True) if c < 0][:2]
    return book.text("summary", "dealers_moved", list=", ".join(shown)), actions


def _summary_alarms(book: ReportBook, data: ReportData):
    """The sustained-change alarms of the scope (:meth:`ReportData.alarms`), the strongest
    first; a dealer's touchpoint only where the dealer itself is not alarmed the same way."""
    found = data.alarms().alarms
    if found.empty:
        return book.text("summary", "no_alarms"), []
    whole = set(zip(found.loc[found["level"] == "dealer", "dealer_id"],
                    found.loc[found["level"] == "dealer", "direction"], strict=True))
    shown = found.loc[[not (lv == "dealer_touchpoint" and (d, r) in whole) for lv, d, r in zip(
        found["level"], found["dealer_id"], found["direction"], strict=True)]].head(6)
    items, actions = [], []
    for row in shown.itertuples():
        values = dict(unit=_alarm_unit(book, data, row),
                      change=book.format.number(int(round(abs(row.change)))),
                      month=book.format.month_since(row.start))
        items.append(book.text("summary", f"alarm_{row.direction}", **values))
        if row.direction == "drop" and len(actions) < 2:
            actions.append(book.text("summary", "act_alarm", **values))
    return book.text("summary", "alarms", list="; ".join(items)), actions


def _alarm_unit(book: ReportBook, data: ReportData, row) -> str:
    """The unit of an alarm in words: the network, a touchpoint, a region, a dealer (masked
    as dealer names are in the summary) or a dealer's touchpoint."""
    touchpoint = (L.name("touchpoints", row.touchpoint, language=book.language)
                  if isinstance(row.touchpoint, str) else None)
    if row.level in ("network", "touchpoint"):
        return touchpoint or book.text("labels", "network")
    if row.level == "region":
        return book.text("labels", "region", region=row.region)
    names = data.all_dealers.set_index("dealer_id")["dealer_name"] if (
        "dealer_name" in data.all_dealers) else pd.Series(dtype="str")
    dealer = _mask(names.get(row.dealer_id, row.dealer_id), book.language)
    if touchpoint is None:
        return dealer
    return book.text("summary", "alarm_at", touchpoint=touchpoint, dealer=dealer)


def _mask(text, language: str) -> str:
    from analysis.privacy import mask_pii

    return L.masked(mask_pii(str(text)), language=language)


def _learned(data: ReportData):
    """The network's causes learnt from the team's labels (shared by the batch), or None."""
    return data.memo("learned", lambda: shared.learned_causes(data))


def _model_labels(data: ReportData, frame: pd.DataFrame):
    """The network's clustering of the month (shared) applied to ``frame``: its causes and
    the model, or None without a model or comments."""
    model = shared.cause_model(data)
    if model is None:
        return None
    try:
        return rootcause.label_responses(frame, model, refit=False), model
    except rootcause.RootCauseError:
        return None


def _labels(data: ReportData, month: str):
    """The cause of each commented answer of ``month`` in scope and the clustering that named
    them (None where they are the team's labels and the classifier's suggestions), or None;
    once per report and month (the summary and the root-cause section read them)."""
    def compute():
        frame = data.responses.loc[data.responses["month"] == month]
        learned = _learned(data)
        if learned is not None and month in learned.months:
            # the team's labels where it gave one, the classifier's suggestion elsewhere
            return learned.causes(frame), None
        return _model_labels(data, frame)

    return data.memo(f"labels {month}", compute)


def cause_comparison(data: ReportData) -> rootcause.CauseComparison | None:
    """The month's causes of the scope with their tests (:func:`analysis.rootcause.
    compare_causes`: the costliest against the next, each cause's change from the month
    before), or None without causes this month; once per report."""
    def compute():
        if not data.need("root_causes").ok:
            return None
        found = _labels(data, data.month)
        if found is None or found[0].empty:
            return None
        month = data.responses["month"]
        previous = str(pd.Period(data.month, freq="M") - 1)
        before = _labels(data, previous) if previous in set(data.months) else None
        if before is None or before[0].empty:
            before = None
        return rootcause.compare_causes(
            data.responses.loc[month == data.month], found[0],
            previous=None if before is None else data.responses.loc[month == previous],
            previous_labels=None if before is None else before[0])

    return data.memo("cause comparison", compute)


def _cause_tests(data: ReportData):
    """:func:`cause_comparison` for the report's family of tests; None when the causes
    cannot be computed (the root-cause section then says why): the rest of the report's
    stars do not depend on them."""
    try:
        return cause_comparison(data)
    except Exception:  # noqa: BLE001 - the other families still make the rule
        return None


def cause_verdict(data: ReportData) -> rules.CauseVerdict | None:
    """What the report says about its causes (:func:`analysis.report.rules.cause_verdict`
    under the report's star rule), or None without causes; once per report. The summary, the
    root-cause section and its table word this verdict; none decides it again."""
    def compute():
        comparison = cause_comparison(data)
        if comparison is None:
            return None
        verdict = rules.cause_verdict(comparison, rule=star_rule(data), settings=data.settings)
        # a discovered cluster is named by its top words (a taxonomy cause by the catalogue)
        _, model = _labels(data, data.month)
        words = ({} if model is None else
                 model.clusters_.set_index("cluster")["label"].astype(str).to_dict())
        return replace(verdict, causes=verdict.causes.assign(
            label=[words.get(c, "") for c in verdict.causes["cause"]]))

    return data.memo("cause verdict", compute)


def cause_sentence(book: ReportBook, verdict: rules.CauseVerdict) -> str:
    """The verdict in the book's words: the costliest cause, or the top causes that cost
    about the same or cannot be told apart yet, each with its change from last month."""
    named = verdict.named
    first = named.iloc[0]
    if verdict.lead in ("clear", "only"):
        values = dict(cause=cause_name(book, first), impact=book.format.number(-first["contribution"]),
                      share=book.format.percent(first["share"]), trend=_cause_trend(book, first, verdict))
        if verdict.lead == "only":
            return book.text("summary", "cause_only", **values)
        lead = verdict.lead_test.iloc[0]
        runner = verdict.causes.loc[verdict.causes["cause"] == lead["runner_up"]].iloc[0]
        # in points of cost (contributions are negative): how much more the first costs
        return book.text("summary", "cause", next=cause_name(book, runner),
                         difference=book.format.number(-lead["difference"]),
                         interval=book.format.interval(-lead["difference_high"], -lead["difference_low"],
                                             sign=True), **values)
    items = "; ".join(book.text("summary", "cause_item", cause=cause_name(book, row),
                                impact=book.format.number(-row["contribution"]),
                                trend=_cause_trend(book, row, verdict))
                      for _, row in named.iterrows())
    if verdict.lead == "same":
        return book.text("summary", "causes_same", n=len(named), list=items,
                         margin=book.format.number(verdict.margin))
    lead = verdict.lead_test.iloc[0]
    return book.text("summary", "causes_unclear", n=len(named), list=items,
                     difference=book.format.number(-lead["difference"]),
                     interval=book.format.interval(-lead["difference_high"], -lead["difference_low"],
                                         sign=True))


def cause_name(book: ReportBook, row) -> str:
    return charts.cause_text(row["cause"], row.get("label", ""), book.language)


def _cause_trend(book: ReportBook, row, verdict: rules.CauseVerdict) -> str:
    """How a named cause compares with last month, as the verdict's trend allows ("" without
    a month before); the change in points of cost, with its interval."""
    key = {"more": "cause_grew", "less": "cause_fell", "same": "cause_steady",
           "unclear": "cause_unclear"}.get(row["trend"])
    if key is None:
        return ""
    return book.text("summary", key, before=book.format.number(-row["previous_contribution"]),
                     change=book.format.signed(-row["change"]),
                     interval=book.format.interval(-row["change_high"], -row["change_low"], sign=True),
                     margin=book.format.number(verdict.margin))


def _summary_cause(book: ReportBook, data: ReportData):
    verdict = cause_verdict(data)
    if verdict is None or verdict.causes.empty:
        return None, []
    named = verdict.named
    if verdict.lead in ("clear", "only"):
        action = book.text("summary", "act_cause", cause=cause_name(book, named.iloc[0]),
                           impact=book.format.number(-named["contribution"].iloc[0]))
    else:
        action = book.text("summary", "act_causes",
                           list=", ".join(cause_name(book, row) for _, row in named.iterrows()),
                           impact=book.format.number(-named["contribution"].sum()))
    return cause_sentence(book, verdict), [action]


def _summary_growth(book: ReportBook, data: ReportData):
    if not data.need("growth_zones").ok:
        return None, []
    result = shared.growth_result(data)
    top = result.top()
    if not data.is_network:
        top = top.loc[top["dealer_id"].isin(data.dealers["dealer_id"])]
    top = top.loc[top["zone"] == 1].head(3)
    if top.empty:
        return None, []
    names = data.all_dealers.set_index("dealer_id")["dealer_name"]
    # current -> benchmark in the driver's own scale, named with it when the scales differ
    drivers_ = tables.driver_labels(result.drivers, scales=result.scales,
                                    language=book.language)
    items, actions = [], []
    for row in top.itertuples(index=False):
        dealer = _mask(names.get(row.dealer_id, row.dealer_id), book.language)
        driver = drivers_.get(row.driver, row.driver)
        items.append(f"{dealer} – {driver} {book.format.signed(row.uplift)}")
        actions.append(book.text("summary", "act_growth", dealer=dealer, driver=driver,
                                 current=book.format.number(row.current), benchmark=book.format.number(row.benchmark),
                                 uplift=book.format.number(row.uplift)))
    return book.text("summary", "growth", list="; ".join(items)), actions[:1]


def _summary_flags(book: ReportBook, data: ReportData):
    if not data.need("red_flags").ok:
        return None, []
    sla = cases.sla_report(data.current, data.cases, dealers=data.dealers,
                           settings=data.settings)
    n = int(sla.network.iloc[0]["open_overdue"])
    if n == 0:
        return book.text("summary", "no_overdue"), []
    return (book.text("summary", "overdue", hours=f"{sla.sla_hours:g}", n=n),
            [book.text("summary", "act_overdue", n=n)])


def _by_group(book: ReportBook, data: ReportData, by: str, key: str) -> None:
    """NPS by one grouping column: the month with intervals, and the dynamics."""
    lang = book.language
    with book.section(book.text("sections", key)):
        data.require_section(key)
        rule = star_rule(data)
        summary_ = _summary(data, (by,))
        book.show(table_title(book, f"{key}_month"), tables.headline_table(
            summary_, month=data.month, by=(by,), weighted=_weighted(data, (by,)),
            language=lang, rule=rule, settings=data.settings))
        if by == "touchpoint":
            book.chart(charts.touchpoint_panels(summary_, language=lang, rule=rule,
                                                settings=data.settings))
        else:
            book.chart(charts.nps_trend(summary_, hue=by, language=lang, rule=rule,
                                        settings=data.settings,
                                        title=book.text("charts", f"{key}_title")))


def touchpoints(book: ReportBook, data: ReportData) -> None:
    """NPS by touchpoint: the month with intervals, and small multiples of the dynamics."""
    _by_group(book, data, "touchpoint", "touchpoints")


def response_rates(book: ReportBook, data: ReportData) -> None:
    """Responses and response rate (responses / invitations) by month and touchpoint."""
    lang = book.language
    with book.section(book.text("sections", "response_rates")):
        data.require_section("response_rates")
        table = nps.summarize(data.responses, by=("touchpoint",), period="M",
                              invitations=data.invitations, settings=data.settings)
        book.chart(charts.response_rates(table, language=lang))
        book.show(table_title(book, "response_rates"), tables.response_rate_table(table,
                                                                             language=lang),
                  html=False)


def regions(book: ReportBook, data: ReportData) -> None:
    """The regions side by side (the network's report only; one line when the network has a
    single region)."""
    _by_group(book, data, "region", "regions")


def dealers(book: ReportBook, data: ReportData, *, top: int = 40) -> None:
    """The dealers as a caterpillar plot (raw and shrunk NPS with intervals, the scope's mean,
    small samples marked), then the dealer table."""
    lang = book.language
    with book.section(book.text("sections", "dealers")):
        data.require_section("dealers")
        ranking = _ranking(data)
        monthly = _monthly(data)
        rule = star_rule(data)
        mean = monthly.loc[monthly["period"].astype(str) == data.month, "nps"]
        book.chart(charts.dealer_caterpillar(
            ranking, region_mean=float(mean.iloc[0]) if len(mean) else None, top=top,
            language=lang, rule=rule, settings=data.settings,
            title=book.text("charts", "caterpillar_title", month=book.format.month(data.month))))
        book.show(table_title(book, "dealers_month"), tables.dealer_table(
            ranking, language=lang, rule=rule, regional=not data.is_network,
            alarms=data.alarms().alarms, settings=data.settings))
        book.note(book.text("notes", "alarms"))


def loyalty_drivers(book: ReportBook, data: ReportData) -> None:
    """Which drivers move NPS (LMG share with intervals), this month beside the last, with
    the report's bootstrap draws (:attr:`analysis.settings.Settings.n_boot`, the star
    family's too)."""
    lang = book.language
    n_boot = data.settings.n_boot
    with book.section(book.text("sections", "loyalty_drivers")):
        data.require_section("loyalty_drivers")
        # the drivers the export rates (all of them, or the ones it has)
        rated = list(data.rated_drivers())
        every = rated == drivers.driver_names()
        # answers cluster within dealers: the bootstrap resamples dealers (params/drivers.yaml)
        cluster = _driver_cluster()
        current = drivers.relative_importance(
            data.current, target="nps", drivers=rated, n_boot=n_boot,
            random_state=0, cluster=cluster)
        # the network's importance by month is fitted once per batch (shared)
        by_month = (shared.network_importance(data, n_boot=n_boot, cluster=cluster,
                                              drivers=tuple(rated))
                    if data.is_network
                    else drivers.importance_by_period(data.responses, period="M",
                                                      n_boot=n_boot, random_state=0,
                                                      cluster=cluster, drivers=rated))
        previous = str(pd.Period(data.month, freq="M") - 1)
        rule = star_rule(data)
        # the change the report stars: the same frame as the report's family of tests
        # (which tests every driver, with the same draws); on the rated drivers alone it is
        # computed here
        change = (_star_tables(data)["driver importance change"] if every
                  else _importance_change(data, rated, n_boot=n_boot, cluster=cluster))
        changed = ([] if change is None else
                   change.loc[rules.significant(change, "change", rule=rule), "driver"])
        book.chart(charts.driver_importance(by_month, month=data.month, previous=previous,
                                            language=lang, changed=changed))
        book.show(table_title(book, "driver_importance", month=book.format.month(data.month),
                         r2=book.format.number(current.r2, 2), n=book.format.count(current.n)),
                  tables.importance_table(current.shares(), level=current.level,
                                          language=lang))
        if change is not None:
            book.show(table_title(book, "importance_change"), tables.importance_change_table(
                change.rename(columns={"change_p_value": "p_value",
                                       "change_p_adj": "p_adj"}), language=lang, rule=rule,
                settings=data.settings))


def _importance_change(data: ReportData, rated: list[str], *, n_boot: int, cluster):
    """The importance change of the rated drivers, or None without a month before."""
    if not data.need("trend").ok:
        return None
    try:
        return stars.importance_tests(drivers.importance_change(
            data.responses, drivers=rated, period="M", n_boot=n_boot, random_state=0,
            cluster=cluster, settings=data.settings))
    except (drivers.DriverDataError, ValueError):  # too few answers in one of the months
        return None


def importance_performance(book: ReportBook, data: ReportData) -> None:
    """The importance-performance map of the report month: each driver's mean in its own
    scale; drivers rated on different scales meet on the share of their scale."""
    lang = book.language
    with book.section(book.text("sections", "importance_performance")):
        data.require_section("importance_performance")
        rated = list(data.rated_drivers())
        scales = {d: data.scale(d) for d in rated}
        table = drivers.importance_performance(data.current, drivers=rated, scales=scales)
        book.chart(charts.importance_performance(table, language=lang, scales=scales))
        # the map names every driver in its quadrant: the numbers are for the workbook
        book.show(table_title(book, "importance_performance"),
                  tables.importance_performance_table(table, language=lang, scales=scales),
                  html=False)


def root_causes(book: ReportBook, data: ReportData) -> None:
    """What went wrong: comments below 9 in causes, ranked by NPS impact as a Pareto, with
    what the summary says of them (:func:`cause_verdict`: the costliest cause or the top
    causes, each against last month) and each cause's change in the table as it words it.

    Where the team records root causes, a cause is the team's label, else the suggestion of
    the classifier learnt from those labels on the network (shared by every report), and the
    section says how often that classifier agrees with the team; without labels, the causes
    are the clusters of the month's comments (also the network's model)."""
    lang = book.language
    with book.section(book.text("sections", "root_causes")):
        data.require_section("root_causes")
        learned = _learned(data)
        verdict = cause_verdict(data)
        if verdict is None or verdict.causes.empty:
            book.note(book.text("notes", "no_comments", month=book.format.month(data.month)))
            return
        impact = verdict.causes
        labels, model = _labels(data, data.month)
        named = rootcause.top_causes(data.current, labels, model=model, top=len(impact))
        # causes of the team and the classifier: where each cause's answers got it
        sources = (rootcause.cause_shares(learned.scope(data.current))
                   if model is None and learned is not None else None)
        impact = impact.merge(named[["cause", "quotes"]], on="cause", how="left")
        # the verdict the summary states, and the rule behind it
        book.note(cause_sentence(book, verdict))
        book.note(book.text("notes", "cause_claims", margin=book.format.number(verdict.margin),
                            rule=rules.rule_text(star_rule(data), language=lang,
                                                 settings=data.settings)))
        book.chart(charts.cause_pareto(impact, language=lang))
        # every cause, ranked by its contribution (they add up to the gap), with the labels
        # and quotes of its answers, and its change from last month as the verdict words it
        book.show(table_title(book, "cause_impact"), tables.impact_table(
            impact, sources=sources, language=lang, settings=data.settings), max_rows=3)
        first = impact.iloc[0]
        book.note(book.text("notes", "cause_gap", nps=book.format.nps(first["scope_nps"]),
                            ref=book.format.nps(first["ref_nps"]), n=len(impact),
                            gap=book.format.number(-impact["contribution"].sum())))
        _cause_agreement(book, data, learned)
        min_count = load_params("taxonomy")["report"]["matrix_min_count"]
        book.show(table_title(book, "dealer_causes", min=min_count), tables.cause_matrix_table(
            rootcause.dealer_cause_matrix(data.current, labels, value="contribution"),
            language=lang), decimals=2, html=False)


def _cause_agreement(book: ReportBook, data: ReportData, learned) -> None:
    """How often the classifier agrees with the team in this scope, and the review queue."""
    if learned is None or data.month not in learned.months:
        book.note(book.text("notes", "no_team_causes"))
        return
    period = book.format.month(learned.months[0]) if len(learned.months) == 1 else (
        f"{book.format.month(learned.months[0])} – {book.format.month(learned.months[-1])}")
    window = data.responses.loc[data.responses["month"].isin(learned.months)]
    agree = learned.scope_agreement(window)
    month = learned.scope(data.current)
    queue = book.text("notes", "review_queue", n=book.format.count(month["needs_review"].sum()),
                      suggested=int((month["source"] == "model").sum()),
                      threshold=book.format.percent(learned.threshold))
    if agree is None:
        book.note(book.text("notes", "no_team_causes_scope", period=period) + " " + queue)
        return
    acc, f1 = (agree.overall.set_index("metric").loc[m] for m in ("accuracy", "macro_f1"))
    book.note(book.text("notes", "cause_agreement", share=book.format.percent(acc["value"]),
                        interval=book.format.percent_interval(acc["low"], acc["high"]),
                        n=int(acc["n"]), period=period, f1=book.format.number(f1["value"], 2),
                        f1_interval=book.format.interval(f1["low"], f1["high"], 2)) + " " + queue)
    book.show(table_title(book, "cause_agreement"), tables.agreement_table(
        agree.per_cause, language=book.language), decimals=2, max_rows=3,
        html=data.dealer_id is None)  # a dealer's page: the note; the table in its workbook


def growth_zones(book: ReportBook, data: ReportData) -> None:
    """TOP-20 dealers with growth zones, modelled on the whole network's 12 months (fitted
    once per batch and shared by every report)."""
    lang = book.language
    top_n = int(load_params("growth")["top"])
    with book.section(book.text("sections", "growth_zones", n=top_n)):
        data.require_section("growth_zones")
        zones = shared.growth_result(data)
        # a region's report keeps its own dealers, ranked within the whole network
        only = None if data.is_network else data.dealers["dealer_id"]
        book.note(_growth_note(book, zones, only=only, q=data.settings.q))
        top = tables.top_growth_table(zones, dealers=data.all_dealers, only=only,
                                      language=lang)
        if not data.is_network:
            book.note(book.text("notes", "region_in_top", region=data.region, n=top_n,
                                count=len(top)))
        leaders = zones.top()
        if only is not None:
            leaders = leaders.loc[leaders["dealer_id"].isin(set(only))]
        if top.empty:  # the note says, in plain words, that no dealer passed
            book.show(table_title(book, "growth_top", n=top_n), top, html=False)
        else:
            book.chart(charts.growth_dots(leaders, dealers=data.all_dealers, language=lang,
                                          scales=zones.scales))
            book.show(table_title(book, "growth_top", n=top_n), top)
            _growth_value(book, data, leaders)
        # every dealer x driver: for the analysts' workbook, not for reading
        book.show(table_title(book, "growth_table"), tables.growth_table(
            zones, dealers=data.all_dealers, only=only, language=lang,
            settings=data.settings), html=False)
        ranking = growth.rank_dealers_by_driver(data.responses, drivers=list(zones.drivers),
                                                scales=zones.scales, settings=data.settings)
        book.show(table_title(book, "driver_ranking"), tables.driver_ranking_table(
            ranking, dealers=data.dealers, language=lang, scales=zones.scales,
            settings=data.settings), html=False)


def _growth_note(book: ReportBook, zones, *, q: float, only=None) -> str:
    """How many dealers (of the network, or of ``only``) have a growth zone worth the
    threshold, or in plain words that none has; then how a pair becomes a growth zone (the
    one-sided test and BH, the uplift interval's lower end at the threshold)."""
    passed, dealers = zones.passed(only)
    points = zones.min_uplift
    count = (book.text("notes", "growth_passed", passed=passed, dealers=dealers, points=points)
             if passed else book.text("notes", "growth_none", points=points))
    rule = book.text("notes", "growth_test",
                     pairs=int(zones.table["zone_p_value"].notna().sum()),
                     q=book.format.percent(q), level=book.format.percent(zones.level))
    return f"{count} {rule}"


def _growth_value(book: ReportBook, data: ReportData, leaders: pd.DataFrame) -> None:
    """What closing each top zone's gap is associated with in a year of workshop visits
    (retention.uplift_value): the top rows here, every zone in the Excel file. Nothing is
    shown while repair orders or returns are missing (the customers section says so)."""
    if data.repair_orders is None or data.repair_orders.empty or leaders.empty:
        return
    _, rates, months = _return_rates(data)
    if rates["rate"].isna().all():
        return
    loop = load_params("loop")
    customers = retention.service_customers(
        data.repair_orders, as_of=pd.Period(data.month, freq="M").end_time)
    value = retention.uplift_value(leaders.merge(customers, on="dealer_id", how="inner"),
                                   rates, gain="uplift",
                                   gain_interval=("uplift_low", "uplift_high"))
    book.note(book.text("notes", "growth_value", months=months,
                        visits=loop["value"]["visits_per_year"],
                        order=book.format.money(loop["value"]["average_order_value"])))
    title = table_title(book, "growth_value")
    book.show(title, tables.growth_value_table(value, dealers=data.all_dealers,
                                               language=book.language), html=False)
    book.show(title, tables.growth_value_table(value, dealers=data.all_dealers, compact=True,
                                               language=book.language), excel=False, max_rows=3)


def css_index(book: ReportBook, data: ReportData) -> None:
    """The CSS weighted index per dealer vs previous month, region and nation."""
    with book.section(book.text("sections", "css")):
        data.require_section("css_index")
        attrs = list(load_params("css")["attributes"])
        if not set(attrs) <= set(data.responses) or data.current[attrs].isna().all().all():
            raise SectionDataMissing("css_ratings", data.month)
        from analysis.css import summarize_css

        by_dealer = data.memo("css", lambda: summarize_css(
            data.responses, by=("region", "dealer_id"), period="M", reference=data.network,
            settings=data.settings))
        month = by_dealer.loc[by_dealer["period"] == pd.Period(data.month, freq="M")].assign(
            dealer_name=lambda d: d["dealer_id"].map(
                data.all_dealers.set_index("dealer_id")["dealer_name"]).fillna(d["dealer_id"]))
        book.chart(charts.css_comparison(month, language=book.language))
        book.show(table_title(book, "css_by_dealer"), tables.css_table(
            by_dealer, month=data.month, dealers=data.dealers,
            level=data.settings.level, language=book.language,
            rule=star_rule(data)))


def red_flags(book: ReportBook, data: ReportData) -> None:
    """Red flags and the 72-hour contact SLA, by owner and dealer, with the overdue list."""
    lang = book.language
    hours = load_params("operations")["red_flags"]["sla_hours"]
    with book.section(book.text("sections", "red_flags", hours=f"{hours:g}")):
        data.require_section("red_flags")
        sla = cases.sla_report(data.current, data.cases, dealers=data.dealers,
                           settings=data.settings)
        book.note(_sla_note(book, sla))
        book.show(table_title(book, "sla_by_owner"), tables.sla_table(
            sla.by_owner, level=data.settings.level, language=lang))
        if data.dealer_id is None:  # a dealer's page: one bar and one row say what the note does
            book.chart(charts.sla_compliance(sla.by_dealer, language=lang))
            book.show(table_title(book, "sla_by_dealer"), tables.sla_table(
                sla.by_dealer, level=data.settings.level, language=lang),
                      max_rows=5)
        book.show(table_title(book, "overdue_flags"),
                  tables.overdue_table(sla.flags, data.current, language=lang))


def _sla_note(book: ReportBook, sla: cases.SlaReport) -> str:
    row = sla.network.iloc[0]
    return book.text("notes", "sla", now=f"{sla.now:%Y-%m-%d %H:%M}", hours=f"{sla.sla_hours:g}",
                     **{k: int(row[k]) for k in ("flags", *cases.STATUSES, "no_case")},
                     compliance=book.format.percent(row["compliance"]), decided=int(row["decided"]),
                     interval=book.format.percent_interval(row["compliance_low"], row["compliance_high"]))


def golden_stars(book: ReportBook, data: ReportData, *, per_dealer: int = 3) -> None:
    """Promoters who praise named staff or the dealer, quotes masked."""
    with book.section(book.text("sections", "golden_stars")):
        data.require_section("golden_stars")
        stars = cases.golden_stars(data.current, dealers=data.dealers)
        if data.dealer_id is not None:  # a dealer's page: its quotes, not its name on each
            stars, per_dealer = stars.drop(columns=["region", "dealer_name", "dealer_id"],
                                           errors="ignore"), None
        book.show(table_title(book, "golden_stars"), tables.golden_star_table(
            stars, per_dealer=per_dealer, language=book.language), max_rows=5)


def incident_section(book: ReportBook, data: ReportData) -> None:
    """Complaints and thanks by channel and category, long-service reasons, closure SLA."""
    lang = book.language
    with book.section(book.text("sections", "incidents")):
        data.require_section("incidents")
        inc = incidents.incident_report(data.incidents, month=data.month,
                                        settings=data.settings)
        book.note(_incident_note(book, inc))
        book.show(table_title(book, "complaints_by_channel"),
                  tables.incident_table(inc.counts, rows="channel", language=lang))
        book.chart(charts.incidents_by_month(inc.counts, hue="category", language=lang))
        book.show(table_title(book, "long_service"), tables.reasons_table(inc.reasons, language=lang))
        book.show(table_title(book, "closure"),
                  tables.closure_table(inc.closure_by_channel, language=lang))


def _incident_note(book: ReportBook, inc: incidents.IncidentReport) -> str:
    lang = book.language
    kinds = inc.closures["kind"].value_counts().sort_index()
    counts = ", ".join(_kind_count(k, n, lang) for k, n in kinds.items())
    shares = "; ".join(
        f"{_kind(k, lang)}: {book.format.percent(row['share_within_sla'])} "
        f"{book.format.percent_interval(row['share_low'], row['share_high'])}"
        for k, row in inc.closure_by_kind.set_index("kind").iterrows())
    text = book.text("notes", "incidents", counts=counts, hours=f"{inc.sla_working_hours:g}",
                     shares=shares)
    if len(inc.reasons):
        top = inc.reasons.iloc[0]
        text += " " + book.text("notes", "main_reason", share=book.format.percent(top["share"]),
                                reason=L.name("reasons", top["reason"], language=lang))
    return text


def _kind(kind: str, language: str) -> str:
    return L.name("kinds", kind, language=language)


def _kind_count(kind: str, n: int, language: str) -> str:
    """``179 жалоб``: a count of one kind of incident in the language's plural form."""
    if L.has("kind_counts", kind):
        return L.text("kind_counts", kind, language=language, n=int(n))
    return f"{F.count(n, language=language)} {_kind(kind, language)}"


def repeat_repairs(book: ReportBook, data: ReportData) -> None:
    """Repeat repairs within the window by VIN, KPI by mechanic and foreman, survey reviews."""
    lang = book.language
    with book.section(book.text("sections", "repeat_repairs")):
        data.require_section("repeat_repairs")
        rr = repairs.monthly_report(data.repair_orders, month=data.month, dealers=data.dealers,
                                    settings=data.settings)
        book.note(_repeat_note(book, rr))
        book.chart(charts.repeat_rates(rr.by_dealer, language=lang))
        book.show(table_title(book, "repeats_by_dealer"),
                  tables.repeats_by_dealer_table(rr.by_dealer, language=lang))
        book.show(table_title(book, "kpi_mechanics"),
                  tables.repeat_kpi_table(rr.kpi_mechanic, role="mechanic", language=lang),
                  max_rows=5)
        book.show(table_title(book, "kpi_foremen"),
                  tables.repeat_kpi_table(rr.kpi_foreman, role="foreman", language=lang),
                  max_rows=5)
        book.show(table_title(book, "repair_reviews"), tables.reviews_table(
            repairs.survey_repair_reviews(data.current, data.repair_orders), language=lang),
            max_rows=5)


def _repeat_note(book: ReportBook, rr: repairs.MonthlyRepeatReport) -> str:
    # the rate is the cohort's: orders closed in the month whose window has passed
    orders = int(rr.by_dealer["cohort_orders"].sum())
    repeats = int(rr.by_dealer["cohort_repeats"].sum())
    return book.text("notes", "repeat_repairs", month=book.format.month(rr.month), n=len(rr.pairs),
                     days=rr.window_days, orders=orders,
                     rate=book.format.percent(repeats / orders if orders else None, 1),
                     mechanics=int((rr.kpi_mechanic["bonus_share"] == 0).sum()),
                     foremen=int((rr.kpi_foreman["bonus_share"] == 0).sum()))


def actions_review(book: ReportBook, data: ReportData) -> None:
    """Last month's improvement actions: completion, and the effect of each closed one against
    comparable dealers without such an action (difference in differences)."""
    lang = book.language
    with book.section(book.text("sections", "actions_review")):
        data.require_section("actions")
        if data.dealer_id is not None and data.actions.empty:  # a dealer without a plan
            book.note(book.text("dealer_page", "no_actions"))
            return
        month_end = pd.Period(data.month, freq="M").end_time
        by = ("region",) if data.is_network else ("dealer_id",)
        done = actions.completion(data.actions, by=by, dealers=data.dealers, as_of=month_end,
                                  settings=data.settings)
        book.show(table_title(book, "action_completion"),
                  tables.completion_table(_with_names(done, data), language=lang))
        # the comparison dealers are the whole network's: a region's own may be too few
        review = actions.monthly_review(data.actions, data.network, month=data.month,
                                        dealers=data.all_dealers, causes=_action_causes(data),
                                        settings=data.settings)
        if review.empty:
            book.note(book.text("notes", "no_actions", month=book.format.month(data.month)))
            return
        measured = review["effect"].notna()
        spec = load_params("loop")["actions"]
        book.note(book.text("notes", "actions", n=len(review), measured=int(measured.sum()),
                            effective=int((review["verdict"] == "effective").sum()),
                            worse=int((review["verdict"] == "worse").sum()),
                            min=int(spec["min_comparison"]),
                            level=book.format.percent(data.settings.level)))
        book.show(table_title(book, "action_review"), tables.action_review_table(review, language=lang),
                  max_rows=5)
        if measured.any():
            book.chart(charts.action_effects(review, language=lang))


def _action_causes(data: ReportData):
    """The cause each of the network's answers names (the network's cause model of the month),
    for actions on a root cause; None when no action targets one or there is no model."""
    if data.actions["target"].isin(drivers.driver_names()).all():
        return None
    found = _model_labels(data, data.network)
    return None if found is None else found[0]


def _with_names(frame: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    if "dealer_id" not in frame:
        return frame
    names = data.all_dealers.drop_duplicates("dealer_id").set_index("dealer_id")["dealer_name"]
    return frame.assign(dealer_name=frame["dealer_id"].map(names).fillna(frame["dealer_id"]))


def customers(book: ReportBook, data: ReportData) -> None:
    """New, returning and lost customers from repair orders by VIN; who comes back by NPS
    category, and what the detractors cost in workshop visits (value at stake)."""
    lang = book.language
    with book.section(book.text("sections", "customers")):
        data.require_section("customers")
        loop = load_params("loop")
        flow = retention.customer_flow(data.repair_orders)
        book.chart(charts.customer_flow(flow, language=lang))
        # every dealer's counts: the Excel file (the chart above says what moved)
        book.show(table_title(book, "customer_flow", month=book.format.month(data.month)),
                  tables.customer_flow_table(
            flow, month=data.month, dealers=data.dealers, language=lang), html=False)
        service, rates, months = _return_rates(data)
        if rates["rate"].isna().all():
            book.note(book.text("notes", "no_return_history", months=months))
            return
        book.note(book.text("notes", "return_rates", months=months))
        book.show(table_title(book, "return_rates", months=months),
                  tables.return_rate_table(rates, language=lang))
        book.chart(charts.return_rates(rates, language=lang))
        value = retention.value_at_stake(service, rates)
        book.note(book.text("notes", "value_at_stake",
                            visits=loop["value"]["visits_per_year"],
                            order=book.format.money(loop["value"]["average_order_value"])))
        book.show(table_title(book, "value_at_stake"), tables.value_at_stake_table(
            value, dealers=data.dealers, language=lang), max_rows=3)
        # the call list itself (VINs, contacts) belongs to the team's own export, never here;
        # its count is the export's: one function over the months the list needs (the
        # report's own frames span its trend months only)
        calls = retention.load_win_back(
            data.month, data_dir=data.data_dir,
            regions=None if data.is_network else [data.region],
            dealers=data.dealers["dealer_id"])
        book.note(book.text("notes", "win_back",
                            detractors=int((calls["reason"] == "detractor").sum()),
                            lapsed=int((calls["reason"] == "lapsed").sum()),
                            dealers=int(calls["dealer_id"].nunique())))


def _return_rates(data: ReportData):
    """The scope's service answers, their return rates by NPS category and the horizon in
    months, once per report (the customers and the growth zones sections read them)."""
    def compute():
        loop = load_params("loop")["retention"]
        # a return rate over `months` needs that many months of history after the answers:
        # the data the report reads allow one month less than they span
        span = data.responses["month"].nunique()
        months = max(1, min(int(loop["months"]), span - 1))
        service = data.responses.loc[data.responses["touchpoint"] == loop["touchpoint"]]
        return service, retention.return_rates(data.repair_orders, service, months=months,
                                               settings=data.settings), months

    return data.memo("return_rates", compute)


def survey_funnel(book: ReportBook, data: ReportData) -> None:
    """The call centre's funnel: contacts attempted, reached and answered by channel."""
    lang = book.language
    with book.section(book.text("sections", "funnel")):
        data.require_section("survey_funnel")
        month = data.contacts.loc[data.contacts["month"] == data.month]
        if month.empty:
            raise SectionDataMissing("contacts", data.month)
        by_channel = funnel.funnel_rates(month, by=("channel",), settings=data.settings)
        book.show(table_title(book, "funnel_by_channel"), tables.funnel_table(by_channel,
                                                                        language=lang))
        book.chart(charts.funnel_rates(by_channel, language=lang))
        book.show(table_title(book, "channel_differences"), tables.channel_difference_table(
            funnel.channel_differences(month), language=lang), html=False)
        by_dealer = funnel.funnel_rates(month, by=("dealer_id",), settings=data.settings)
        book.show(table_title(book, "funnel_by_dealer"), tables.funnel_table(
            by_dealer, by="dealer_id", dealers=data.dealers, language=lang), html=False)


def data_quality(book: ReportBook, data: ReportData) -> None:
    """Appendix: rows read, accepted and quarantined per ingested file."""
    from analysis.ingest import quarantine_summary

    with book.section(book.text("sections", "data_quality")):
        quality = quarantine_summary(data.data_dir)
        if quality.empty:
            book.note(book.text("notes", "no_exports"))
        else:
            book.show(table_title(book, "data_quality"),
                      tables.quality_table(quality, language=book.language))
        book.note(book.text("notes", "answers", current=len(data.current),
                            month=book.format.month(data.month), total=len(data.responses),
                            months=len(data.months)))
        if data.unlisted_dealers:
            unlisted = data.all_dealers.loc[
                data.all_dealers["dealer_id"].isin(data.unlisted_dealers)]
            shown = ", ".join(data.unlisted_dealers[:10]) + (
                ", ..." if len(data.unlisted_dealers) > 10 else "")
            book.note(book.text(
                "notes", "unlisted_dealers", dealers=shown, region=unlisted["region"].iloc[0],
                answers=book.format.count(int(data.network["dealer_id"].isin(
                    data.unlisted_dealers).sum()))))
        book.note(_store_versions(book, data.data_dir))


def _store_versions(book: ReportBook, data_dir) -> str:
    """The store versions the report read and how to read them again, in the book's words
    (:meth:`analysis.store.Snapshot.describe` is the command line's English line)."""
    try:
        snap = store.snapshot(data_dir)
        if not snap.versions:
            return book.text("notes", "store_unversioned")
        parts = []
        for table in (t for t in table_specs.TABLES if t in snap.versions):
            stamp = snap.committed.get(table, pd.NaT)
            name = L.name("store_tables", table, language=book.language)
            parts.append(book.text("notes", "store_version", table=name,
                                   version=str(snap.versions[table])) if pd.isna(stamp) else
                         book.text("notes", "store_version_at", table=name,
                                   version=str(snap.versions[table]),
                                   time=f"{stamp:%Y-%m-%d %H:%M}"))
    except (store.StoreError, OSError) as err:
        return book.text("notes", "store_unknown", error=str(err))
    return book.text("notes", "store_versions", versions=", ".join(parts),
                     command=f"python -m analysis report --as-of {snap.spec}")


# --- the dealer's page (notebooks/reports/dealer.py) -------------------------------------------

def dealer_scope(data: ReportData, dealer_id: str = "") -> ReportData:
    """The report data narrowed to one dealer ("" = the dealer with most answers in the month),
    for the dealer's page: the sections above then show the dealer (its name on its headline
    row, its own star rule, its causes, red flags, actions and growth zones).

    ``network_responses`` keeps the whole network, so the dealer is compared with its region
    and the network and its growth zones use the network-wide model; ``region`` is the
    dealer's region, whatever region ``data`` was loaded for.
    """
    if not dealer_id:
        dealer_id = data.current["dealer_id"].value_counts().idxmax()
    if dealer_id not in set(data.dealers["dealer_id"]):
        scope = "network" if data.is_network else data.region
        known = sorted(data.dealers["dealer_id"].astype(str))
        raise ValueError(f"dealer {dealer_id!r} is not in {scope}; known dealers: "
                         f"{', '.join(known[:20])}{', ...' if len(known) > 20 else ''}")

    def only(frame):
        return None if frame is None else frame.loc[frame["dealer_id"] == dealer_id]

    region = data.dealers.loc[data.dealers["dealer_id"] == dealer_id, "region"].iloc[0]
    return replace(data, region=str(region), region_is_name=True,
                   responses=only(data.responses), invitations=only(data.invitations),
                   cases=only(data.cases), repair_orders=only(data.repair_orders),
                   incidents=only(data.incidents), actions=only(data.actions),
                   contacts=only(data.contacts), dealers=only(data.dealers),
                   network_responses=data.network, network_dealers=data.all_dealers,
                   dealer_id=dealer_id)


def _peers(data: ReportData) -> dict[str, pd.DataFrame]:
    """A dealer's region and the network: their answers of the report month and the month
    before (what their NPS and its change read)."""
    keep = {str(pd.Period(data.month, freq="M") - 1), data.month}
    network = data.network.loc[data.network["month"].isin(keep)]
    return {"region": network.loc[network["region"] == data.region], "network": network}


def _peer_summaries(data: ReportData) -> dict[str, pd.DataFrame]:
    """A dealer's NPS by month (without invitations) and its region's and the network's of
    the report month and the month before (:func:`analysis.nps.summarize`), by scope
    (``dealer``, ``region``, ``network``; a scope without answers is left out); once per
    report: the dealer's page shows them side by side and stars their changes."""
    def compute():
        frames = {"dealer": data.responses, **_peers(data)}
        return {scope: nps.summarize(frame, by=(), period="M", settings=data.settings)
                for scope, frame in frames.items() if not frame.empty}

    return data.memo("peer summaries", compute)


def _dealer_star_tables(data: ReportData) -> dict:
    """The tests a dealer's page stars, as one family: the dealer's NPS change of every month
    (its headline and trend) and its region's and the network's change of the month (beside
    it on the page); :func:`_star_tables` adds the claims on the dealer's causes."""
    month = pd.Period(data.month, freq="M")
    rows = [summary.loc[summary["period"] == month]
            for scope, summary in _peer_summaries(data).items() if scope != "dealer"]
    return {"nps change": pd.concat([_monthly(data), *rows], ignore_index=True)}


def dealer_title(book: ReportBook, dealer: ReportData) -> None:
    """A dealer's page: its title (the dealer's name and code, its region, the month), how to
    read it, and what the page holds when the dealer has no answers this month."""
    title(book, dealer)
    if dealer.current.empty:
        book.note(book.text("dealer_page", "no_answers", month=book.format.month(dealer.month)))


def dealer_vs_peers(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's NPS and mean driver ratings next to its region and the network."""
    lang = book.language
    with book.section(book.text("sections", "dealer_vs_peers")):
        if dealer.current.empty:
            raise SectionDataMissing("responses", dealer.month)
        rule = star_rule(dealer)
        peers = _peers(dealer)
        scopes = {dealer.dealer_name: dealer.responses,
                  book.text("labels", "region", region=dealer.region): peers["region"],
                  book.text("labels", "network"): peers["network"]}
        names = {"dealer": dealer.dealer_name,
                 "region": book.text("labels", "region", region=dealer.region),
                 "network": book.text("labels", "network")}
        book.show(table_title(book, "nps_month"), pd.concat(
            [tables.headline_table(summary, month=dealer.month, label=names[scope],
                                   language=lang, rule=rule, settings=dealer.settings)
             for scope, summary in _peer_summaries(dealer).items()], ignore_index=True))
        # the drivers its region and the network rate: a mean of a dealer's few answers is
        # still its mean (their count is in the table above), unlike an importance
        rated = list(dealer.rated_drivers(peers["network"].loc[
            peers["network"]["month"] == dealer.month]))
        if not rated:  # the coverage's words: no ratings, or too few this month
            book.note(book.coverage_line(dealer.need("loyalty_drivers"), dealer.month))
            return
        means = drivers.mean_ratings(scopes, month=dealer.month, drivers=rated)
        book.show(table_title(book, "driver_means"), tables.driver_means_table(means, language=lang),
                  decimals=2)


def dealer_growth_zones(book: ReportBook, dealer: ReportData) -> None:
    """The dealer's drivers: gap to the benchmark and the modelled NPS uplift (the network's
    growth model, fitted once per batch), growth zones first."""
    lang = book.language
    with book.section(book.text("sections", "dealer_growth_zones")):
        dealer.require_section("growth_zones")
        zones = shared.growth_result(dealer)
        own = zones.table.loc[zones.table[zones.by] == dealer.dealer_id]
        if own.empty:  # no answers rating a driver over the model's months
            raise SectionDataMissing("responses", dealer.month)
        book.note(book.text(
            "dealer_page", "growth_note", zones=book.format.count(int(own["growth_zone"].sum())),
            drivers=book.format.count(len(own)), q=book.format.percent(dealer.settings.q),
            pairs=book.format.count(int(zones.table["zone_p_value"].notna().sum())),
            points=zones.min_uplift))
        book.show(table_title(book, "dealer_uplift"), tables.dealer_zones_table(
            zones, dealer_id=dealer.dealer_id, language=lang), excel=False, max_rows=None)
        # every number of the model for the dealer, for the workbook
        book.show(table_title(book, "growth_table"), tables.growth_table(
            zones, dealers=dealer.all_dealers, only=[dealer.dealer_id], language=lang,
            settings=dealer.settings),
            html=False)


__all__ = ["actions_review", "cause_comparison", "cause_name", "cause_sentence", "cause_verdict",
           "css_index", "customers", "data_quality", "dealer_growth_zones", "dealer_scope",
           "dealer_title", "dealer_vs_peers", "dealers", "golden_stars", "growth_zones",
           "headline", "importance_performance", "incident_section",
           "loyalty_drivers", "red_flags", "regions", "repeat_repairs", "response_rates",
           "root_causes", "star_rule", "summary", "survey_funnel", "table_title", "title",
           "touchpoints"]
