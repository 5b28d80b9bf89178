"""What the explore notebooks show beyond the report's own tables.

The notebooks of ``notebooks/explore/`` show the analysts' frames (the clusters of the
comments and how many were chosen, each method's rank of the drivers, the review queue, a
dealer's actions) as the report shows its tables: headers and names from the catalogue
(params/labels.yaml, ``explore``), each column's kind said (:mod:`analysis.report.kinds`) so
the one formatter writes every number, in a :class:`~analysis.report.book.ReportBook` of the
language of params, and stars by the report's rule (:func:`star_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report.book import ReportBook
from analysis.report.kinds import Table

__all__ = ["action_status_table", "action_target_chart", "book", "cause_months_table",
           "cause_shares_table", "clusters_table", "compare_note", "dealer_loop", "DealerLoop",
           "eigengap_table", "method_ranks_table", "monthly_flow_table", "refit_table",
           "review_queue_table", "star_rule"]


def book(language: str = "") -> ReportBook:
    """The book a notebook shows its tables in: ``language``, else the first of
    params/report.yaml ``languages`` (the reports' own)."""
    from analysis.report.batch import report_languages

    return ReportBook(language or report_languages()[0])


@dataclass(frozen=True)
class DealerLoop:
    """What the dealer-actions notebook reads: the store's tables for closing the loop (the
    answers with their region) and the dealer it looks at, its region and its masked name."""

    dealers: pd.DataFrame
    responses: pd.DataFrame
    plans: pd.DataFrame
    repair_orders: pd.DataFrame
    contacts: pd.DataFrame
    dealer: str
    region: str
    name: str


def dealer_loop(dealer_id: str = "", *, data_dir=None) -> DealerLoop:
    """The tables of closing the loop and one dealer: ``dealer_id``, or ("") the dealer with
    the most action plans."""
    from analysis import store
    from analysis.privacy import mask_pii

    dealers = store.load("dealers", data_dir=data_dir)
    plans = store.load("actions", data_dir=data_dir).drop(columns="month")
    dealer = dealer_id or plans["dealer_id"].value_counts().index[0]
    row = dealers.set_index("dealer_id").loc[dealer]
    return DealerLoop(
        dealers=dealers,
        responses=store.with_region(store.load("responses", data_dir=data_dir), dealers),
        plans=plans, repair_orders=store.load("repair_orders", data_dir=data_dir),
        contacts=store.load("contacts", data_dir=data_dir), dealer=dealer,
        region=row["region"], name=mask_pii(str(row["dealer_name"])))


def star_rule(*p_values, settings=None):
    """The report's star rule (:class:`analysis.stars.StarRule`) over every change a notebook
    shows: one family of the ``change_p_value`` columns of frames, or of single p-values, at
    the ``settings``' q and scope (:class:`analysis.settings.Settings`; None: the params')."""
    from analysis import stars
    from analysis.report.rules import settings_or

    settings = settings_or(settings)

    values = [np.atleast_1d(pd.to_numeric(
        v["change_p_value"] if isinstance(v, pd.DataFrame) else v, errors="coerce"))
        for v in p_values]
    pooled = np.concatenate(values) if values else np.zeros(0)
    return stars.StarRule.of({"nps change": pooled[np.isfinite(pooled)]}, q=settings.q,
                             scope=settings.scope)


def compare_note(versus, rule, *, language: str | None = None, settings=None) -> str:
    """This month against the months before (:func:`analysis.nps.compare`) in one sentence,
    with what the evidence allows one to say (:func:`analysis.report.rules.evidence`):
    a real difference, none of a material size, or not enough evidence yet, by the
    ``settings``' level and margin (None: the params')."""
    from analysis.report import rules

    settings = rules.settings_or(settings)
    row = pd.DataFrame({"change_p_value": [versus.p_value], "change_low": [versus.low],
                        "change_high": [versus.high]})
    verdict = rules.evidence(row, "change", rule=rule, settings=settings).iloc[0]
    f = F.Format(L.resolve(language))
    return _x("compare", language, a=f.nps(versus.nps_a), n_a=f.count(versus.n_a),
              b=f.nps(versus.nps_b), n_b=f.count(versus.n_b),
              difference=f.signed(versus.difference),
              interval=f.interval(versus.low, versus.high, sign=True),
              p=f.p_value(versus.p_value),
              verdict=_x(f"verdict_{verdict}", language,
                         margin=f.number(settings.margin(), 0)))


def _x(key: str, language: str | None, **values) -> str:
    return L.text("explore", key, language=language, **values)


def _cause(cause, language: str | None, label: str = "") -> str:
    from analysis.report.tables import cause_name

    return cause_name(cause, label, language)


def _quotes(quotes) -> list[str]:
    return ["\n".join(f"«{s}»" for s in q) if isinstance(q, tuple | list) else ""
            for q in quotes]


def _yes(flags, language: str | None) -> list[str]:
    yes = L.text("marks", "yes", language=language)
    return [yes if not F.is_missing(f) and bool(f) else "" for f in flags]


def clusters_table(clusters: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """``RootCauseModel.clusters_`` or :func:`analysis.rootcause.propose_causes`: each
    cluster by its cause's name (a discovered one by its top words), its size and share, its
    top words and quotes."""
    c = L.columns(language)
    t = (Table(language=language)
         .text(c("cause"), [_cause(k, language, lab)
                            for k, lab in zip(clusters["cluster"], clusters["label"],
                                              strict=True)]))
    if "seeded" in clusters:
        t.text(_x("seeded", language), _yes(clusters["seeded"], language))
    t.count(_x("size", language), clusters["size"]).percent(_x("share_pct", language),
                                                            clusters["share"])
    if any(L.has("causes", k) for k in clusters["cluster"]):  # else the cause is its words
        t.text(c("top_words"), clusters["label"])
    return t.text(c("quotes"), _quotes(clusters["quotes"])).frame()


def eigengap_table(scores: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """``RootCauseModel.k_scores_``: each number of clusters tried, its eigenvalue and
    relative gap, the one chosen."""
    return (Table(language=language)
            .count(_x("k", language), scores["k"])
            .number(_x("eigenvalue", language), scores["eigenvalue"], 3)
            .number(_x("gap_ratio", language), scores["gap_ratio"], 2)
            .text(_x("chosen", language), _yes(scores["chosen"], language))
            .frame())


def method_ranks_table(ranks: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.drivers.compare_methods`: each driver's rank by each method, the
    drivers in the first method's order."""
    labels = L.driver_labels(language)
    ranks = ranks.sort_values(ranks.columns[0])
    t = Table(language=language).text(L.column("driver", language=language),
                                      [labels.get(d, d) for d in ranks.index])
    for method in ranks.columns:
        name = (_x(f"method_{method}", language) if L.has("explore", f"method_{method}")
                else str(method))
        t.count(name, ranks[method])
    return t.frame()


def cause_shares_table(shares: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.cause_shares`: each cause's comments, its share, how many
    the team labelled and the model suggested, and where it comes from."""
    from analysis.report.tables import catalogue_names

    c = L.columns(language)
    return (Table(language=language)
            .text(c("cause"), [_cause(k, language) for k in shares["cause"]])
            .count(_x("count", language), shares["count"])
            .percent(_x("share_pct", language), shares["share"], 1)
            .count(_x("team", language), shares["team"])
            .count(_x("model", language), shares["model"])
            .text(c("cause_source"), catalogue_names("cause_sources", shares["source"], language))
            .frame())


def review_queue_table(queue: pd.DataFrame, *, response_ids=None,
                       language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.review_queue`: the comments to label first, with the
    model's suggestion, its confidence and the runner-up (the book masks the comments)."""
    c = L.columns(language)
    t = (Table(language=language)
         .count(c("rank"), queue["rank"])
         .text(c("comment"), queue["text"])
         .count(_x("same_wording", language), queue["comments"])
         .text(_x("suggested", language), [_cause(k, language) for k in queue["suggested"]])
         .percent(_x("confidence", language), queue["confidence"])
         .text(_x("runner_up", language), [_cause(k, language) for k in queue["runner_up"]])
         .number(_x("uncertainty", language), queue["uncertainty"], 2)
         .number(_x("priority", language), queue["score"], 2))
    if response_ids is not None:
        t.text(c("response_id"), list(response_ids))
    return t.frame()


def refit_table(before: tuple[pd.Series, pd.DataFrame], after: tuple[pd.Series, pd.DataFrame],
                *, language: str | None = None) -> pd.DataFrame:
    """The team's labels, the suggestions that need review and their mean confidence before
    and after a refit; each of ``before`` and ``after`` is (labels, suggestions)."""
    rows = [before, after]

    def mean_confidence(s: pd.DataFrame) -> float:
        return float(s.loc[s["source"] == "model", "confidence"].mean())

    return (Table(language=language)
            .text(L.column("group", language=language),
                  [_x("before", language), _x("after", language)])
            .count(_x("team_labels", language), [int(lab.notna().sum()) for lab, _ in rows])
            .count(_x("need_review", language), [int(s["needs_review"].sum()) for _, s in rows])
            .percent(_x("mean_confidence", language), [mean_confidence(s) for _, s in rows], 1)
            .frame())


def action_status_table(status: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.actions.action_status` of a dealer: each action's target, description
    (masked by the book), dates, state and whether it was done on time."""
    from analysis.report.tables import as_dates, catalogue_names, target_name

    c = L.columns(language)
    yes, no = L.text("marks", "yes", language=language), L.text("marks", "no", language=language)
    return (Table(language=language)
            .text(c("action"), status["action_id"])
            .text(c("target"), [target_name(t, language) for t in status["target"]])
            .text(c("description"), status["description"].astype(object))
            .date(_x("opened", language), as_dates(status["opened_at"]))
            .date(c("due"), as_dates(status["due_at"]))
            .date(c("closed"), as_dates(status["closed_at"]))
            .text(c("state"), catalogue_names("action_states", status["state"], language))
            .text(c("on_time"), [F.MISSING if F.is_missing(v) else (yes if v else no)
                                 for v in status["on_time"]])
            .frame())


def monthly_flow_table(flow: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.retention.customer_flow` of one dealer by month: customers, new,
    returning and lost."""
    c = L.columns(language)
    flow = flow.sort_values("month")
    return (Table(language=language)
            .month(c("month"), flow["month"].astype(str))
            .count(c("customers"), flow["customers"])
            .count(c("new_customers"), flow["new"])
            .count(c("returning_customers"), flow["returning"])
            .count(c("lost_customers"), flow["lost"])
            .frame())


def cause_months_table(impact: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """:func:`analysis.rootcause.cause_impact` by month: answers per cause (columns, by
    name) and month (rows)."""
    wide = impact.pivot(index="month", columns="cause", values="count").fillna(0)
    t = Table(language=language).month(L.column("month", language=language),
                                       wide.index.astype(str))
    for cause in wide.columns:
        t.count(_cause(cause, language), wide[cause].astype("int64"))
    return t.frame()


def action_target_chart(responses: pd.DataFrame, action, *, dealer: str, dealer_name: str,
                        region: str, causes=None, language: str | None = None, ax=None):
    """A measured action's target by month (a driver's mean rating, a cause's share of
    answers) at the dealer and at the rest of its region, the months it opened and closed
    marked; ``action`` is a row of :func:`analysis.actions.action_effects`."""
    from analysis import actions
    from analysis.report import style
    from analysis.report.tables import target_name

    target = actions.target_values(responses, action["target"], causes=causes)
    frame = (responses.assign(month=responses["responded_at"].dt.to_period("M"), target=target)
             .loc[lambda d: d["region"] == region])
    who = np.where(frame["dealer_id"] == dealer, dealer_name,
                   _x("rest_of_region", language, region=region))
    wide = (frame.assign(who=who)
            .pivot_table(index="month", columns="who", values="target").sort_index())
    ax = style.new_axes(ax, height=3.5)
    x = np.arange(len(wide))
    for name in wide.columns:
        ax.plot(x, wide[name].to_numpy(), marker="o", label=name)
    for when in ("opened_at", "closed_at"):
        month = pd.Period(action[when], freq="M")
        if month in wide.index:
            ax.axvline(wide.index.get_loc(month), color="grey", ls=":")
    ax.set_xticks(x, [F.month(m, language=L.resolve(language)) for m in wide.index.astype(str)],
                  rotation=45)
    ax.yaxis.set_major_formatter(F.tick_formatter(language=language))
    ax.set(title=target_name(action["target"], language), xlabel="")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax
