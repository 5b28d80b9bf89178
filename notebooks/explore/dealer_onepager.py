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

# %% [markdown]
# # Dealer one-pager
# One dealer against its region and the network: NPS with intervals, drivers, growth zones,
# red flags, golden stars and repeat repairs of the month.

# %% tags=["parameters"]
dealer_id: str = ""  # dealer id, e.g. D001; "" means the dealer with most answers in the month
region: str = "all"  # region to look for the dealer in, or "all"
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
engine: str = ""  # local, dask (a new cluster) or dask with its scheduler address; "" means params

# %%
from analysis.report import sections
from analysis.report.book import ReportBook
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        engine=engine or None)
dealer = sections.dealer_scope(data, dealer_id)
book = ReportBook()
book.heading(f"{dealer.dealers['dealer_name'].iloc[0]} ({dealer.dealers['dealer_id'].iloc[0]}), "
             f"{dealer.month}")

# %%
sections.dealer_vs_peers(book, dealer)

# %%
sections.headline(book, dealer)

# %%
sections.dealer_growth_zones(book, dealer)

# %%
sections.red_flags(book, dealer)

# %%
sections.golden_stars(book, dealer)

# %%
sections.repeat_repairs(book, dealer)

# %%
data.close()
