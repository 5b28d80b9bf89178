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
dealer: str = ""  # dealer code as in the dealers table; "" means the dealer with most answers
region: str = "all"  # the dealer's region (read faster than the network); "all" finds it anywhere
region_is_name: bool = False  # True: region names a region even where it reads "all"
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
engine: str = ""  # local, dask (a new cluster) or dask with its scheduler address; "" means params
trend_months: int = 12  # months of history in the dynamics charts
language: str = ""  # en or ru; "" means the default of params/labels.yaml
excel_path: str = ""  # where to write the Excel workbook; "" means no workbook
as_of: str = ""  # store versions to read, as a report appendix lists them; "" means the latest

# %% [markdown] tags=["remove-cell"]
# One dealer's page: the monthly report's sections on the dealer's answers, beside its region
# and the network (`python -m analysis report --dealers`, or `--dealer CODE`). The network-wide
# fits (growth zones, root causes) are the batch's, fitted once for every page. Every cell
# below only calls a section of `analysis.report.sections`; the words are in
# params/labels.yaml (`language`). (Tagged remove-cell: the rendered page leaves this out.)

# %%
from analysis.report import sections
from analysis.report.book import ReportBook
from analysis.report.data import load_report_data

data = sections.dealer_scope(load_report_data(
    region=region, month=month, data_dir=data_dir or None, trend_months=trend_months,
    engine=engine or None, as_of=as_of, region_is_name=region_is_name,
    language=language or None), dealer)
book = ReportBook(data.settings.language, keep_going=True)
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
book.finish(excel_path)  # writes the workbook; raises if a section failed (the batch names it)
