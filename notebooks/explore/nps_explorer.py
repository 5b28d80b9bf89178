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
# # NPS explorer
# NPS of any slice: pick the grouping columns, the period and the scope. Every figure has its
# 95% interval; `small_sample` marks groups under the minimum size in params/nps.yaml.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
by: str = "touchpoint"  # comma-separated columns: region, dealer_id, dealer_name, touchpoint
period: str = "Q"  # M month, Q quarter, W week; "" means no time split
months: int = 12  # months of history
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store

# %%
from analysis import nps
from analysis.report import charts
from analysis.report.data import load_report_data

data = load_report_data(region=region, data_dir=data_dir or None, trend_months=months)
keys = tuple(k.strip() for k in by.split(",") if k.strip())
table = nps.summarize(data.responses, by=keys, period=period or None,
                      invitations=data.invitations)
table

# %%
# every answer lands in exactly one group: the slice loses and invents nothing
assert table["n"].sum() == len(data.responses), "groups do not add up to the answers"
print(f"{len(data.responses)} answers in {len(table)} groups")

# %%
if period and len(keys) == 1:
    charts.nps_errorbars(table, hue=keys[0], title=f"NPS by {keys[0]}")
elif period:
    charts.nps_errorbars(nps.summarize(data.responses, by=(), period=period), title="NPS")

# %%
print(nps.compare(data.current["nps"], data.responses.loc[
    data.responses["month"] != data.month, "nps"]).summary())
