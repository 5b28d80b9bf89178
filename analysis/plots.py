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
