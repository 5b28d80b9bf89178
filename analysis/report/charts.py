"""Every chart of the reports, drawn with seaborn and matplotlib.

Each takes tidy data from a statistics module, draws on ``ax`` (a new figure when None) and
returns the Axes; none shows or saves: the notebook or the report decides. Words on a chart
come from the label catalogue (params/labels.yaml) in ``language``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.config import load_params
from analysis.report import labels as L

__all__ = ["action_effects", "customer_flow", "dealer_ranking", "funnel_rates",
           "return_rates", "importance_dynamics", "importance_performance",
           "incidents_by_month", "long_service_reasons", "nps_errorbars", "nps_trend",
           "repeats_by_person", "response_rates", "sla_compliance"]


def _t(key: str, language: str | None, **values) -> str:
    return L.text("charts", key, language=language, **values)


# --- NPS -------------------------------------------------------------------------------------


def nps_trend(summary: pd.DataFrame, *, hue: str | None = None, title: str = "",
              language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Monthly NPS line (one line per ``hue`` value) from a :func:`analysis.nps.summarize` frame.

    Error bars are drawn when the frame carries ``nps_low`` / ``nps_high``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    data = summary.assign(month=summary["period"].astype(str))
    sns.lineplot(data=data, x="month", y="nps", hue=hue, marker="o", ax=ax, sort=True)
    if {"nps_low", "nps_high"} <= set(data) and hue is None:
        ax.fill_between(data["month"], data["nps_low"], data["nps_high"], alpha=0.2,
                        label=_t("interval", language, level=f"{_level(None):.0%}"))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="", ylabel=_t("nps_points", language), title=title)
    ax.tick_params(axis="x", rotation=45)
    if hue is not None:
        ax.legend(title="", bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return ax


def _level(level: float | None) -> float:
    return float(load_params("nps")["level"] if level is None else level)


def nps_errorbars(summary: pd.DataFrame, *, hue: str | None = None, level: float | None = None,
                  title: str = "", language: str | None = None,
                  ax: plt.Axes | None = None) -> plt.Axes:
    """NPS per period with its interval as error bars; significant changes are marked.

    Takes a :func:`analysis.nps.summarize` frame with ``period``. A change vs the previous
    period whose ``change_p_value`` is below ``1 - level`` gets a triangle (up or down);
    ``level`` defaults to params/nps.yaml. Groups of ``hue`` are dodged side by side; touchpoint
    groups are named by the catalogue.
    """
    lvl = _level(level)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    periods = sorted(summary["period"].unique())
    position = {p: i for i, p in enumerate(periods)}
    groups = list(summary.groupby(hue, observed=True, sort=True)) if hue else [("", summary)]
    colors = sns.color_palette(n_colors=max(len(groups), 1))
    width = 0.5 / max(len(groups), 1)
    flagged = False
    group_names = L.names("touchpoints", language=language) if hue == "touchpoint" else {}
    for k, ((name, data), color) in enumerate(zip(groups, colors, strict=True)):
        data = data.sort_values("period")
        x = data["period"].map(position).to_numpy(dtype=float) + (k - (len(groups) - 1) / 2) * width
        y = data["nps"].to_numpy()
        yerr = [y - data["nps_low"].to_numpy(), data["nps_high"].to_numpy() - y]
        ax.errorbar(x, y, yerr=yerr, fmt="o-", capsize=3, color=color, lw=1.2, ms=5,
                    label=group_names.get(str(name), str(name)) if hue
                    else _t("nps_interval", language, level=f"{lvl:.0%}"))
        if "change_p_value" in data:
            significant = (data["change_p_value"] < 1 - lvl).to_numpy()
            up = significant & (data["change_vs_previous"] > 0).to_numpy()
            down = significant & ~up
            ax.scatter(x[up], y[up], marker="^", s=110, color=color, edgecolor="black",
                       zorder=3)
            ax.scatter(x[down], y[down], marker="v", s=110, color=color, edgecolor="black",
                       zorder=3)
            flagged |= bool(significant.any())
    if flagged:
        ax.scatter([], [], marker="^", s=80, color="white", edgecolor="black",
                   label=_t("significant_change", language, alpha=f"{1 - lvl:.2g}"))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(periods)), [str(p) for p in periods], rotation=45)
    ax.set(xlabel="", ylabel=_t("nps_points", language), title=title)
    ax.legend(title="", bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return ax


def dealer_ranking(ranking: pd.DataFrame, *, top: int | None = None, title: str = "",
                   language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Dealers from :func:`analysis.nps.rank_dealers`: raw NPS with its interval and the
    shrunk NPS the ranking uses; small samples are drawn pale."""
    data = ranking.sort_values("rank_network").head(top) if top else ranking
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.3 * len(data) + 1.5))
    label = data["dealer_name"] if "dealer_name" in data else data["dealer_id"]
    y = list(range(len(data)))[::-1]
    small = data["small_sample"].to_numpy()
    raw = data["nps"].to_numpy()
    xerr = [raw - data["nps_low"].to_numpy(), data["nps_high"].to_numpy() - raw]
    blue, grey = sns.color_palette()[0], "0.6"
    for mask, color, name in ((~small, blue, _t("nps_and_interval", language)),
                              (small, grey, _t("nps_and_interval_small", language))):
        if mask.any():
            ax.errorbar(raw[mask], [v for v, m in zip(y, mask) if m],
                        xerr=[xerr[0][mask], xerr[1][mask]], fmt="o", mfc="white",
                        color=color, capsize=2, label=name)
    ax.scatter(data["nps_shrunk"], y, marker="D", color=sns.color_palette()[1], zorder=3,
               label=_t("shrunk_nps", language))
    ax.set_yticks(y, label.astype(str))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel=_t("nps_points", language), ylabel="", title=title)
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False, fontsize="small")
    return ax


