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
region: str = "Central"  # region name as in the dealers table
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
engine: str = ""  # local, dask (a new cluster) or dask with its scheduler address; "" means params
trend_months: int = 12  # months of history in the dynamics charts
excel_path: str = ""  # where to write the Excel workbook; "" means no workbook
as_of: str = ""  # store versions to read, as a report appendix lists them; "" means the latest

# %% [markdown]
# Monthly regional report: NPS, drivers, growth zones and the operational rules.
# Every NPS carries its 95% interval; `*` marks a change that is statistically significant.

# %%
from analysis import reports, sections

data = reports.load_report_data(region=region, month=month, data_dir=data_dir or None,
                                trend_months=trend_months, engine=engine or None,
                                as_of=as_of)
book = reports.ReportBook()
book.heading(data.title)

# %%
sections.headline(book, data)

# %%
sections.touchpoints(book, data)

# %%
sections.response_rates(book, data)

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
sections.data_quality(book, data)

# %%
book.save_excel(excel_path)
data.close()
