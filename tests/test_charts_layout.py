"""Charts that hide nothing: every chart drawn with long Russian labels keeps its words apart
and inside the figure, its legend off the data, its numbers and months in the report's
language; a ranking of many dealers shows both ends and says how many it leaves out.

The geometry is matplotlib's own: after ``fig.canvas.draw()`` each text's window extent (a
rotated tick label as its rotated rectangle, not the box around it).
"""

from __future__ import annotations

import itertools
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from analysis.drivers import QUADRANTS  # noqa: E402
from analysis.report import catalogue as L  # noqa: E402
from analysis.report import charts  # noqa: E402
from analysis.report import format as F  # noqa: E402

DPI = 90  # as the report renders its charts (book._render_png)
MONTHS = pd.period_range("2025-11", periods=12, freq="M")
_CITIES = ["Санкт-Петербург", "Великий Новгород", "Петрозаводск", "Екатеринбург",
           "Ростов-на-Дону", "Нижний Новгород", "Комсомольск-на-Амуре", "Набережные Челны"]
_BRANDS = ["Автоцентр «Северная звезда»", "Автомобильный дом «Регион»",
           "Дилерский центр «Меридиан»", "Сервисная станция «Прогресс»"]
# 60 dealers whose names run to about 40 characters, as the network's do
DEALERS = [f"{_BRANDS[k % 4]} {_CITIES[k % 8]}"[:40] + f" {k + 1}" for k in range(60)]
LONG_DRIVERS = ["Скорость обратной связи после визита в дилерский центр",
                "Прозрачность стоимости работ и запасных частей",
                "Вежливость и компетентность консультантов отдела продаж",
                "Чистота и удобство клиентской зоны ожидания"]
PERSONS = ["Константинопольский Александр Владимирович", "Петрова-Водкина Анастасия Сергеевна",
           "Иванов Иван Иванович", "Кузнецова Екатерина Павловна"]
REGIONS = ["Северо-Западный федеральный округ", "Центральный федеральный округ",
           "Южный федеральный округ"]


# --- hand-made inputs, shaped as the statistics modules return them ---------------------------


def _monthly(rng, months=MONTHS, **by) -> pd.DataFrame:
    nps = 20 + np.cumsum(rng.normal(0, 6, len(months)))
    change = np.r_[np.nan, np.diff(nps)]
    return pd.DataFrame({"period": months, "nps": nps, "nps_low": nps - 6, "nps_high": nps + 6,
                         "n": 400, "change_vs_previous": change,
                         "change_p_value": np.where(np.abs(change) > 6, 0.001, 0.4),
                         "response_rate": rng.uniform(0.18, 0.3, len(months)), **by})


def _grouped(rng, column, values) -> pd.DataFrame:
    return pd.concat([_monthly(rng, **{column: v}) for v in values], ignore_index=True)


def _ranking(n=60) -> pd.DataFrame:
    """Dealers best (row 0) to worst: the worst dealer is DEALERS[n - 1]."""
    nps = np.linspace(70, -30, n)
    return pd.DataFrame({
        "dealer_id": [f"D{k:02d}" for k in range(n)], "dealer_name": DEALERS[:n],
        "nps": nps, "nps_low": nps - 12, "nps_high": nps + 12, "nps_shrunk": 0.8 * nps + 4,
        "small_sample": np.arange(n) % 7 == 3, "rank_network": np.arange(1, n + 1),
        "change_vs_previous": np.where(np.arange(n) % 9 == 0, 15.0, 1.0),
        "change_p_value": np.where(np.arange(n) % 9 == 0, 0.001, 0.5)})


def _importance(drivers) -> pd.DataFrame:
    rows = [(m, d, 0.05 + 0.03 * k + 0.01 * i)
            for i, m in enumerate(MONTHS[-3:].astype(str)) for k, d in enumerate(drivers)]
    frame = pd.DataFrame(rows, columns=["period", "driver", "importance"])
    return frame.assign(low=frame["importance"] - 0.02, high=frame["importance"] + 0.025)


