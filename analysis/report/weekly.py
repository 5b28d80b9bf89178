"""The sections of the weekly repeat-repair report (notebooks/reports/weekly_repeat_repairs.py).

Each takes the report's :class:`~analysis.report.book.ReportBook` and one week's
:class:`~analysis.repairs.WeeklyRepeatReview`; the words come from the catalogue in the book's
language, the tables from :mod:`analysis.report.tables`, the chart from
:mod:`analysis.report.charts`. As the monthly sections, they compute nothing themselves.
"""

from __future__ import annotations

import pandas as pd

from analysis.repairs import ROLES, WeeklyRepeatReview
from analysis.report import charts, tables
from analysis.report.book import ReportBook
from analysis.report.sections import table_title

__all__ = ["kpi", "pairs", "people", "reviews", "title"]


def title(book: ReportBook, review: WeeklyRepeatReview) -> None:
    """The week (its number and first and last day) and what happened in it."""
    last_day = review.end - pd.Timedelta(days=1)
    book.heading(book.text("titles", "weekly_repeats", week=int(review.week.split("-W")[1]),
                           start=book.format.day(review.start),
                           end=book.format.day(last_day)))
    book.note(book.text(
        "notes", "weekly_repeats", n=len(review.pairs), days=review.window_days,
        orders=review.orders,
        rate=book.format.percent(len(review.pairs) / review.orders if review.orders else None,
                                 1),
        people=int((review.by_mechanic["repeats"] > 0).sum()),
        lost=int((review.kpi_mechanic["bonus_share"] == 0).sum())))
    if len(review.survey_reviews):
        book.note(book.text("notes", "weekly_reviews", n=len(review.survey_reviews)))


def pairs(book: ReportBook, review: WeeklyRepeatReview) -> None:
    """The repeat repairs whose car came back this week."""
    with book.section(book.text("sections", "weekly_pairs")):
        book.note(book.text("notes", "weekly_pairs", days=review.window_days))
        book.show(table_title(book, "weekly_pairs"),
                  tables.pairs_table(review.pairs, language=book.language), max_rows=None)


def people(book: ReportBook, review: WeeklyRepeatReview) -> None:
    """Mechanics and foremen with repeat repairs this week: a chart and a table each."""
    with book.section(book.text("sections", "weekly_people")):
        stats = {"mechanic": review.by_mechanic, "foreman": review.by_foreman}
        if review.by_mechanic["repeats"].sum() > 0:
            book.chart(charts.repeats_by_person(review.by_mechanic, role="mechanic",
                                                language=book.language))
        for role in ROLES:
            book.show(table_title(book, f"weekly_{role}"),
                      tables.repeat_people_table(stats[role], role=role,
                                                 language=book.language))


def kpi(book: ReportBook, review: WeeklyRepeatReview) -> None:
    """The KPI of the month to date: each person's bonus share by their repeat repairs."""
    with book.section(book.text("sections", "weekly_kpi")):
        book.note(book.text("notes", "weekly_kpi"))
        book.show(table_title(book, "kpi_mechanics"), tables.repeat_kpi_table(
            review.kpi_mechanic, role="mechanic", language=book.language))
        book.show(table_title(book, "kpi_foremen"), tables.repeat_kpi_table(
            review.kpi_foreman, role="foreman", language=book.language))


def reviews(book: ReportBook, review: WeeklyRepeatReview) -> None:
    """Survey answers of the week that ask for a repeat-repair review (quotes masked)."""
    with book.section(book.text("sections", "weekly_reviews")):
        book.note(book.text("notes", "weekly_reviews_rule"))
        book.show(table_title(book, "repair_reviews"),
                  tables.reviews_table(review.survey_reviews, language=book.language))
