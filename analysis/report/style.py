"""The one look of every chart: a palette safe for colour-blind readers and for print.

The palette is Okabe & Ito's (2008), readable in every common colour-vision deficiency and
distinct in greyscale when paired with markers. :func:`apply` sets matplotlib's rcParams for
the reports; the chart functions ask here for colours and for the "not enough data" panel.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["GREY", "LIGHT", "PALETTE", "RC", "WIDTH", "apply", "colors", "new_axes", "too_thin"]

# Okabe-Ito: blue, orange, bluish green, vermillion, sky blue, reddish purple, yellow, black
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442",
           "#000000")
BLUE, ORANGE, GREEN, RED, SKY, PURPLE, YELLOW, BLACK = PALETTE
GREY = "#8C8C8C"
LIGHT = "#D9D9D9"
UP, DOWN = GREEN, RED  # a significant rise and fall
WIDTH = 9.0  # inches: a chart fills the report's column at 100 dpi

RC = {
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "both",
    "grid.color": "#E6E6E6",
    "grid.linewidth": 0.7,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",  # has Cyrillic glyphs
    "image.cmap": "cividis",
}


def apply() -> None:
    """Set the report look for every figure drawn afterwards in this process."""
    mpl.rcParams.update(RC)


def colors(n: int) -> list[str]:
    """``n`` colours of the palette (cycled when more are asked for)."""
    return [PALETTE[i % len(PALETTE)] for i in range(max(n, 1))]


def new_axes(ax=None, *, height: float = 4.0, width: float = WIDTH):
    """``ax`` or the Axes of a new figure of the report's width."""
    if ax is not None:
        return ax
    apply()
    _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return ax


def too_thin(ax, message: str, *, title: str = ""):
    """Replace a chart by one line saying why it is not drawn (data too thin)."""
    ax.clear()
    ax.set_axis_off()
    ax.figure.set_size_inches(ax.figure.get_size_inches()[0], 1.0)
    ax.text(0.0, 0.5, message, transform=ax.transAxes, ha="left", va="center", fontsize=10,
            color=GREY, style="italic")
    if title:
        ax.set_title(title)
    return ax