def _map_table(drivers) -> pd.DataFrame:
    """Drivers crowded around the cross-hairs and at the axes' edges, where labels collide."""
    n = len(drivers)
    performance = np.r_[7.70, 8.31, 8.30, 8.02, 8.04, 8.03, 7.71, 8.16, 7.96][:n]
    importance = np.r_[0.274, 0.127, 0.131, 0.201, 0.199, 0.203, 0.270, 0.18, 0.168][:n]
    return pd.DataFrame({"driver": drivers, "performance": performance,
                         "importance": importance,
                         "quadrant": [QUADRANTS[k % 4] for k in range(n)],
                         "position": (performance - 1) / 9})


def _causes() -> pd.DataFrame:
    causes = [c for c in L.names("causes")] + ["unlisted_1", "unlisted_2"]
    impact = -np.linspace(6, 1.5, len(causes))
    return pd.DataFrame({
        "cause": causes,
        "label": [""] * (len(causes) - 2) + ["Долгое ожидание выдачи автомобиля после ремонта",
                                             "Не перезвонили по поводу стоимости запчастей"],
        "count": np.linspace(90, 15, len(causes)).astype(int), "impact": impact,
        "scope_n": 2000, "contribution": impact, "contribution_low": impact * 1.3,
        "contribution_high": impact * 0.7})


def _growth() -> tuple[pd.DataFrame, pd.DataFrame]:
    drivers = list(L.driver_labels())
    rows = 12
    current = np.linspace(5.3, 7.9, rows)
    leaders = pd.DataFrame({
        "rank": np.arange(1, rows + 1), "dealer_id": [f"D{k:02d}" for k in range(rows)],
        "zone": 1, "driver": [drivers[k % len(drivers)] for k in range(rows)],
        "current": current, "benchmark": np.where(np.arange(rows) % 2, 8.3, 7.9),
        "uplift": np.linspace(19.8, 2.7, rows)})
    dealers = pd.DataFrame({"dealer_id": [f"D{k:02d}" for k in range(60)],
                            "dealer_name": DEALERS})
    return leaders, dealers


def _incidents(rng) -> pd.DataFrame:
    categories = list(L.names("categories"))
    rows = [(m, "complaint", c, "phone", int(rng.integers(2, 25)))
            for m in MONTHS for c in categories]
    return pd.DataFrame(rows, columns=["period", "kind", "category", "channel", "n"])


