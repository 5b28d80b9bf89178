# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
week: str = ""  # ISO week YYYY-Www; "" means the last complete week in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or data/demo

# %%
from IPython.display import Markdown, display

from analysis import repairs, store
from analysis.report import charts, kinds, tables

source = data_dir or None
opened = store.load("repair_orders", columns=["opened_at"], data_dir=source)["opened_at"]
answered = store.load("responses", columns=["responded_at"], data_dir=source)["responded_at"]
week = week or repairs.last_complete_week(opened, now=answered.max())

# %%
months = repairs.months_for_week(week)
orders = store.load("repair_orders", months=months, data_dir=source)
answers = store.load("responses", months=months, data_dir=source)
review = repairs.weekly_review(orders, week=week, responses=answers)
display(Markdown(f"# Repeat repairs, week {review.week}\n\n{review.summary()}"))

# %% [markdown]
# ## Repeat repairs of the week
# Same VIN and fault reopened 0-14 calendar days after the previous order closed; the first
# order's mechanic and foreman are responsible.

# %%
kinds.page(tables.pairs_table(review.pairs))[0]

# %% [markdown]
# ## By mechanic and by foreman

# %%
ax = charts.repeats_by_person(review.by_mechanic, role="mechanic")

# %%
review.by_mechanic.loc[lambda d: d["repeats"] > 0]

# %%
review.by_foreman.loc[lambda d: d["repeats"] > 0]

# %% [markdown]
# ## KPI, month to date
# Bonus share by the number of repeat repairs (params/operations.yaml, `repeat_repair.kpi`).

# %%
kinds.page(tables.repeat_kpi_table(review.kpi_mechanic, role="mechanic").head(20))[0]

# %%
kinds.page(tables.repeat_kpi_table(review.kpi_foreman, role="foreman").head(20))[0]

# %% [markdown]
# ## Survey answers that ask for a repeat-repair review
# Comments about poor repair or coming back with the same fault, linked to the latest repair
# order of the car. Phones, e-mails and VINs are masked.

# %%
kinds.page(tables.reviews_table(review.survey_reviews))[0]
