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

# %% [markdown]
# # A dealer's page, with its code
# The page every dealer gets each month (`python -m analysis report --dealer D001`, or
# `--dealers` for every dealer of `--region`: `reports/YYYY-MM/dealers/<code>.<language>.html`)
# calls these sections of `analysis.report.sections` on the dealer's answers, beside its
# region and the network. Here they run with their code visible, to look at one dealer or try
# a change before it reaches the page. Words and numbers are in the language of params
# (the first of params/report.yaml `languages`) unless `language` says otherwise; changes are
# starred by the report's rule (one Benjamini-Hochberg family over the page's changes).

# %% tags=["parameters"]
dealer: str = ""  # dealer code, e.g. D001; "" means the dealer with most answers in the month
region: str = "all"  # the dealer's region (read faster than the network), or "all"
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
engine: str = ""  # local, dask (a new cluster) or dask with its scheduler address; "" means params
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
from analysis.report import sections
from analysis.report.batch import report_languages
from analysis.report.book import ReportBook
from analysis.report.data import load_report_data

data = sections.dealer_scope(load_report_data(
    region=region, month=month, data_dir=data_dir or None, engine=engine or None), dealer)
book = ReportBook(language or report_languages()[0])
sections.dealer_title(book, data)

# %%
sections.summary(book, data)

# %%
sections.headline(book, data)

# %%
sections.dealer_vs_peers(book, data)

# %%
sections.root_causes(book, data)

# %%
sections.red_flags(book, data)

# %%
sections.actions_review(book, data)

# %%
sections.dealer_growth_zones(book, data)

# %%
sections.golden_stars(book, data)

# %%
data.close()