def _inputs():
    """Each chart's call with long Russian words, by the chart's name (one per chart)."""
    rng = np.random.default_rng(5)
    monthly = _monthly(rng)
    touchpoints = _grouped(rng, "touchpoint", list(L.names("touchpoints")))
    regions = _grouped(rng, "region", REGIONS)
    ranking = _ranking()
    catalogue_drivers = list(L.driver_labels())
    leaders, dealers = _growth()
    share = np.linspace(0.98, 0.35, 60)
    repeat = np.linspace(0.0, 0.25, 60)
    flow = pd.DataFrame({"month": np.repeat(MONTHS.astype(str), 2),
                         "new": rng.integers(400, 800, 24),
                         "returning": rng.integers(50, 300, 24), "lost": rng.integers(0, 90, 24)})
    review = pd.DataFrame({
        "action_id": [f"A-{k:03d}" for k in range(8)], "dealer_id": [f"D{k}" for k in range(8)],
        "dealer_name": DEALERS[:8], "effect": np.linspace(-4, 9, 8),
        "effect_low": np.linspace(-4, 9, 8) - 5, "effect_high": np.linspace(-4, 9, 8) + 5,
        "verdict": ["no_evidence"] * 5 + ["effective"] * 3})
    channels = ["sms", "phone", "email", "web_form", "messenger", "social_media"]
    reach, response = np.linspace(0.9, 0.55, 6), np.linspace(0.1, 0.45, 6)
    funnel = pd.DataFrame({
        "channel": channels, "reach_rate": reach, "reach_low": reach - 0.03,
        "reach_high": reach + 0.02, "response_rate": response,
        "response_low": response - 0.02, "response_high": response + 0.03})
    return {
        "nps_trend": dict(data=monthly, title="NPS по месяцам, нояб. 2025 - окт. 2026"),
        "nps_trend_by_region": dict(function="nps_trend", data=regions, hue="region",
                                    title="NPS по регионам и месяцам"),
        "touchpoint_panels": dict(data=touchpoints),
        "response_rates": dict(summary=touchpoints),
        "nps_errorbars": dict(summary=touchpoints, hue="touchpoint", title="NPS по точкам"),
        "dealer_caterpillar": dict(data=ranking, region_mean=20.0,
                                   title="Дилеры: NPS с интервалом и сглаженный NPS, окт. 2026"),
        "dealer_ranking": dict(ranking=ranking, top=40, title="Рейтинг дилеров"),
        "driver_importance": dict(data=_importance(catalogue_drivers),
                                  month=str(MONTHS[-1]), previous=str(MONTHS[-2]),
                                  changed=catalogue_drivers[:2]),
        "importance_dynamics": dict(by_period=_importance(catalogue_drivers)),
        "importance_performance": dict(table=_map_table(catalogue_drivers + LONG_DRIVERS)),
        "importance_performance_mixed": dict(
            function="importance_performance", table=_map_table(catalogue_drivers),
            scales={"booking": (1, 5), "staff": (0, 10)}),
        "cause_pareto": dict(data=_causes().drop(columns=["contribution"])),
        "cause_pareto_contribution": dict(function="cause_pareto", data=_causes()),
        "growth_dots": dict(data=leaders, dealers=dealers),
        "css_comparison": dict(data=pd.DataFrame({
            "dealer_name": DEALERS, "css": 100 * share, "css_low": 100 * share - 5,
            "css_high": np.minimum(100 * share + 5, 100), "region_css": 80.0,
            "national_css": 78.0})),
        "repeat_rates": dict(data=pd.DataFrame({
            "dealer_name": DEALERS, "orders": 400, "repeats": (400 * repeat).astype(int),
            "repeat_rate": (400 * repeat).astype(int) / 400})),
        "sla_compliance": dict(summary=pd.DataFrame({
            "dealer_name": DEALERS, "compliance": share, "compliance_low": share - 0.2,
            "compliance_high": np.minimum(share + 0.1, 1)}), target=0.9),
        "incidents_by_month": dict(counts=_incidents(rng), hue="category"),
        "long_service_reasons": dict(reasons=pd.DataFrame({
            "reason": list(L.names("reasons")), "n": [40, 30, 20, 10, 5, 2]}).assign(
                share=lambda d: d["n"] / d["n"].sum())),
        "repeats_by_person": dict(stats=pd.DataFrame({
            "dealer_id": ["D01", "D02", "D03", "D04"], "mechanic": PERSONS,
            "repeats": [9, 7, 4, 2]})),
        "action_effects": dict(review=review),
        "customer_flow": dict(flow=flow),
        "return_rates": dict(rates=pd.DataFrame({
            "category": ["promoter", "passive", "detractor"], "rate": [0.68, 0.52, 0.34],
            "rate_low": [0.64, 0.49, 0.3], "rate_high": [0.71, 0.55, 0.39]})),
        "funnel_rates": dict(rates=funnel),
    }


def _draw(name: str, language: str):
    call = dict(_inputs()[name])
    function = getattr(charts, call.pop("function", name))
    drawn = function(**call, language=language)
    figure = np.asarray(drawn).ravel()[0].figure if isinstance(drawn, np.ndarray) \
        else drawn.figure
    figure.set_dpi(DPI)
    figure.canvas.draw()
    return figure


# --- what a reader sees: the texts and their boxes --------------------------------------------


def _texts(figure) -> list[tuple[Text, object]]:
    """Every visible, non-empty text of the figure with what holds it (a legend's texts share
    their legend: its own layout is left to matplotlib)."""
    found: list[tuple[Text, object]] = []

    seen: set[int] = set()

    def add(text, owner):  # a suptitle is one of the figure's texts too: once
        if (isinstance(text, Text) and id(text) not in seen and text.get_visible()
                and text.get_text().strip()):
            seen.add(id(text))
            found.append((text, owner))

    def add_legend(legend):
        if legend is not None and legend.get_visible():
            for text in [*legend.get_texts(), legend.get_title()]:
                add(text, legend)

    for ax in figure.axes:
        if not ax.get_visible():
            continue
        for child in ax.get_children():
            if isinstance(child, Text):
                add(child, ax)
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible():
                continue
            add(axis.label, ax)
            add(axis.get_offset_text(), ax)
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * max(1.0, abs(high - low))
            for tick in axis.get_major_ticks():  # the locator's ticks beyond the view are not
                if low - slack <= tick.get_loc() <= high + slack:  # drawn
                    add(tick.label1, ax)
                    add(tick.label2, ax)
        add_legend(ax.get_legend())
    for text in figure.texts:
        add(text, figure)
    add(getattr(figure, "_suptitle", None), figure)
    for legend in figure.legends:
        add_legend(legend)
    return found


