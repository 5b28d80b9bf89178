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
# # Loyalty driver explorer
# Relative importance (LMG, relative weights) with bootstrap intervals, cross-checked by an
# ordinal model, a detractor logit and gradient boosting; dynamics and the quadrant map.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
method: str = "lmg"  # lmg or relative_weights
period: str = "Q"  # period of the dynamics: M or Q
n_boot: int = 200  # bootstrap draws behind the intervals
seed: int = 0  # random seed of the bootstrap and the cross-check subsample
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store

# %%
from analysis import drivers
from analysis.report import charts, kinds, tables
from analysis.report.data import load_report_data

data = load_report_data(region=region, data_dir=data_dir or None)
names = drivers.driver_names()
result = drivers.relative_importance(data.responses, target="nps", drivers=names,
                                     method=method, n_boot=n_boot, random_state=seed)
print(result.summary())

# %%
kinds.page(tables.importance_table(result))[0]

# %%
ranks = drivers.compare_methods(data.responses, target="nps", drivers=names,
                                random_state=seed)
print(f"Kendall's W across methods: {ranks.attrs['kendall_w']:.2f}")
ranks

# %%
by_period = drivers.importance_by_period(data.responses, period=period, n_boot=n_boot,
                                         random_state=seed)
ax = charts.importance_dynamics(by_period)

# %%
table = drivers.importance_performance(data.responses, importance=result)
ax = charts.importance_performance(table)
table
