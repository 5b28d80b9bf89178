"""Every chart of the reports, drawn with seaborn and matplotlib.

Each takes tidy data from a statistics module, draws on ``ax`` (a new figure when None) and
returns the Axes; none shows or saves: the notebook or the report decides. Words on a chart
come from the label catalogue (params/labels.yaml) in ``language``; every number on it
(annotations, ticks, percent) and every month is written by the one formatter
(:mod:`analysis.report.format`) in the same language.

Nothing is hidden: a ranking shows every dealer or both ends with a line saying how many it
leaves out (all are in the Excel workbook); legends stand beside the data, never on it;
a title wider than its room wraps; labels of points are placed where they cover neither one
another nor a point, inside the axes (:func:`_place_labels`). tests/test_charts_layout.py
checks every chart with long Russian labels from matplotlib's own text boxes.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.transforms import blended_transform_factory, offset_copy

from analysis.privacy import mask_pii_series
from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report import rules, style
from analysis.settings import level_or

__all__ = ["action_effects", "cause_pareto", "cause_text", "css_comparison", "customer_flow",
           "dealer_caterpillar", "dealer_ranking", "driver_importance", "funnel_rates",
           "growth_dots", "importance_dynamics", "importance_performance", "incidents_by_month",
           "long_service_reasons", "nps_errorbars", "nps_trend", "repeat_rates",
           "repeats_by_person", "response_rates", "return_rates", "sla_compliance",
           "touchpoint_panels"]

style.apply()

_NOTE = "inside-note"  # the gid of a line written across an axes: wrapped to its width
# a legend beside the axes, at the top of its right edge: never on the data
_BESIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}


def _labels(values, language: str | None) -> list[str]:
    """Tick and legend labels as a reader may see them: phones, e-mails and VINs masked (the
    masks in the chart's language)."""
    return [L.masked(v, language=language) for v in
            mask_pii_series(pd.Series([str(v) for v in values], dtype=object))]


def _thin(ax, language: str | None, title: str = ""):
    return style.too_thin(ax, _t("too_thin", language), title=title)


def _t(key: str, language: str | None, **values) -> str:
    return L.text("charts", key, language=language, **values)


def _chart(function):
    """A chart in its language: ``language`` (the catalogue's default when None) handed to the
    chart resolved, so every word and number it writes is in it, its numeric axes given the
    formatter's ticks and its titles wrapped to their room (:func:`_finish`)."""
    @functools.wraps(function)
    def chart(*args, **kwargs):
        language = L.resolve(kwargs.get("language"))
        drawn = function(*args, **{**kwargs, "language": language})
        _finish(drawn, language)
        return drawn

    return chart


def _finish(drawn, language: str) -> None:
    """Ticks of every numeric axis through the one formatter (``0,05``, ``1 500``), then the
    titles wrapped to the width they have. Safe to call again (a chart that places labels
    calls it before measuring)."""
    axes = np.asarray(drawn, dtype=object).ravel() if isinstance(drawn, np.ndarray) else [drawn]
    figure = axes[0].figure
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is mticker.ScalarFormatter:
                axis.set_major_formatter(F.tick_formatter("number", language=language))
    _fit_titles(figure)


def _renderer(figure, *, layout: bool = True):
    """A renderer to measure texts with, the figure laid out first (constrained layout run:
    as costly as drawing it) unless ``layout`` is False (a text's size needs no layout)."""
    if layout:
        figure.draw_without_rendering()
    canvas = figure.canvas
    return canvas.get_renderer() if hasattr(canvas, "get_renderer") else \
        figure._get_renderer()


def _titles(ax):
    return [t for t in (ax.title, getattr(ax, "_left_title", None),
                        getattr(ax, "_right_title", None)) if t is not None and t.get_text()]


def _fit_titles(figure) -> None:
    """Wrap every title wider than its room onto more lines: an axes' title runs from the
    axes' left edge to the next panel on its right or the figure's edge (long Russian
    touchpoint names ran into the next panel's title); a suptitle and an axis label span the
    figure; a line written across an axes (:data:`_NOTE`) spans the axes.

    The figure is laid out only when a title may not fit where its axes could start at the
    latest (after its widest tick label) or a line is written across an axes: laying out
    costs as much as drawing the chart.
    """
    fitted = _words(figure)
    if getattr(figure, "_fitted_words", None) == fitted:  # fitted already, nothing changed
        return
    renderer = _renderer(figure, layout=False)
    width, height = figure.bbox.width, figure.bbox.height
    pad = 6 * figure.dpi / 72
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        _wrap_to(suptitle, width - 2 * pad, renderer)
    shown = [ax for ax in figure.axes if ax.get_visible()]
    for ax in shown:
        _wrap_to(ax.xaxis.label, width - 2 * pad, renderer)
        _wrap_to(ax.yaxis.label, height - 2 * pad, renderer)
    titles = [(ax, t) for ax in shown for t in _titles(ax)]
    notes = [(ax, t) for ax in shown for t in ax.texts if t.get_gid() == _NOTE]
    if len(shown) - len(_twins(shown)) != 1 or any(
            t.get_window_extent(renderer).width > width - _left_at_most(ax, renderer) - pad
            for ax, t in titles) or any(
            t.get_window_extent(renderer).width > width - _left_at_most(ax, renderer)
            - _right_at_most(ax, renderer) - 2 * pad for ax, t in notes):
        _fit_laid_out(figure, titles, notes, pad)
    figure._fitted_words = _words(figure)


def _words(figure) -> tuple:
    """The figure's size and the texts :func:`_fit_titles` wraps, as they are now."""
    texts = [getattr(figure, "_suptitle", None)]
    for ax in figure.axes:
        texts += [ax.xaxis.label, ax.yaxis.label, *_titles(ax), *ax.texts]
    return (tuple(figure.bbox.size),
            tuple(t.get_text() for t in texts if t is not None))


def _fit_laid_out(figure, titles, notes, pad: float) -> None:
    """Wrap the titles and the lines across axes to the laid-out figure."""
    width = figure.bbox.width
    renderer = _renderer(figure)
    shown = [ax for ax in figure.axes if ax.get_visible()]
    boxes = {ax: ax.get_window_extent(renderer) for ax in shown}
    for ax, note in notes:
        _wrap_to(note, boxes[ax].width - 2 * pad, renderer)
    for ax, title in titles:
        own = boxes[ax]
        right = [b.x0 for other, b in boxes.items() if other is not ax and b.x0 > own.x1 - 1
                 and b.y0 < own.y1 and b.y1 > own.y0]
        start = title.get_window_extent(renderer).x0
        _wrap_to(title, min([width, *right]) - pad - start, renderer)


def _twins(axes) -> list:
    """The axes drawn over another one's place (``twinx``): they add no panel."""
    return [ax for k, ax in enumerate(axes)
            if any(np.allclose(ax.get_position().bounds, other.get_position().bounds)
                   for other in axes[:k])]


def _right_at_most(ax, renderer) -> float:
    """How much a legend beside an axes takes on its right at most, in pixels."""
    legend = ax.get_legend()
    if legend is None:
        return 20 * ax.figure.dpi / 72
    return legend.get_window_extent(renderer).width + 40 * ax.figure.dpi / 72


def _left_at_most(ax, renderer) -> float:
    """Where an axes' left edge can lie at most, in pixels: its widest tick label, its
    label and generous padding (a bound, so that a title fitting it fits the laid-out
    figure)."""
    ticks = [t.get_window_extent(renderer).width for t in ax.get_yticklabels()
             if t.get_visible() and t.get_text()]
    label = ax.yaxis.label
    across = label.get_window_extent(renderer).width if label.get_text() else 0.0
    return max(ticks, default=0.0) + across + 40 * ax.figure.dpi / 72


def _wrap_to(text, room: float, renderer) -> None:
    """Break ``text`` at spaces into the fewest lines that fit ``room`` pixels along its
    lines (a vertical axis label's height)."""
    def length():
        box = text.get_window_extent(renderer)
        return box.height if abs(text.get_rotation() - 90) < 1 else box.width

    # a year stays with its month (``окт. 2026``): a no-break space, which textwrap keeps
    words = re.sub(r"(?<=\S) (?=\d{4}\b)", "\xa0", " ".join(text.get_text().split("\n")))
    if not words or length() <= room:
        return
    for chars in range(len(words) - 1, 7, -1):
        text.set_text("\n".join(textwrap.wrap(words, chars)))
        if length() <= room:
            return


def _percent_axis(axis, language: str | None) -> None:
    """Shares on ``axis`` written as percent by the one formatter (``25 %`` in Russian)."""
    axis.set_major_formatter(F.tick_formatter("percent", language=L.resolve(language)))


# --- rankings: both ends, never only the best --------------------------------------------------


def _both_ends(frame: pd.DataFrame, top: int | None) -> tuple[pd.DataFrame, int]:
    """The first ``top // 2`` rows of ``frame`` (in the order drawn, top first) and the last
    ``top - top // 2``, with how many rows between them are left out: a ranking never shows
    only one end (the worst dealer of 60 was cut from the CSS chart)."""
    if not top or len(frame) <= top:
        return frame, 0
    return pd.concat([frame.head(top // 2), frame.tail(top - top // 2)]), len(frame) - top


def _rows(n: int, top: int | None, hidden: int) -> tuple[np.ndarray, float | None]:
    """y of ``n`` rows drawn top-down, with one blank row where ``hidden`` rows are left out
    (after the first ``top // 2``), and that row's y (None when nothing is left out)."""
    y = np.arange(n)[::-1].astype(float)
    if not hidden:
        return y, None
    first = int(top) // 2
    y[:first] += 1
    return y, float(n - first)


def _hidden_note(ax, gap: float | None, hidden: int, language: str | None,
                 rows: int) -> None:
    """The blank row of a ranking says how many dealers it leaves out and where they are."""
    ax.set_ylim(-0.8, rows + (0 if gap is None else 1) - 0.2)
    if gap is None:
        return
    ax.text(0.5, gap, _t("dealers_not_shown", language, n=F.count(hidden, language=language)),
            transform=blended_transform_factory(ax.transAxes, ax.transData), ha="center",
            va="center", fontsize=8.5, style="italic", color=style.BLACK,
            bbox={"facecolor": "white", "edgecolor": style.LIGHT, "boxstyle": "round,pad=0.3"},
            zorder=5, gid=_NOTE)


# --- labels of points, placed apart -------------------------------------------------------------

# the eight places around a point, tried in this order: right, above-right, below-right,
# above, below, left, above-left, below-left
_AROUND = ((1, 0), (1, 1), (1, -1), (0, 1), (0, -1), (-1, 0), (-1, 1), (-1, -1))
_FARTHER = (1.0, 2.5, 4.5, 7.0, 10.0)  # steps out, a leader line beyond the first


def _overlap(a, b) -> float:
    """The area two boxes (x0, y0, x1, y1) share."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, width) * max(0.0, height)


def _crosses(line, box) -> bool:
    """Whether the segment (x0, y0, x1, y1) passes through the box (Liang-Barsky)."""
    x0, y0, x1, y1 = line
    dx, dy = x1 - x0, y1 - y0
    low, high = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def _outside(box, area) -> float:
    """The area of ``box`` outside ``area``."""
    inside = _overlap(box, area)
    return (box[2] - box[0]) * (box[3] - box[1]) - inside


def _place_labels(ax, x, y, texts, *, fontsize: float = 9, marker: float = 5.0) -> list:
    """Label each point (``x``, ``y`` in data units) beside it, so that no label covers
    another label or a point, nor leaves the axes.

    A layout of our own, deterministic: left to right, each label takes the first free of
    eight places around its point (right first), then the same eight farther out with a
    thin leader line; where none is free, the least covered one. When a label fits nowhere
    inside, the axes' limits widen on that side and the layout runs again. ``marker`` is a
    point's radius in points. Returns the annotations.
    """
    x, y, texts = np.asarray(x, dtype=float), np.asarray(y, dtype=float), list(texts)
    figure = ax.figure
    for attempt in range(4):
        renderer = _renderer(figure)
        scale = figure.dpi / 72  # pixels per point
        probes = [ax.text(0, 0, t, fontsize=fontsize) for t in texts]
        sizes = [(p.get_window_extent(renderer).width, p.get_window_extent(renderer).height)
                 for p in probes]
        for p in probes:
            p.remove()
        frame = ax.get_window_extent(renderer)
        area = (frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2)
        points = ax.transData.transform(np.column_stack([x, y]))
        radius, gap = marker * scale, 3 * scale
        dots = [(px - radius, py - radius, px + radius, py + radius) for px, py in points]
        placed: list[tuple] = []
        leaders: list[tuple] = []
        chosen: dict[int, tuple] = {}
        spill = np.zeros(4)  # pixels missing left, below, right, above
        for i in np.lexsort((points[:, 1], points[:, 0])):
            (px, py), (w, h) = points[i], sizes[i]
            best = None
            for k, spots in enumerate(_spots(px, py, w, h, radius, gap)):
                for x0, y0 in spots:
                    box = (x0, y0, x0 + w, y0 + h)
                    # 2 points apart: a figure drawn at another dpi rounds glyphs differently
                    room = (x0 - 2 * scale, y0 - 2 * scale, x0 + w + 2 * scale,
                            y0 + h + 2 * scale)
                    # a leader line (beyond the first step) runs from the box's centre
                    line = (px, py, x0 + w / 2, y0 + h / 2) if k else None
                    cost = (1e4 * _outside(box, area)
                            + 1e2 * sum(_overlap(room, b) for b in placed)
                            + 1e3 * sum(_crosses(s, room) for s in leaders)
                            + 10 * sum(_overlap(box, d) for d in dots) + k)
                    if line is not None:
                        cost += 1e3 * sum(_crosses(line, b) for b in placed)
                        cost += 1e2 * sum(_crosses(line, d) for j, d in enumerate(dots)
                                          if j != i)
                    if best is None or cost < best[0]:
                        best = (cost, box, k, line)
                if best[0] < 1e2:  # free of labels, lines and points at this distance
                    break
            cost, box, k, line = best
            placed.append(box)
            if line is not None:
                leaders.append(line)
            chosen[i] = (box, k, px, py)
            if _outside(box, area) > 0:
                spill = np.maximum(spill, [area[0] - box[0], area[1] - box[1],
                                           box[2] - area[2], box[3] - area[3]])
        if not (spill > 0.5).any() or attempt == 3:
            break
        _widen(ax, spill, frame)
    notes = []
    for i, text in enumerate(texts):
        box, k, px, py = chosen[i]
        leader = {"arrowstyle": "-", "color": style.GREY, "lw": 0.8, "shrinkA": 0,
                  "shrinkB": radius / scale} if k > 0 else None
        note = ax.annotate(text, (x[i], y[i]), xytext=((box[0] - px) / scale,
                                                       (box[1] - py) / scale),
                           textcoords="offset points", ha="left", va="bottom",
                           fontsize=fontsize, arrowprops=leader)
        note.set_in_layout(False)  # inside the axes: the layout need not make room
        notes.append(note)
    return notes


def _spots(px: float, py: float, w: float, h: float, radius: float, gap: float):
    """Where a ``w`` x ``h`` label of the point (``px``, ``py``) may go, nearest first, as
    rounds of lower-left corners: the eight places around the point at each step out, then
    stacked rows above and below it on either side (a cluster of points)."""
    for far in _FARTHER:
        reach = radius + gap * far
        yield [(px + dx * reach - (w if dx < 0 else w / 2 if dx == 0 else 0),
                py + dy * reach - (h if dy < 0 else h / 2 if dy == 0 else 0))
               for dx, dy in _AROUND]
    step = h + gap
    for row in range(1, 13):
        yield [(px + side * (radius + gap) - (w if side < 0 else 0),
                py - h / 2 + sign * row * step)
               for side in (1, -1) for sign in (1, -1)]


def _widen(ax, spill, frame) -> None:
    """Widen the axes' limits by the pixels labels lacked on each side (plus a little)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    per_x, per_y = (x1 - x0) / frame.width, (y1 - y0) / frame.height
    left, below, right, above = np.clip(spill, 0, None) * 1.3 + np.where(spill > 0.5, 4, 0)
    ax.set_xlim(x0 - left * per_x, x1 + right * per_x)
    ax.set_ylim(y0 - below * per_y, y1 + above * per_y)


# --- NPS -------------------------------------------------------------------------------------


@_chart
def nps_trend(data: pd.DataFrame, *, hue: str | None = None, title: str = "",
              level: float | None = None, language: str | None = None,
              ax: plt.Axes | None = None, rule: rules.StarRule | None = None,
              settings: rules.Settings | None = None) -> plt.Axes:
    """Monthly NPS line with its interval as a band; significant changes are marked.

    ``data`` is a :func:`analysis.nps.summarize` frame with ``period`` (one line per ``hue``
    value when given, without bands). A month whose change passes the report's significance
    rule (:func:`analysis.report.rules.significant`; ``rule`` the report's star rule) gets a
    triangle, up or down.
    """
    lvl = level_or(level, settings)
    ax = style.new_axes(ax, height=3.3)
    if data.empty or data["nps"].notna().sum() == 0:
        return _thin(ax, language, title)
    frame = data.sort_values("period").assign(month=lambda d: d["period"].astype(str))
    months = sorted(frame["month"].unique())
    position = {m: i for i, m in enumerate(months)}
    groups = list(frame.groupby(hue, observed=True, sort=True)) if hue else [("", frame)]
    names = L.names("touchpoints", language=language) if hue == "touchpoint" else {}
    flagged = False
    for (name, part), color in zip(groups, style.colors(len(groups)), strict=True):
        x = part["month"].map(position).to_numpy()
        label = names.get(str(name), str(name)) if hue else _t("nps_line", language)
        ax.plot(x, part["nps"], marker="o", color=color, lw=1.8, ms=4, label=label)
        if hue is None and {"nps_low", "nps_high"} <= set(part):
            ax.fill_between(x, part["nps_low"].astype(float), part["nps_high"].astype(float),
                            color=color, alpha=0.18, lw=0,
                            label=_t("interval", language,
                                     level=F.percent(lvl, language=language)))
        sig = rules.significant(part, "change", level_=level, rule=rule, settings=settings).to_numpy()
        up = sig & (part.get("change_vs_previous", pd.Series(0, index=part.index)) > 0).to_numpy()
        down = sig & ~up
        xs = np.asarray(x)
        ax.scatter(xs[up], part["nps"].to_numpy()[up], marker="^", s=120, color=style.UP,
                   edgecolor="black", zorder=4)
        ax.scatter(xs[down], part["nps"].to_numpy()[down], marker="v", s=120,
                   color=style.DOWN, edgecolor="black", zorder=4)
        flagged |= bool(sig.any())
    ax.set_xticks(np.arange(len(months)), _month_labels(months, language))
    if flagged:
        ax.scatter([], [], marker="^", s=80, color=style.UP, edgecolor="black",
                   label=_star_label(rule, lvl, language))
    ax.axhline(0, color=style.GREY, lw=0.8)
    ax.set(xlabel="", ylabel=_t("nps_points", language), title=title)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title="", **_BESIDE)
    return ax


def _star_label(rule, lvl: float, language: str | None) -> str:
    """The legend entry of a starred change: the report's rule, or the raw level's p."""
    if rule is not None:
        return _t("starred_change", language)
    return _t("significant_change", language, alpha=F.p_value(1 - lvl, language=language))


def _month_labels(periods, language: str | None) -> list[str]:
    """Months as readers write them (``окт. 2026``, ``Oct 2026``); other periods (weeks,
    quarters) as they are."""
    return [F.month(p, language=L.resolve(language)) if re.fullmatch(r"\d{4}-\d{2}", str(p))
            else str(p) for p in periods]


@_chart
def touchpoint_panels(data: pd.DataFrame, *, level: float | None = None,
                      language: str | None = None, ax=None,
                      rule: rules.StarRule | None = None,
                      settings: rules.Settings | None = None):
    """Small multiples: one NPS trend per touchpoint on a shared scale, with its band.

    ``data`` is :func:`analysis.nps.summarize` by touchpoint and month. Returns the array
    of Axes (``ax``, if given, must hold one Axes per touchpoint).
    """
    names = L.names("touchpoints", language=language)
    points = [t for t in names if t in set(data.get("touchpoint", []))] or \
        sorted(data.get("touchpoint", pd.Series(dtype=object)).dropna().unique())
    if ax is None:
        style.apply()
        cols = 3
        rows = max(1, -(-len(points) // cols))
        _, ax = plt.subplots(rows, cols, figsize=(style.WIDTH, 2.4 * rows + 0.6),
                             sharex=True, sharey=True, layout="constrained", squeeze=False)
    axes = np.asarray(ax).ravel()
    if not points:
        _thin(axes[0], language, _t("touchpoints_title", language))
        return axes
    ymin = data["nps_low"].min() if "nps_low" in data else data["nps"].min()
    ymax = data["nps_high"].max() if "nps_high" in data else data["nps"].max()
    for a, point in zip(axes, points, strict=False):
        part = data.loc[data["touchpoint"] == point].sort_values("period")
        x = np.arange(len(part))
        a.fill_between(x, part["nps_low"].astype(float), part["nps_high"].astype(float),
                       color=style.BLUE, alpha=0.18, lw=0)
        a.plot(x, part["nps"], marker="o", ms=3, color=style.BLUE)
        sig = rules.significant(part, "change", level_=level, rule=rule, settings=settings).to_numpy()
        a.scatter(x[sig], part["nps"].to_numpy()[sig], marker="D", s=40, color=style.ORANGE,
                  edgecolor="black", zorder=4)
        a.axhline(0, color=style.GREY, lw=0.8)
        a.set_title(names.get(point, point), fontsize=10)
        a.set_xticks(x[::3], _month_labels(part["period"].astype(str), language)[::3])
        a.tick_params(axis="x", rotation=45, labelsize=8)
        if np.isfinite(ymin) and np.isfinite(ymax):
            a.set_ylim(min(ymin, 0) - 5, max(ymax, 0) + 5)
    for a in axes[len(points):]:
        a.set_axis_off()
    axes[0].figure.suptitle(_t("touchpoints_title", language), x=0.01, ha="left",
                            fontweight="bold", fontsize=12)
    return axes


@_chart
def dealer_caterpillar(data: pd.DataFrame, *, region_mean: float | None = None,
                       top: int | None = 40, title: str = "", language: str | None = None,
                       ax: plt.Axes | None = None, rule: rules.StarRule | None = None,
                       settings: rules.Settings | None = None
                       ) -> plt.Axes:
    """Caterpillar plot: each dealer's raw NPS with its interval and its shrunk NPS, sorted
    by the shrunk NPS; the region's mean as a line; small samples drawn hollow and pale.
    A dealer whose change vs the previous month passes the report's rule (``rule``, else
    the frame's ``change_flag``) gets a triangle up or down at its NPS.

    ``data`` is :func:`analysis.nps.rank_dealers` (``nps``, ``nps_low``, ``nps_high``,
    ``nps_shrunk``, ``small_sample``, ``dealer_name``). ``top`` keeps the best and worst
    ``top / 2`` dealers when there are more, a line between them saying how many are left
    out.
    """
    frame, hidden = _both_ends(data.dropna(subset=["nps"])
                               .sort_values("nps_shrunk", ascending=False), top)
    ax = style.new_axes(ax, height=0.24 * (len(frame) + bool(hidden)) + 1.6)
    if frame.empty:
        return _thin(ax, language, title)
    y, gap = _rows(len(frame), top, hidden)
    small = frame["small_sample"].fillna(False).astype(bool).to_numpy()
    raw = frame["nps"].to_numpy(dtype=float)
    err = _err(raw, frame["nps_low"], frame["nps_high"])
    for mask, color, face, name in (
            (~small, style.BLUE, style.BLUE, _t("nps_and_interval", language)),
            (small, style.GREY, "white", _t("nps_and_interval_small", language))):
        if mask.any():
            ax.errorbar(raw[mask], y[mask], xerr=err[:, mask], fmt="o", color=color,
                        mfc=face, ms=4, capsize=0, lw=1.2, label=name)
    ax.scatter(frame["nps_shrunk"], y, marker="D", s=22, color=style.ORANGE, zorder=3,
               label=_t("shrunk_nps", language))
    if "change_vs_previous" in frame:
        sig = rules.significant(frame, "change", rule=rule, settings=settings).to_numpy()
        up = sig & (frame["change_vs_previous"] > 0).to_numpy()
        for mask, marker, color in ((up, "^", style.UP), (sig & ~up, "v", style.DOWN)):
            if mask.any():
                ax.scatter(raw[mask], y[mask], marker=marker, s=90, color=color,
                           edgecolor="black", zorder=4)
        if sig.any():
            ax.scatter([], [], marker="^", s=60, color=style.UP, edgecolor="black",
                       label=_star_label(rule, level_or(None, settings), language))
    if region_mean is not None and np.isfinite(region_mean):
        ax.axvline(region_mean, color=style.RED, ls="--", lw=1,
                   label=_t("scope_mean", language))
    name = frame["dealer_name"] if "dealer_name" in frame else frame["dealer_id"]
    ax.set_yticks(y, _labels(name, language))
    _hidden_note(ax, gap, hidden, language, len(frame))
    ax.grid(axis="y", visible=False)
    ax.set(xlabel=_t("nps_points", language), ylabel="", title=title)
    ax.legend(fontsize="small", **_BESIDE)
    return ax


@_chart
def driver_importance(data: pd.DataFrame, *, month: str, previous: str | None = None,
                      language: str | None = None, ax: plt.Axes | None = None,
                      changed=()) -> plt.Axes:
    """Driver importance of ``month`` with its interval, and the previous month beside it.

    ``data`` is :func:`analysis.drivers.importance_by_period` (``period``, ``driver``,
    ``importance``, ``low``, ``high``). Drivers sorted by this month's importance; the
    drivers in ``changed`` (their change passes the report's star rule) carry its mark.
    """
    ax = style.new_axes(ax, height=3.6)
    frame = data.assign(period=data["period"].astype(str))
    now = frame.loc[frame["period"] == month].sort_values("importance")
    if now.empty or now["importance"].notna().sum() == 0:
        return _thin(ax, language, _t("driver_importance_title", language,
                                      month=_month_labels([month], language)[0]))
    labels = L.driver_labels(language)
    order = list(now["driver"])
    y = np.arange(len(order))
    shown = [(month, now, style.BLUE, 0.18)]
    if previous is not None:
        before = frame.loc[frame["period"] == previous].set_index("driver").reindex(order)
        if before["importance"].notna().any():
            shown.append((previous, before.reset_index(), style.GREY, -0.18))
    for period, part, color, shift in shown:
        ax.barh(y + shift, part["importance"], height=0.34, color=color,
                label=_month_labels([period], language)[0], alpha=0.9)
        ax.errorbar(part["importance"], y + shift,
                    xerr=_err(part["importance"], part["low"], part["high"]), fmt="none",
                    ecolor="black", lw=1, capsize=2)
    star = L.text("marks", "significant", language=language)
    starred = set(changed)
    ax.set_yticks(y, [labels.get(d, d) + (f" {star}" if d in starred else "") for d in order])
    ax.grid(axis="y", visible=False)
    ax.set(xlabel=_t("importance_r2", language), ylabel="",
           title=_t("driver_importance_title", language, month=_month_labels([month],
                                                                              language)[0]))
    ax.legend(**_BESIDE)
    return ax


@_chart
def cause_pareto(data: pd.DataFrame, *, top: int = 10,
                 language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Pareto of root causes by NPS impact (the points each cause costs, largest first), with
    intervals and the cumulative share of the total loss.

    ``data`` is :func:`analysis.rootcause.cause_impact` or ``top_causes`` (``cause``,
    ``label``, ``count``, ``impact``). With a ``contribution`` column (the causes' additive
    shares of the gap, :func:`analysis.rootcause.cause_impact`) the bars are the
    contributions with their bootstrap intervals (``contribution_low``,
    ``contribution_high``); otherwise the impacts, with their interval where the frame has
    one (``impact_low``, ``impact_high``).
    """
    if "contribution" in data:
        return _contribution_pareto(data, top=top, language=language, ax=ax)
    ax = style.new_axes(ax, height=3.4)
    # impact is the points the scope's NPS loses (negative): drawn as points lost, largest first
    frame = data.dropna(subset=["impact"]).sort_values("impact").head(top)
    if frame.empty or frame["count"].sum() == 0:
        return _thin(ax, language, _t("pareto_title", language))
    impact = -frame["impact"].to_numpy(dtype=float)
    if {"impact_low", "impact_high"} <= set(frame):
        ends = np.sort(np.vstack([-frame["impact_low"].to_numpy(dtype=float),
                                  -frame["impact_high"].to_numpy(dtype=float)]), axis=0)
    else:  # no interval: none drawn
        ends = np.vstack([impact, impact])
    cumulative = np.cumsum(np.clip(impact, 0, None)) / max(np.clip(impact, 0, None).sum(), 1e-9)
    return _pareto_bars(ax, frame, impact, ends, cumulative,
                        title=_t("pareto_title", language), language=language)


def _contribution_pareto(data: pd.DataFrame, *, top: int, language: str | None, ax):
    ax = style.new_axes(ax, height=3.4)
    frame = data.dropna(subset=["contribution"]).sort_values("contribution").head(top)
    if frame.empty or frame["count"].sum() == 0:
        return _thin(ax, language, _t("pareto_contribution_title", language))
    lost = -frame["contribution"].to_numpy(dtype=float)
    ends = np.sort(-frame[["contribution_low", "contribution_high"]].to_numpy(dtype=float).T,
                   axis=0) if {"contribution_low", "contribution_high"} <= set(frame) else \
        np.vstack([lost, lost])
    # the contributions add up to the gap: the line is each cause's cumulative share of it
    gap = -float(data["contribution"].sum())
    cumulative = np.cumsum(lost) / (gap if abs(gap) > 1e-9 else 1.0)
    return _pareto_bars(ax, frame, lost, ends, cumulative,
                        title=_t("pareto_contribution_title", language), language=language)


def _pareto_bars(ax, frame: pd.DataFrame, lost: np.ndarray, ends: np.ndarray,
                 cumulative: np.ndarray, *, title: str, language: str | None):
    """The Pareto's bars of points lost with their interval ``ends`` and the cumulative line."""
    x = np.arange(len(frame))
    names = [cause_text(c, lab, language) for c, lab in
             zip(frame["cause"], frame.get("label", pd.Series([""] * len(frame))), strict=True)]
    ax.bar(x, lost, color=style.RED, alpha=0.85, label=_t("impact", language))
    ax.errorbar(x, lost, yerr=_err(lost, ends[0], ends[1]), fmt="none", ecolor="black",
                capsize=3, lw=1)
    ax.set_xticks(x, _labels(names, language), rotation=30, ha="right")
    ax.grid(axis="x", visible=False)
    ax.set(ylabel=_t("impact_points", language), xlabel="", title=title)
    twin = ax.twinx()
    twin.plot(x, cumulative, color=style.BLACK, marker="o", ms=3, lw=1)
    twin.set_ylim(0, 1.05)
    _percent_axis(twin.yaxis, language)
    twin.set_ylabel(_t("cumulative_share", language))
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    return ax


def cause_text(cause, label, language: str | None) -> str:
    if L.has("causes", cause):
        return L.name("causes", cause, language=language)
    text = str(label or cause)
    return text if len(text) <= 28 else text[:27] + "…"


@_chart
def growth_dots(data: pd.DataFrame, *, dealers: pd.DataFrame | None = None, top: int = 12,
                language: str | None = None, ax: plt.Axes | None = None,
                scales: Mapping[str, tuple[int, int]] | None = None) -> plt.Axes:
    """Growth zones as a dot plot: each dealer's weak driver from its current rating to the
    benchmark, labelled with the modelled NPS uplift.

    Ratings stay in each driver's own scale (``scales``, :attr:`GrowthResult.scales`): when
    the drawn drivers' scales differ, each label carries its scale and the axis says so.

    ``data`` is :meth:`analysis.growth.GrowthResult.top` (``rank``, ``dealer_id``,
    ``driver``, ``current``, ``benchmark``, ``uplift``); the first zone of the ``top``
    dealers is drawn. ``dealers`` gives names.
    """
    frame = data.loc[data["zone"] == 1] if "zone" in data else data
    frame = frame.sort_values("rank").head(top)
    ax = style.new_axes(ax, height=0.34 * len(frame) + 1.4)
    if frame.empty:
        return _thin(ax, language, _t("growth_title", language))
    from analysis.report.tables import driver_labels

    labels = driver_labels(frame["driver"].unique(), scales=scales, language=language)
    names = (frame["dealer_id"].map(dealers.set_index("dealer_id")["dealer_name"])
             .fillna(frame["dealer_id"]) if dealers is not None else frame["dealer_id"])
    y = np.arange(len(frame))[::-1]
    ax.hlines(y, frame["current"], frame["benchmark"], color=style.LIGHT, lw=4)
    ax.scatter(frame["current"], y, color=style.RED, s=40, zorder=3,
               label=_t("current", language))
    ax.scatter(frame["benchmark"], y, color=style.GREEN, s=40, zorder=3,
               label=_t("benchmark", language))
    ends = frame[["current", "benchmark"]].max(axis=1).to_numpy(dtype=float)
    notes = [ax.annotate(f"{labels.get(row.driver, row.driver)}  {F.signed(row.uplift, language=language)}",
                         (end, yy), xytext=(6, 0), textcoords="offset points", va="center",
                         fontsize=8)
             for yy, end, row in zip(y, ends, frame.itertuples(index=False), strict=True)]
    ax.set_yticks(y, _labels(names, language))
    ax.grid(axis="y", visible=False)
    lo = float(np.nanmin(frame[["current", "benchmark"]].to_numpy()))
    hi = float(np.nanmax(frame[["current", "benchmark"]].to_numpy()))
    ax.set_xlim(lo - 0.2, hi + 0.2)
    ax.set(xlabel=_rating_axis(frame["driver"].unique(), scales, language), ylabel="",
           title=_t("growth_title", language))
    # below the axis label: the labels beside the dots need the width
    ax.legend(fontsize="small", ncols=2, loc="upper left", bbox_to_anchor=(0.0, 0.0),
              bbox_transform=offset_copy(ax.transAxes, ax.figure, y=-36, units="points"),
              borderaxespad=0.0)
    _finish(ax, L.resolve(language))
    _fit_right(ax, notes, ends)
    return ax


def _fit_right(ax, notes, anchors, *, offset: float = 6.0) -> None:
    """Widen the x axis on the right until every label written ``offset`` points right of
    its anchor (x in data units) ends inside the axes (the growth labels ran past the
    figure's edge). The labels take no room in the layout, so the axes' width is the one
    measured here."""
    figure = ax.figure
    for note in notes:
        note.set_in_layout(False)
    renderer = _renderer(figure)
    frame = ax.get_window_extent(renderer)
    lo, hi = ax.get_xlim()
    needed = hi
    for note, x in zip(notes, anchors, strict=True):
        room = 1 - (note.get_window_extent(renderer).width
                    + (offset + 6) * figure.dpi / 72) / frame.width
        needed = max(needed, lo + (x - lo) / max(room, 0.2))
    ax.set_xlim(lo, needed)
    # ticks as dense as the widened axis wants, none in the room for the labels
    ticks = ax.xaxis.get_major_locator().tick_values(lo, needed)
    ax.set_xticks([t for t in ticks if lo <= t <= hi])


def _rating_axis(drivers, scales, language: str | None) -> str:
    """The axis of drivers' mean ratings: their one scale, or "scale shown per driver"."""
    from analysis.coverage import mixed_scales, scale_of

    drivers = list(drivers)
    if mixed_scales(drivers, scales):
        return _t("rating_per_driver", language)
    low, high = scale_of(drivers[0] if drivers else "", scales)
    return _t("rating_scale", language, low=low, high=high)


@_chart
def css_comparison(data: pd.DataFrame, *, y: str = "dealer_name", top: int | None = 40,
                   language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """CSS per dealer with its interval, against the region's and the nation's CSS.

    ``data`` is :func:`analysis.css.summarize_css` for one period (``css``, ``css_low``,
    ``css_high``, ``region_css``, ``national_css``) with a ``y`` column of names. Highest
    first; with more than ``top`` dealers the best and the worst ``top / 2``, a line between
    them saying how many are left out.
    """
    frame, hidden = _both_ends(data.dropna(subset=["css"])
                               .sort_values("css", ascending=False), top)
    ax = style.new_axes(ax, height=0.26 * (len(frame) + bool(hidden)) + 1.6)
    if frame.empty:
        return _thin(ax, language, _t("css_title", language))
    yy, gap = _rows(len(frame), top, hidden)
    css = frame["css"].to_numpy(dtype=float)
    ax.errorbar(css, yy, xerr=_err(css, frame["css_low"], frame["css_high"]), fmt="o",
                color=style.BLUE, ms=4, lw=1, label="CSS")
    if "region_css" in frame:
        ax.scatter(frame["region_css"], yy, marker="|", s=140, color=style.ORANGE, zorder=3,
                   label=_t("region_average", language))
    if "national_css" in frame:
        national = frame["national_css"].dropna()
        if len(national):
            ax.axvline(float(national.iloc[0]), color=style.RED, ls="--", lw=1,
                       label=_t("national_average", language))
    ax.set_yticks(yy, _labels(frame[y] if y in frame else frame["dealer_id"], language))
    _hidden_note(ax, gap, hidden, language, len(frame))
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="CSS (0-100)", ylabel="", title=_t("css_title", language))
    ax.legend(fontsize="small", **_BESIDE)
    return ax


@_chart
def repeat_rates(data: pd.DataFrame, *, y: str = "dealer_name", top: int | None = 40,
                 language: str | None = None,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """Repeat-repair rate per dealer with its Wilson interval, highest first, and the
    scope's overall rate as a line.

    ``data`` is :attr:`analysis.repairs.MonthlyRepeatReport.by_dealer` (``orders``,
    ``repeats``, ``repeat_rate``). With the cohort columns (``cohort_orders``,
    ``cohort_repeats``, ``cohort_rate`` with its interval ``cohort_rate_low``,
    ``cohort_rate_high``: orders closed in the period whose window has elapsed, and how many
    came back) the rate is the cohort's, the one the tables show; otherwise ``repeat_rate``
    with ``repeat_rate_low``, ``repeat_rate_high`` where the frame has them. With more than
    ``top`` dealers the highest and the lowest ``top / 2``, a line between them saying how
    many are left out.
    """
    if {"cohort_orders", "cohort_repeats"} <= set(data):
        data = data.assign(orders=data["cohort_orders"], repeats=data["cohort_repeats"],
                           repeat_rate=data["cohort_repeats"]
                           / data["cohort_orders"].where(data["cohort_orders"] > 0),
                           repeat_rate_low=data.get("cohort_rate_low", np.nan),
                           repeat_rate_high=data.get("cohort_rate_high", np.nan))
    frame, hidden = _both_ends(data.loc[data["orders"] > 0]
                               .sort_values("repeat_rate", ascending=False, kind="stable"), top)
    ax = style.new_axes(ax, height=0.26 * (len(frame) + bool(hidden)) + 1.6)
    if frame.empty:
        return _thin(ax, language, _t("repeat_title", language))
    low = frame.get("repeat_rate_low", pd.Series(np.nan, index=frame.index))
    high = frame.get("repeat_rate_high", pd.Series(np.nan, index=frame.index))
    rate = frame["repeat_rate"].to_numpy(dtype=float)
    yy, gap = _rows(len(frame), top, hidden)
    ax.errorbar(rate, yy, xerr=_err(rate, low, high), fmt="o", color=style.PURPLE, ms=4, lw=1)
    shown = data.loc[data["orders"] > 0]  # every dealer's, the hidden ones too
    overall = shown["repeats"].sum() / max(shown["orders"].sum(), 1)
    ax.axvline(overall, color=style.GREY, ls="--", lw=1, label=_t("scope_mean", language))
    ax.set_yticks(yy, _labels(frame[y] if y in frame else frame["dealer_id"], language))
    _hidden_note(ax, gap, hidden, language, len(frame))
    ax.grid(axis="y", visible=False)
    _percent_axis(ax.xaxis, language)
    ax.set(xlabel=_t("repeat_rate", language), ylabel="", title=_t("repeat_title", language))
    ax.legend(fontsize="small", **_BESIDE)
    return ax


def _err(centre, low, high) -> np.ndarray:
    """Error-bar lengths below and above ``centre``: never negative (an adjusted interval may
    leave the raw value outside it), zero where an end is missing."""
    centre = np.asarray(centre, dtype=float)
    below = centre - pd.to_numeric(pd.Series(low), errors="coerce").to_numpy(dtype=float)
    above = pd.to_numeric(pd.Series(high), errors="coerce").to_numpy(dtype=float) - centre
    return np.nan_to_num(np.clip(np.vstack([below, above]), 0, None))


@_chart
def nps_errorbars(summary: pd.DataFrame, *, hue: str | None = None, level: float | None = None,
                  title: str = "", language: str | None = None,
                  ax: plt.Axes | None = None, rule: rules.StarRule | None = None,
                  settings: rules.Settings | None = None) -> plt.Axes:
    """NPS per period with its interval as error bars; significant changes are marked.

    Takes a :func:`analysis.nps.summarize` frame with ``period``. A change vs the previous
    period that passes the report's rule (``rule``; without one the frame's
    ``change_flag``, else ``change_p_value`` below ``1 - level``) gets a triangle (up or down);
    ``level`` defaults to params/nps.yaml. Groups of ``hue`` are dodged side by side; touchpoint
    groups are named by the catalogue.
    """
    lvl = level_or(level, settings)
    ax = style.new_axes(ax)
    if summary.empty or summary["nps"].notna().sum() == 0:
        return _thin(ax, language, title)
    periods = sorted(summary["period"].unique())
    position = {p: i for i, p in enumerate(periods)}
    groups = list(summary.groupby(hue, observed=True, sort=True)) if hue else [("", summary)]
    colors = style.colors(len(groups))
    width = 0.5 / max(len(groups), 1)
    flagged = False
    group_names = L.names("touchpoints", language=language) if hue == "touchpoint" else {}
    for k, ((name, data), color) in enumerate(zip(groups, colors, strict=True)):
        data = data.sort_values("period")
        x = data["period"].map(position).to_numpy(dtype=float) + (k - (len(groups) - 1) / 2) * width
        y = data["nps"].to_numpy()
        # an interval is adjusted (Agresti-Caffo style): the raw NPS may lie outside it
        yerr = _err(y, data["nps_low"], data["nps_high"])
        ax.errorbar(x, y, yerr=yerr, fmt="o-", capsize=3, color=color, lw=1.2, ms=5,
                    label=group_names.get(str(name), str(name)) if hue
                    else _t("nps_interval", language, level=F.percent(lvl, language=language)))
        if "change_p_value" in data or "change_flag" in data:
            significant = rules.significant(data, "change", level_=level, rule=rule,
                                            settings=settings).to_numpy()
            up = significant & (data["change_vs_previous"] > 0).to_numpy()
            down = significant & ~up
            ax.scatter(x[up], y[up], marker="^", s=110, color=color, edgecolor="black",
                       zorder=3)
            ax.scatter(x[down], y[down], marker="v", s=110, color=color, edgecolor="black",
                       zorder=3)
            flagged |= bool(significant.any())
    if flagged:
        ax.scatter([], [], marker="^", s=80, color="white", edgecolor="black",
                   label=_star_label(rule, lvl, language))
    ax.axhline(0, color="grey", lw=0.8)
    every = -(-len(periods) // 16)  # a year of weeks: every fourth label, apart
    ax.set_xticks(range(0, len(periods), every),
                  _month_labels([str(p) for p in periods[::every]], language), rotation=45)
    ax.set(xlabel="", ylabel=_t("nps_points", language), title=title)
    ax.legend(title="", frameon=False, **_BESIDE)
    return ax


@_chart
def dealer_ranking(ranking: pd.DataFrame, *, top: int | None = None, title: str = "",
                   language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Dealers from :func:`analysis.nps.rank_dealers`: raw NPS with its interval and the
    shrunk NPS the ranking uses; small samples are drawn pale. Every dealer by default; with
    ``top``, the best and the worst ``top / 2`` and a line saying how many are left out."""
    data, hidden = _both_ends(ranking.sort_values("rank_network", kind="stable"), top)
    ax = style.new_axes(ax, height=0.3 * (len(data) + bool(hidden)) + 1.5)
    if data.empty:
        return _thin(ax, language, title)
    label = data["dealer_name"] if "dealer_name" in data else data["dealer_id"]
    y, gap = _rows(len(data), top, hidden)
    small = data["small_sample"].fillna(False).astype(bool).to_numpy()
    raw = data["nps"].to_numpy(dtype=float)
    xerr = _err(raw, data["nps_low"], data["nps_high"])
    blue, grey = style.BLUE, style.GREY
    for mask, color, name in ((~small, blue, _t("nps_and_interval", language)),
                              (small, grey, _t("nps_and_interval_small", language))):
        if mask.any():
            ax.errorbar(raw[mask], y[mask],
                        xerr=[xerr[0][mask], xerr[1][mask]], fmt="o", mfc="white",
                        color=color, capsize=2, label=name)
    ax.scatter(data["nps_shrunk"], y, marker="D", color=style.ORANGE, zorder=3,
               label=_t("shrunk_nps", language))
    ax.set_yticks(y, _labels(label, language))
    _hidden_note(ax, gap, hidden, language, len(data))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel=_t("nps_points", language), ylabel="", title=title)
    ax.legend(frameon=False, fontsize="small", **_BESIDE)
    return ax


@_chart
def response_rates(summary: pd.DataFrame, *, language: str | None = None,
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Response rate by month, one line per touchpoint, from a :func:`analysis.nps.summarize`
    frame by touchpoint and month with invitations."""
    ax = style.new_axes(ax, height=3.0)
    names = L.names("touchpoints", language=language)
    rate = summary.assign(month=summary["period"].astype(str),
                          rate=100 * summary["response_rate"],
                          touchpoint=summary["touchpoint"].map(lambda t: names.get(t, t)))
    sns.lineplot(data=rate, x="month", y="rate", hue="touchpoint", marker="o", ax=ax)
    ax.set(xlabel="", ylabel=_t("response_rate_pct", language),
           title=_t("response_rate_title", language))
    ax.set_xticks(sorted(rate["month"].unique()),
                  _month_labels(sorted(rate["month"].unique()), language))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title="", **_BESIDE)
    return ax


# --- loyalty drivers -------------------------------------------------------------------------


@_chart
def importance_performance(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    language: str | None = None,
    ax: plt.Axes | None = None,
    scales: Mapping[str, tuple[int, int]] | None = None,
) -> plt.Axes:
    """Scatter of drivers by performance (x) and importance (y) with mean cross-hairs, each
    driver named beside its point where the names cover neither one another nor a point
    (:func:`_place_labels`), the quadrants' legend beside the axes.

    When ``scales`` rate the drivers on different scales (booking 1-5, staff 0-10), x is
    each mean rating as a share of its own scale (the table's ``position``), for drawing only:
    the axis says so and each driver's label carries its mean in its own scale.

    Parameters
    ----------
    table
        The frame from :func:`analysis.drivers.importance_performance`.
    labels
        Text shown for each driver; the catalogue's driver names by default.
    ax
        Axes to draw on; a new figure by default. The figure is neither shown nor saved.
    """
    from analysis.coverage import mixed_scales, scale_of
    from analysis.drivers import QUADRANTS

    ax = style.new_axes(ax, height=4.4)
    labels = L.driver_labels(language) if labels is None else labels
    quadrants = L.names("quadrants", language=language)
    mixed = scales is not None and "position" in table and mixed_scales(table["driver"], scales)
    data = table.assign(quadrant=table["quadrant"].astype(str).map(
        lambda q: quadrants.get(q, q)),
        drawn=100 * table["position"] if mixed else table["performance"])
    sns.scatterplot(data=data, x="drawn", y="importance", hue="quadrant",
                    hue_order=[quadrants.get(q, q) for q in QUADRANTS], s=80, ax=ax)
    ax.axvline(data["drawn"].mean(), color="grey", linestyle="--", linewidth=1)
    ax.axhline(table["importance"].mean(), color="grey", linestyle="--", linewidth=1)
    texts = []
    for row in data.itertuples(index=False):  # one label per driver, a handful at most
        text = labels.get(row.driver, row.driver)
        if mixed:  # the mean in the driver's own scale, beside the drawn share
            low, high = scale_of(row.driver, scales)
            text += f" {F.number(row.performance, 1, language=language)} ({low}–{high})"
        texts.append(text)
    if ax.get_legend() is not None:
        sns.move_legend(ax, title=L.column("quadrant", language=language), **_BESIDE)
    ax.set_xlabel(_t("performance_position" if mixed else "performance", language))
    ax.set_ylabel(_t("importance", language))
    ax.set_title(_t("importance_performance_title", language))
    _finish(ax, L.resolve(language))
    _place_labels(ax, data["drawn"], data["importance"], texts, marker=np.sqrt(80) / 2)
    return ax


@_chart
def importance_dynamics(by_period: pd.DataFrame, *, language: str | None = None,
                        ax: plt.Axes | None = None) -> plt.Axes:
    """Each driver's importance per period with its bootstrap interval (error bars).

    ``by_period`` is the frame of :func:`analysis.drivers.importance_by_period`; importance is
    in R^2 units so that a period where NPS is explained less shows lower bars for every driver.
    """
    ax = style.new_axes(ax, height=4.0)
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
    ax.set_xticks(range(len(periods)), _month_labels(periods, language))
    ax.set(xlabel="", ylabel=_t("importance_r2", language),
           title=_t("importance_dynamics_title", language))
    ax.legend(frameon=False, fontsize=8, **_BESIDE)
    return ax


# --- operations ------------------------------------------------------------------------------


@_chart
def sla_compliance(
    summary: pd.DataFrame,
    *,
    y: str = "dealer_name",
    target: float | None = None,
    top: int | None = 40,
    language: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Compliance per group with its interval, worst at the top; with more than ``top``
    groups the worst and the best ``top / 2`` and a line saying how many are left out (every
    dealer is in the table); ``target`` draws a line."""
    data, hidden = _both_ends(summary.dropna(subset=["compliance"])
                              .sort_values("compliance", kind="stable"), top)
    ax = style.new_axes(ax, height=0.28 * (len(data) + bool(hidden)) + 1.5)
    if data.empty:
        return _thin(ax, language, _t("sla_title", language))
    rows, gap = _rows(len(data), top, hidden)
    share = data["compliance"].to_numpy(dtype=float)
    ax.errorbar(share, rows, xerr=_err(share, data["compliance_low"], data["compliance_high"]),
                fmt="none", ecolor=style.BLUE, alpha=0.6)
    ax.scatter(share, rows, color=style.BLUE, s=50, zorder=3)
    if target is not None:
        ax.axvline(target, color="grey", ls="--", lw=0.8)
    ax.set_yticks(rows, _labels(data[y], language))
    _hidden_note(ax, gap, hidden, language, len(data))
    ax.grid(axis="y", visible=False)
    ax.set(xlabel=_t("sla_share", language), ylabel="", xlim=(0, 1.02),
           title=_t("sla_title", language))
    _percent_axis(ax.xaxis, language)
    return ax


@_chart
def incidents_by_month(counts: pd.DataFrame, *, hue: str = "channel", kind: str = "complaint",
                       language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Stacked monthly bars of one kind of incident, coloured by ``hue``, the legend beside
    the bars (it covered the last months)."""
    ax = style.new_axes(ax, height=3.2)
    group = {"channel": "channels", "category": "categories"}.get(hue)
    data = (counts.loc[counts["kind"] == kind].assign(period=lambda d: d["period"].astype(str))
            .groupby(["period", hue], as_index=False)["n"].sum())
    if group is not None:
        known = L.names(group, language=language)
        data = data.assign(**{hue: data[hue].map(lambda v: known.get(v, v))})
    table = data.pivot_table(index="period", columns=hue, values="n", aggfunc="sum",
                             fill_value=0).sort_index()
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for value, color in zip(table.columns, style.colors(len(table.columns)), strict=True):
        ax.bar(x, table[value], bottom=bottom, width=0.8, color=color, edgecolor="white",
               lw=0.5, label=str(value))
        bottom += table[value].to_numpy(dtype=float)
    ax.set_xticks(x, _month_labels(table.index, language))
    ax.grid(axis="x", visible=False)
    if len(table.columns):
        handles, names = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], names[::-1], fontsize="small",  # in the order of the stack
                  title=L.column(hue, language=language) if L.has("columns", hue) else hue,
                  **_BESIDE)
    ax.set(xlabel="", ylabel=L.name("incident_counts", kind, language=language))
    ax.tick_params(axis="x", rotation=45)
    return ax


@_chart
def long_service_reasons(reasons: pd.DataFrame, *, language: str | None = None,
                         ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of long-service reasons, largest first."""
    ax = style.new_axes(ax, width=7, height=0.4 * len(reasons) + 1.2)
    known = L.names("reasons", language=language)
    data = (reasons.sort_values("n", ascending=False)
            .assign(reason=lambda d: d["reason"].map(lambda r: known.get(r, r))))
    sns.barplot(data=data, x="share", y="reason", color="C1", ax=ax)
    ax.set(xlabel=_t("long_service_share", language), ylabel="")
    _percent_axis(ax.xaxis, language)
    return ax


@_chart
def repeats_by_person(stats: pd.DataFrame, *, role: str = "mechanic", top: int = 15,
                      language: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of repeat repairs per person (the ``top`` with the most: the list of
    whom to talk to, not a ranking of everyone)."""
    from analysis.repairs import ROLES

    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    data = (stats.groupby(["dealer_id", role], as_index=False)["repeats"].sum()
            .loc[lambda d: d["repeats"] > 0]
            .sort_values("repeats", ascending=False).head(top)
            .assign(person=lambda d: d[role] + " (" + d["dealer_id"] + ")"))
    ax = style.new_axes(ax, width=7, height=0.35 * max(len(data), 1) + 1.2)
    sns.barplot(data=data, x="repeats", y="person", color="C3", ax=ax)
    ax.set(xlabel=_t("repeat_repairs", language), ylabel="")
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))  # repairs are counted whole
    return ax


# --- closing the loop ------------------------------------------------------------------------


@_chart
def action_effects(review: pd.DataFrame, *, language: str | None = None,
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Each measured action's effect with its interval, a line at 0; effective ones (and
    worse ones) stand out, by ``verdict`` (:data:`analysis.actions.VERDICTS`).

    Actions without a measured effect are left out.
    """
    data = review.dropna(subset=["effect", "effect_low", "effect_high"]).reset_index(drop=True)
    ax = style.new_axes(ax, width=8, height=0.25 * len(data) + 1.2)
    labels = (data["action_id"] + " " + data.get("dealer_name", data["dealer_id"])
              .fillna(data["dealer_id"]))
    y = np.arange(len(data))
    for verdict, colour, label in (("no_evidence", "C7", "not_shown_effective"),
                                   ("effective", "C2", "effective"), ("worse", "C3", "worse")):
        part = data["verdict"] == verdict
        if not part.any():
            continue
        ax.errorbar(data.loc[part, "effect"], y[part.to_numpy()],
                    xerr=[(data.loc[part, "effect"] - data.loc[part, "effect_low"]).clip(lower=0),
                          (data.loc[part, "effect_high"] - data.loc[part, "effect"])
                          .clip(lower=0)],
                    fmt="o", color=colour, capsize=3, label=_t(label, language))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, _labels(labels, language))
    ax.invert_yaxis()
    ax.set(xlabel=_t("action_effect", language), ylabel="")
    if len(data):
        ax.legend(frameon=False, **_BESIDE)
    return ax


@_chart
def customer_flow(flow: pd.DataFrame, *, language: str | None = None,
                  ax: plt.Axes | None = None) -> plt.Axes:
    """New and returning customers per month (stacked bars) and the customers lost (a line)."""
    monthly = flow.groupby("month")[["new", "returning", "lost"]].sum().sort_index()
    ax = style.new_axes(ax, height=2.6)
    x = np.arange(len(monthly))
    ax.bar(x, monthly["returning"], color="C0", label=_t("returning_customers", language))
    ax.bar(x, monthly["new"], bottom=monthly["returning"], color="C9",
           label=_t("new_customers", language))
    ax.plot(x, monthly["lost"], color="C3", marker="o", label=_t("lost_customers", language))
    ax.set_xticks(x, _month_labels(monthly.index.astype(str), language), rotation=45)
    ax.set(ylabel=_t("customers", language), xlabel="")
    # beside the bars, not over the first months
    ax.legend(frameon=False, **_BESIDE)
    return ax


@_chart
def return_rates(rates: pd.DataFrame, *, language: str | None = None,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """The return rate by NPS category with its interval (horizontal bars: three bars need
    little height)."""
    data = rates.dropna(subset=["rate"]).reset_index(drop=True)
    ax = style.new_axes(ax, width=6, height=1.9)
    names = [L.name("nps_categories", c, language=language) for c in data["category"]]
    y = np.arange(len(data))
    ax.barh(y, data["rate"], color=["C2" if c == "promoter" else "C7" if c == "passive"
                                    else "C3" for c in data["category"]])
    ax.errorbar(data["rate"], y, xerr=[(data["rate"] - data["rate_low"]).clip(lower=0),
                                       (data["rate_high"] - data["rate"]).clip(lower=0)],
                fmt="none", ecolor="black", capsize=4)
    ax.set_yticks(y, names)
    ax.invert_yaxis()  # promoters on top, as in the table
    ax.set(xlabel=_t("return_rate", language), xlim=(0, 1), ylabel="")
    _percent_axis(ax.xaxis, language)
    return ax


@_chart
def funnel_rates(rates: pd.DataFrame, *, language: str | None = None,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """Reach and response rate per channel with their intervals; channel names wrap onto two
    lines rather than run into each other."""
    ax = style.new_axes(ax, width=8, height=2.8)
    x = np.arange(len(rates))
    for i, (rate, colour) in enumerate((("reach", "C0"), ("response", "C1"))):
        ax.errorbar(x + (i - 0.5) * 0.2, rates[f"{rate}_rate"],
                    yerr=[(rates[f"{rate}_rate"] - rates[f"{rate}_low"]).clip(lower=0),
                          (rates[f"{rate}_high"] - rates[f"{rate}_rate"]).clip(lower=0)],
                    fmt="o", color=colour, capsize=4, label=_t(f"{rate}_rate", language))
    ax.set_xticks(x, ["\n".join(textwrap.wrap(L.name("channels", c, language=language), 12))
                      for c in rates["channel"]])
    ax.set(ylim=(0, 1), ylabel=_t("share", language), xlabel="")
    _percent_axis(ax.yaxis, language)
    ax.legend(frameon=False, **_BESIDE)
    return ax