def _box(text: Text, renderer):
    """The box of a text's words (an annotation's without its leader line)."""
    return Text.get_window_extent(text, renderer)


def _corners(text: Text, renderer) -> np.ndarray:
    """The four corners of a text's rectangle in pixels, rotated as it is drawn: the box
    matplotlib reports is the box around it, which a neighbouring rotated label may cross."""
    box = _box(text, renderer)
    angle = text.get_rotation()
    if angle % 90 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1],
                         [box.x0, box.y1]])
    text.set_rotation(0)
    flat = _box(text, renderer)
    text.set_rotation(angle)
    w, h = flat.width / 2, flat.height / 2
    theta = np.deg2rad(angle)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rect = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
    # a rotated rectangle's enclosing box has the rectangle's centre
    return rect @ turn.T + np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])


def _apart(a: np.ndarray, b: np.ndarray, slack: float = 0.5) -> bool:
    """Two convex polygons are apart when an edge normal of either separates them
    (separating axis theorem); ``slack`` pixels of touching is allowed."""
    for poly in (a, b):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            normal = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() + slack or pb.max() <= pa.min() + slack:
                return True
    return False


def _overlaps(figure) -> list[tuple[str, str]]:
    renderer = figure.canvas.get_renderer()
    texts = [(t, owner, _corners(t, renderer)) for t, owner in _texts(figure)]
    return [(a.get_text(), b.get_text())
            for (a, oa, ca), (b, ob, cb) in itertools.combinations(texts, 2)
            if not (oa is ob and isinstance(oa, Legend)) and not _apart(ca, cb)]


def _outside(figure) -> list[str]:
    renderer = figure.canvas.get_renderer()
    width, height = figure.canvas.get_width_height()
    out = []
    for text, _ in _texts(figure):
        box = text.get_window_extent(renderer)  # an annotation's leader line too
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            out.append(text.get_text())
    return out


def _legends_on_data(figure) -> list[str]:
    """Legends drawn over an axes' data area (any visible axes of the figure)."""
    renderer = figure.canvas.get_renderer()
    legends = [ax.get_legend() for ax in figure.axes] + list(figure.legends)
    hits = []
    for legend in legends:
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        for ax in figure.axes:
            if not ax.get_visible() or not ax.axison:
                continue
            area = ax.get_window_extent(renderer)
            w = min(box.x1, area.x1) - max(box.x0, area.x0)
            h = min(box.y1, area.y1) - max(box.y0, area.y0)
            if w > 1 and h > 1:
                hits.append(" / ".join(t.get_text() for t in legend.get_texts()))
    return hits


# --- the tests ---------------------------------------------------------------------------------


def test_every_chart_is_drawn_here():
    """A new chart gets a case in :func:`_inputs` (and so the layout checks); the charts are
    the public functions drawn through ``_chart`` (``cause_text`` is a helper sections use)."""
    drawn = {call.get("function", name) for name, call in _inputs().items()}
    assert drawn == {name for name in charts.__all__
                     if hasattr(getattr(charts, name), "__wrapped__")}


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("name", list(_inputs()))
def test_chart_texts_stay_apart_inside_the_figure_and_legends_off_the_data(name, language):
    figure = _draw(name, language)
    try:
        assert _overlaps(figure) == []
        assert _outside(figure) == []
        assert _legends_on_data(figure) == []
    finally:
        plt.close(figure)


@pytest.mark.parametrize("name", list(_inputs()))
def test_chart_numbers_and_months_are_written_in_the_report_language(name):
    """Russian charts write a decimal comma, ``25 %`` and ``окт. 2026``: no ``22.9``, ``25%``
    nor ``2025-11`` on any text."""
    figure = _draw(name, "ru")
    try:
        words = [t.get_text() for t, _ in _texts(figure)]
    finally:
        plt.close(figure)
    assert [w for w in words if re.search(r"\d\.\d", w)] == []
    assert [w for w in words if re.search(r"\d%", w)] == []
    assert [w for w in words if re.search(r"\b\d{4}-\d{2}\b", w)] == []


