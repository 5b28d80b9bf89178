"""Seaborn figures. Each takes tidy data and returns its Axes; the caller shows or saves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def nps_trend(summary: pd.DataFrame, *, hue: str | None = None, title: str = "",
              ax: plt.Axes | None = None) -> plt.Axes:
    """Monthly NPS line (one line per ``hue`` value) from a :func:`analysis.nps.summarize` frame.

    Error bars are drawn when the frame carries ``nps_low`` / ``nps_high``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    data = summary.assign(month=summary["period"].astype(str))
    sns.lineplot(data=data, x="month", y="nps", hue=hue, marker="o", ax=ax, sort=True)
    if {"nps_low", "nps_high"} <= set(data) and hue is None:
        ax.fill_between(data["month"], data["nps_low"], data["nps_high"], alpha=0.2,
                        label="95% interval")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="", ylabel="NPS, points", title=title)
    ax.tick_params(axis="x", rotation=45)
    if hue is not None:
        ax.legend(title="", bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return ax


def _level(level: float | None) -> float:
    from analysis.config import load_params

    return float(load_params("nps")["level"] if level is None else level)


def nps_errorbars(summary: pd.DataFrame, *, hue: str | None = None, level: float | None = None,
                  title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """NPS per period with its interval as error bars; significant changes are marked.

    Takes a :func:`analysis.nps.summarize` frame with ``period``. A change vs the previous
    period whose ``change_p_value`` is below ``1 - level`` gets a triangle (up or down);
    ``level`` defaults to params/nps.yaml. Groups of ``hue`` are dodged side by side.
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
    for k, ((name, data), color) in enumerate(zip(groups, colors, strict=True)):
        data = data.sort_values("period")
        x = data["period"].map(position).to_numpy(dtype=float) + (k - (len(groups) - 1) / 2) * width
        y = data["nps"].to_numpy()
        yerr = [y - data["nps_low"].to_numpy(), data["nps_high"].to_numpy() - y]
        ax.errorbar(x, y, yerr=yerr, fmt="o-", capsize=3, color=color, lw=1.2, ms=5,
                    label=str(name) if hue else f"NPS, {lvl:.0%} interval")
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
                   label=f"significant change (p < {1 - lvl:.2g})")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(periods)), [str(p) for p in periods], rotation=45)
    ax.set(xlabel="", ylabel="NPS, points", title=title)
    ax.legend(title="", bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return ax


def dealer_ranking(ranking: pd.DataFrame, *, top: int | None = None, title: str = "",
                   ax: plt.Axes | None = None) -> plt.Axes:
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
    for mask, color, name in ((~small, blue, "NPS and interval"),
                              (small, grey, "NPS and interval, small sample")):
        if mask.any():
            ax.errorbar(raw[mask], [v for v, m in zip(y, mask) if m],
                        xerr=[xerr[0][mask], xerr[1][mask]], fmt="o", mfc="white",
                        color=color, capsize=2, label=name)
    ax.scatter(data["nps_shrunk"], y, marker="D", color=sns.color_palette()[1], zorder=3,
               label="shrunk NPS (ranks)")
    ax.set_yticks(y, label.astype(str))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel="NPS, points", ylabel="", title=title)
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False, fontsize="small")
    return ax
