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
region: str = "all"  # region name as in the dealers table, or "all" for the whole network
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or data/demo
trend_months: int = 12  # months of history in the dynamics charts

# %%
from IPython.display import Markdown, display

from analysis import nps, plots
from analysis.reports import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        trend_months=trend_months)
display(Markdown(f"# {data.title}"))

# %% [markdown]
# ## Headline NPS and its dynamics

# %%
monthly = nps.summarize(data.responses, by=(), period="M")
monthly.tail(2)

# %%
plots.nps_trend(monthly, title=f"NPS by month, {data.months[0]} - {data.month}");

# %% [markdown]
# ## By touchpoint

# %%
nps.summarize(data.current, by=("touchpoint",), period=None).sort_values("n", ascending=False)

# %% [markdown]
# ## Regions (network report) or dealers (regional report), 12 months

# %%
scope = "region" if region == "all" else "dealer_name"
plots.nps_trend(nps.summarize(data.responses, by=(scope,), period="M"), hue=scope,
                title=f"NPS by {scope.replace('_', ' ')}");

# %% [markdown]
# ## Dealers in the report month

# %%
(nps.summarize(data.current, by=("region", "dealer_id", "dealer_name"), period=None)
 .sort_values("nps", ascending=False).reset_index(drop=True))