def test_russian_annotations_and_percent_ticks_use_the_locale():
    figure = _draw("growth_dots", "ru")
    try:
        notes = [t.get_text() for t in figure.axes[0].texts]
    finally:
        plt.close(figure)
    assert "+19,8" in " ".join(notes)
    for name in ("sla_compliance", "repeat_rates", "cause_pareto"):
        figure = _draw(name, "ru")
        try:
            ticks = [t.get_text() for ax in figure.axes
                     for t in [*ax.get_xticklabels(), *ax.get_yticklabels()]
                     if "%" in t.get_text()]
        finally:
            plt.close(figure)
        assert ticks, name
        assert all(t.endswith(F.percent(0.5, language="ru")[-2:]) for t in ticks), ticks
    figure = _draw("nps_trend_by_region", "ru")
    try:
        months = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    finally:
        plt.close(figure)
    assert months[0] == F.month("2025-11", language="ru") == "нояб. 2025"


@pytest.mark.parametrize("name, worst", [
    ("dealer_caterpillar", DEALERS[59]), ("dealer_ranking", DEALERS[59]),
    ("css_comparison", DEALERS[59]), ("repeat_rates", DEALERS[59]),
    ("sla_compliance", DEALERS[59]),
])
@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_ranking_of_60_dealers_shows_both_ends_and_says_what_it_leaves_out(
        name, worst, language):
    figure = _draw(name, language)
    try:
        ax = figure.axes[0]
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        notes = " ".join(" ".join(t.get_text() for t in ax.texts).split())  # wrapped or not
    finally:
        plt.close(figure)
    assert worst in ticks and DEALERS[0] in ticks
    assert len(ticks) == 40
    assert L.text("charts", "dealers_not_shown", language=language, n=20) in notes


def test_labels_of_crowded_points_are_placed_apart_inside_the_axes():
    """The layout of point labels on its own: ten long names on points a hair apart."""
    from analysis.report import style

    ax = style.new_axes(None, height=4.0)
    x = np.r_[np.full(5, 5.0), np.linspace(5.0, 5.02, 5)]
    y = np.r_[np.linspace(1.0, 1.01, 5), np.full(5, 1.0)]
    ax.scatter(x, y)
    ax.set(xlim=(4.9, 5.1), ylim=(0.9, 1.1))
    notes = charts._place_labels(ax, x, y, [f"{d} ({k})" for k, d in
                                            enumerate(LONG_DRIVERS * 3)][:10])
    figure = ax.figure
    figure.set_dpi(DPI)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    try:
        assert _overlaps(figure) == []
        area = ax.get_window_extent(renderer)
        for note in notes:
            box = _box(note, renderer)
            assert area.x0 <= box.x0 and box.x1 <= area.x1, note.get_text()
            assert area.y0 <= box.y0 and box.y1 <= area.y1, note.get_text()
    finally:
        plt.close(figure)


@pytest.mark.parametrize("language, kind, ticks, text", [
    ("en", "number", [0.0, 0.05, 0.1, 0.15], ["0.00", "0.05", "0.10", "0.15"]),
    ("ru", "number", [0.0, 0.05, 0.1, 0.15], ["0,00", "0,05", "0,10", "0,15"]),
    ("ru", "number", [-20.0, 0.0, 1500.0], ["-20", "0", "1\xa0500"]),
    ("en", "number", [-20.0, 0.0, 1500.0], ["-20", "0", "1,500"]),
    ("en", "percent", [0.0, 0.25, 1.0], ["0%", "25%", "100%"]),
    ("ru", "percent", [0.0, 0.025, 0.05], ["0,0\u202f%", "2,5\u202f%", "5,0\u202f%"]),
    ("ru", "signed", [-10.0, 0.0, 12.5], ["-10,0", "0,0", "+12,5"]),
])
def test_tick_formatter_writes_ticks_as_the_formatter_writes_numbers(language, kind, ticks,
                                                                     text):
    """Decimals follow the step; the language is the formatter's own, whatever another chart
    in another language draws meanwhile."""
    formatter = F.tick_formatter(kind, language=language)
    other = F.tick_formatter(kind, language="en" if language == "ru" else "ru")
    assert other.format_ticks(ticks) != text
    assert formatter.format_ticks(ticks) == text
