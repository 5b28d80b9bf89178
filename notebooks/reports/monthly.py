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
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
region: str = "all"  # "all" is the whole network, else a region name as in the dealers table
region_is_name: bool = False  # True: region names a region even where it reads "all"
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
engine: str = ""  # local, dask (a new cluster) or dask with its scheduler address; "" means params
trend_months: int = 12  # months of history in the dynamics charts
language: str = ""  # en or ru; "" means the default of params/labels.yaml
excel_path: str = ""  # where to write the Excel workbook; "" means no workbook
as_of: str = ""  # store versions to read, as a report appendix lists them; "" means the latest

# %% [markdown] tags=["remove-cell"]
# Monthly report of the network or of one region: NPS, regions (the network's report only),
# drivers, growth zones and the operational rules. Every cell below only calls a section of
# `analysis.report.sections`; the report's words are in params/labels.yaml (`language`).
# (Tagged remove-cell: the rendered report leaves this note out.)

# %%
from analysis.report import sections
from analysis.report.book import ReportBook
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                         trend_months=trend_months, engine=engine or None, as_of=as_of,
                         region_is_name=region_is_name, language=language or None)
book = ReportBook(data.settings.language, keep_going=True)
sections.title(book, data)

# %%
sections.summary(book, data)

# %%
sections.headline(book, data)

# %%
sections.touchpoints(book, data)

# %%
sections.response_rates(book, data)

# %%
if data.is_network:
    sections.regions(book, data)

# %%
sections.dealers(book, data)

# %%
sections.loyalty_drivers(book, data)

# %%
sections.importance_performance(book, data)

# %%
sections.root_causes(book, data)

# %%
sections.growth_zones(book, data)

# %%
sections.css_index(book, data)

# %%
sections.red_flags(book, data)

# %%
sections.golden_stars(book, data)

# %%
sections.incident_section(book, data)

# %%
sections.repeat_repairs(book, data)

# %%
sections.actions_review(book, data)

# %%
sections.customers(book, data)

# %%
sections.survey_funnel(book, data)

# %%
sections.data_quality(book, data)

# %%
data.close()
book.finish(excel_path)  # writes the workbook; raises if a section failed (the batch names it)
