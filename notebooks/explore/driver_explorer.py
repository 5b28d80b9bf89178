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
# # Loyalty driver explorer
# Relative importance (LMG, relative weights) with bootstrap intervals, cross-checked by an
# ordinal model, a detractor logit and gradient boosting; dynamics and the quadrant map.
# Tables and charts are in the language of params unless `language` says otherwise.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
method: str = "lmg"  # lmg or relative_weights
period: str = "Q"  # period of the dynamics: M or Q
n_boot: int = 200  # bootstrap draws behind the intervals
seed: int = 0  # random seed of the bootstrap and the cross-check subsample
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
from analysis import drivers
from analysis.report import charts, explore, tables
from analysis.report import format as F
from analysis.report.data import load_report_data

data = load_report_data(region=region, data_dir=data_dir or None)
book = explore.book(language)
names = drivers.driver_names()
result = drivers.relative_importance(data.responses, target="nps", drivers=names,
                                     method=method, n_boot=n_boot, random_state=seed)
book.show(book.text("explore", "importance", r2=F.number(result.r2, 2), n=F.count(result.n)),
          tables.importance_table(result.shares(), level=result.level,
                                  language=book.language))

# %%
ranks = drivers.compare_methods(data.responses, target="nps", drivers=names,
                                random_state=seed)
book.note(book.text("explore", "kendall_w", w=F.number(ranks.attrs["kendall_w"], 2)))
book.show(book.text("explore", "methods"),
          explore.method_ranks_table(ranks, language=book.language))

# %%
by_period = drivers.importance_by_period(data.responses, period=period, n_boot=n_boot,
                                         random_state=seed)
book.chart(charts.importance_dynamics(by_period, language=book.language))

# %%
table = drivers.importance_performance(data.responses, importance=result)
book.chart(charts.importance_performance(table, language=book.language))
book.show(book.text("tables", "importance_performance"),
          tables.importance_performance_table(table, language=book.language), decimals=2)
