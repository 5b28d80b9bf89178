# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
week: str = ""  # ISO week YYYY-Www; "" means the last complete week in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or data/demo
language: str = ""  # en or ru; "" means the default of params/labels.yaml
excel_path: str = ""  # where to write the Excel workbook; "" means no workbook

# %% [markdown] tags=["remove-cell"]
# The week's repeat repairs (the same VIN and fault within the window of
# params/operations.yaml), by mechanic and foreman, the month's KPI and the survey answers
# that ask for a review. Every cell only calls `analysis.report.weekly`; the words are in
# params/labels.yaml (`language`). (Tagged remove-cell: the rendered page leaves this out.)

# %%
from analysis import repairs, store
from analysis.report import weekly
from analysis.report.book import ReportBook

source = data_dir or None
opened = store.load("repair_orders", columns=["opened_at"], data_dir=source)["opened_at"]
answered = store.load("responses", columns=["responded_at"], data_dir=source)["responded_at"]
week = week or repairs.last_complete_week(opened, now=answered.max())
months = repairs.months_for_week(week)
review = repairs.weekly_review(store.load("repair_orders", months=months, data_dir=source),
                               week=week, responses=store.load("responses", months=months,
                                                               data_dir=source))
book = ReportBook(language or None, keep_going=True)
weekly.title(book, review)

# %%
weekly.pairs(book, review)

# %%
weekly.people(book, review)

# %%
weekly.kpi(book, review)

# %%
weekly.reviews(book, review)

# %%
book.finish(excel_path)  # writes the workbook; raises if a section failed