def response_rates(summary: pd.DataFrame, *, language: str | None = None,
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Response rate by month, one line per touchpoint, from a :func:`analysis.nps.summarize`
    frame by touchpoint and month with invitations."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    names = L.names("touchpoints", language=language)
    rate = summary.assign(month=summary["period"].astype(str),
                          rate=100 * summary["response_rate"],
                          touchpoint=summary["touchpoint"].map(lambda t: names.get(t, t)))
    sns.lineplot(data=rate, x="month", y="rate", hue="touchpoint", marker="o", ax=ax)
    ax.set(xlabel="", ylabel=_t("response_rate_pct", language),
           title=_t("response_rate_title", language))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title="")
    return ax


# --- loyalty drivers -------------------------------------------------------------------------


def importance_performance(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    language: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Scatter of drivers by performance (x) and importance (y) with mean cross-hairs.

    Parameters
    ----------
    table
        The frame from :func:`analysis.drivers.importance_performance`.
    labels
        Text shown for each driver; the catalogue's driver names by default.
    ax
        Axes to draw on; a new figure by default. The figure is neither shown nor saved.
    """
    from analysis.drivers import QUADRANTS

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    labels = L.driver_labels(language) if labels is None else labels
    quadrants = L.names("quadrants", language=language)
    data = table.assign(quadrant=table["quadrant"].astype(str).map(
        lambda q: quadrants.get(q, q)))
    sns.scatterplot(data=data, x="performance", y="importance", hue="quadrant",
                    hue_order=[quadrants.get(q, q) for q in QUADRANTS], s=80, ax=ax)
    ax.axvline(table["performance"].mean(), color="grey", linestyle="--", linewidth=1)
    ax.axhline(table["importance"].mean(), color="grey", linestyle="--", linewidth=1)
    for row in table.itertuples(index=False):  # one label per driver, a handful at most
        text = labels.get(row.driver, row.driver)
        ax.annotate(text, (row.performance, row.importance), xytext=(5, 5),
                    textcoords="offset points", fontsize=9)
    if ax.get_legend() is not None:
        ax.get_legend().set_title(L.column("quadrant", language=language))
    ax.set_xlabel(_t("performance", language))
    ax.set_ylabel(_t("importance", language))
    ax.set_title(_t("importance_performance_title", language))
    return ax


def importance_dynamics(by_period: pd.DataFrame, *, language: str | None = None,
                        ax: plt.Axes | None = None) -> plt.Axes:
    """Each driver's importance per period with its bootstrap interval (error bars).

    ``by_period`` is the frame of :func:`analysis.drivers.importance_by_period`; importance is
    in R^2 units so that a period where NPS is explained less shows lower bars for every driver.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    labels = L.driver_labels(language)
    data = by_period.assign(period=by_period["period"].astype(str))
    periods = sorted(data["period"].unique())
    x = {p: i for i, p in enumerate(periods)}
    drivers = list(dict.fromkeys(data["driver"]))
    width = 0.8 / max(1, len(drivers))
    for k, (driver, part) in enumerate(data.groupby("driver", sort=False)):
        pos = part["period"].map(x).to_numpy() + (k - (len(drivers) - 1) / 2) * width
        err = np.vstack([part["importance"] - part["low"], part["high"] - part["importance"]])
        ax.errorbar(pos, part["importance"], yerr=np.where(np.isnan(err), 0, err), fmt="o",
                    capsize=3, label=labels.get(driver, driver))
    ax.set_xticks(range(len(periods)), periods)
    ax.set(xlabel="", ylabel=_t("importance_r2", language),
           title=_t("importance_dynamics_title", language))
    ax.legend(frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    return ax


# --- operations ------------------------------------------------------------------------------


def sla_compliance(
    summary: pd.DataFrame,
    *,
    y: str = "dealer_name",
    target: float | None = None,
    language: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Compliance per group with its interval, worst at the top; ``target`` draws a line."""
    data = summary.dropna(subset=["compliance"]).sort_values("compliance")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.3 * len(data) + 1.5))
    sns.pointplot(data=data, x="compliance", y=y, order=data[y].tolist(), linestyle="none",
                  color="C0", ax=ax)
    ax.errorbar(data["compliance"], np.arange(len(data)),
                xerr=[(data["compliance"] - data["compliance_low"]).clip(lower=0),
                      (data["compliance_high"] - data["compliance"]).clip(lower=0)],
                fmt="none", ecolor="C0", alpha=0.6)
    if target is not None:
        ax.axvline(target, color="grey", ls="--", lw=0.8)
    ax.set(xlabel=_t("sla_share", language), ylabel="", xlim=(0, 1.02))
    return ax


def incidents_by_month(counts: pd.DataFrame, *, hue: str = "channel", kind: str = "complaint",
                       language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Stacked monthly bars of one kind of incident, coloured by ``hue``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    group = {"channel": "channels", "category": "categories"}.get(hue)
    data = counts.loc[counts["kind"] == kind].groupby(["period", hue], as_index=False)["n"].sum()
    if group is not None:
        known = L.names(group, language=language)
        data = data.assign(**{hue: data[hue].map(lambda v: known.get(v, v))})
    sns.histplot(data=data, x="period", weights="n", hue=hue, multiple="stack", shrink=0.8,
                 discrete=True, ax=ax)
    if ax.get_legend() is not None:
        ax.get_legend().set_title(L.column(hue, language=language) if L.has("columns", hue)
                                  else hue)
    ax.set(xlabel="", ylabel=L.name("incident_counts", kind, language=language))
    ax.tick_params(axis="x", rotation=45)
    return ax


def long_service_reasons(reasons: pd.DataFrame, *, language: str | None = None,
                         ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of long-service reasons, largest first."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(reasons) + 1.2))
    known = L.names("reasons", language=language)
    data = (reasons.sort_values("n", ascending=False)
            .assign(reason=lambda d: d["reason"].map(lambda r: known.get(r, r))))
    sns.barplot(data=data, x="share", y="reason", color="C1", ax=ax)
    ax.set(xlabel=_t("long_service_share", language), ylabel="")
    return ax


def repeats_by_person(stats: pd.DataFrame, *, role: str = "mechanic", top: int = 15,
                      language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of repeat repairs per person (the ``top`` with the most)."""
    from analysis.repairs import ROLES

    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    data = (stats.groupby(["dealer_id", role], as_index=False)["repeats"].sum()
            .loc[lambda d: d["repeats"] > 0]
            .sort_values("repeats", ascending=False).head(top)
            .assign(person=lambda d: d[role] + " (" + d["dealer_id"] + ")"))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * max(len(data), 1) + 1.2))
    sns.barplot(data=data, x="repeats", y="person", color="C3", ax=ax)
    ax.set(xlabel=_t("repeat_repairs", language), ylabel="")
    return ax


# --- closing the loop ------------------------------------------------------------------------


def action_effects(review: pd.DataFrame, *, language: str | None = None,
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Each measured action's effect with its interval, a line at 0; effective ones stand out.

    Actions without a measured effect yet are left out.
    """
    data = review.dropna(subset=["effect", "effect_low", "effect_high"]).reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * len(data) + 1.5))
    labels = (data["action_id"] + " " + data.get("dealer_name", data["dealer_id"])
              .fillna(data["dealer_id"]))
    y = np.arange(len(data))
    for effective, colour in ((False, "C7"), (True, "C2")):
        part = data["effective"].fillna(False).astype(bool) == effective
        ax.errorbar(data.loc[part, "effect"], y[part.to_numpy()],
                    xerr=[(data.loc[part, "effect"] - data.loc[part, "effect_low"]).clip(lower=0),
                          (data.loc[part, "effect_high"] - data.loc[part, "effect"])
                          .clip(lower=0)],
                    fmt="o", color=colour, capsize=3,
                    label=_t("effective" if effective else "not_shown_effective", language))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, labels.tolist())
    ax.invert_yaxis()
    ax.set(xlabel=_t("action_effect", language), ylabel="")
    if len(data):
        ax.legend(loc="best", frameon=False)
    return ax


def customer_flow(flow: pd.DataFrame, *, language: str | None = None,
                  ax: plt.Axes | None = None) -> plt.Axes:
    """New and returning customers per month (stacked bars) and the customers lost (a line)."""
    monthly = flow.groupby("month")[["new", "returning", "lost"]].sum().sort_index()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    x = np.arange(len(monthly))
    ax.bar(x, monthly["returning"], color="C0", label=_t("returning_customers", language))
    ax.bar(x, monthly["new"], bottom=monthly["returning"], color="C9",
           label=_t("new_customers", language))
    ax.plot(x, monthly["lost"], color="C3", marker="o", label=_t("lost_customers", language))
    ax.set_xticks(x, monthly.index.tolist(), rotation=45)
    ax.set(ylabel=_t("customers", language), xlabel="")
    ax.legend(loc="upper left", frameon=False)
    return ax


def return_rates(rates: pd.DataFrame, *, language: str | None = None,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """The return rate by NPS category with its interval."""
    data = rates.dropna(subset=["rate"]).reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    names = [L.name("nps_categories", c, language=language) for c in data["category"]]
    x = np.arange(len(data))
    ax.bar(x, data["rate"], color=["C2" if c == "promoter" else "C7" if c == "passive" else "C3"
                                   for c in data["category"]])
    ax.errorbar(x, data["rate"], yerr=[(data["rate"] - data["rate_low"]).clip(lower=0),
                                       (data["rate_high"] - data["rate"]).clip(lower=0)],
                fmt="none", ecolor="black", capsize=4)
    ax.set_xticks(x, names)
    ax.set(ylabel=_t("return_rate", language), ylim=(0, 1), xlabel="")
    return ax


def funnel_rates(rates: pd.DataFrame, *, language: str | None = None,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """Reach and response rate per channel with their intervals."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    x = np.arange(len(rates))
    for i, (rate, colour) in enumerate((("reach", "C0"), ("response", "C1"))):
        ax.errorbar(x + (i - 0.5) * 0.2, rates[f"{rate}_rate"],
                    yerr=[(rates[f"{rate}_rate"] - rates[f"{rate}_low"]).clip(lower=0),
                          (rates[f"{rate}_high"] - rates[f"{rate}_rate"]).clip(lower=0)],
                    fmt="o", color=colour, capsize=4, label=_t(f"{rate}_rate", language))
    ax.set_xticks(x, [L.name("channels", c, language=language) for c in rates["channel"]])
    ax.set(ylim=(0, 1), ylabel=_t("share", language), xlabel="")
    ax.legend(loc="best", frameon=False)
    return ax
