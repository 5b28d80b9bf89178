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
# # Validation: published values
# The package against values published for public reference sets: relative importance of
# drivers on R's `mtcars` and `attitude`, and the NPS interval of fixed counts. The data and
# the published values are in `tests/data/` (`published_values.yaml`; where each comes from:
# `tests/data/README.md`). This notebook is committed with its outputs and `make validation`
# runs it under strict nbval: a change that moves any number below fails until
# `make validation-refresh` rewrites the outputs and the diff is reviewed.

# %%
import pandas as pd
import yaml

from analysis import drivers, validation
from analysis.config import ROOT

DATA = ROOT / "tests" / "data"
published = yaml.safe_load((DATA / "published_values.yaml").read_text(encoding="utf-8"))
importance = published["importance"]

# %% [markdown]
# ## Relative importance (LMG, relative weights)
# Importances in R^2 units; `computed` to 7 decimals, `agrees` within half a unit of the last
# published decimal.

# %%
for name, case in importance.items():
    frame = pd.read_csv(DATA / case["data"])
    result = drivers.relative_importance(frame, target=case["target"],
                                         drivers=list(case["importance"]), method=case["method"])
    print(f"{name}: {case['source']}")
    print(validation.against_published(result, case["importance"], digits=case["digits"],
                                       r2=case.get("r2")).to_string(float_format="{:.7f}".format))
    print()

# %% [markdown]
# ## NPS and its interval on fixed counts
# NPS in points with its 95 % (or 90 %) interval: the adjusted Wald interval of Rocks (2016),
# which the reports show, and the plain Wald interval; computed to 4 decimals beside the values
# worked by hand to 2.

# %%
cases = pd.DataFrame(published["nps_interval"])
print(validation.nps_intervals(cases).to_string(index=False, float_format="{:.4f}".format))
