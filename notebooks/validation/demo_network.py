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
# # Validation: the demo network's planted truth
# A small demo network generated here from a fixed seed (`analysis.synthetic`, not the demo
# store: the same network on every machine), its headline figures, and what the statistics
# find of the truth planted in it: the driver weights, the weak dealers, the cause behind each
# complaint and the repeat repairs. Committed with its outputs; `make validation` runs it under
# strict nbval, so a change that moves a number below fails until `make validation-refresh`
# rewrites the outputs and the diff is reviewed. Every bootstrap is seeded.

# %% tags=["parameters"]
seed: int = 7  # the network's seed: one seed, one network
n_dealers: int = 18  # dealers of the network
n_regions: int = 3  # regions (the first ones of params/network.yaml)
months: int = 6  # months of answers, up to the demo's last month
responses_per_month: int = 1500  # expected answers a month over the network

# %%
import pandas as pd

from analysis import drivers, growth, nps, repairs, rootcause, store, validation
from analysis.config import load_params
from analysis.synthetic import make_network

net = make_network(n_dealers=n_dealers, n_regions=n_regions, months=months,
                   responses_per_month=responses_per_month, seed=seed)
responses = store.with_region(net.responses, net.dealers)
print(f"{len(responses)} answers of {responses['dealer_id'].nunique()} dealers in "
      f"{responses['region'].nunique()} regions, {responses['responded_at'].min():%Y-%m} to "
      f"{responses['responded_at'].max():%Y-%m}")

# %% [markdown]
# ## Headline NPS
# The network's and each region's NPS over all the months, with the 95 % adjusted Wald
# interval; `nps_shrunk` is the region's NPS shrunk toward the network (empirical Bayes).

# %%
counts = ["n", "promoters", "passives", "detractors", "nps", "nps_low", "nps_high"]
network = nps.summarize(responses, by=(), period=None)
regions = nps.summarize(responses, by=("region",), period=None)
print(network[counts].to_string(index=False, float_format="{:.2f}".format))
print()
print(regions[["region", *counts, "nps_shrunk"]].sort_values("region")
      .to_string(index=False, float_format="{:.2f}".format))

# %% [markdown]
# ## Dealer ranking: top and bottom rows
# Ranked by the median of each dealer's network ranks in seeded draws from its posterior
# around the shrunk NPS (a small dealer's lucky answers do not put it first); `rank_low` and
# `rank_high` hold 90 % of those ranks, so the shown rank always lies between them.

# %%
ranking = nps.rank_dealers(responses)
shown = ranking[["rank_network", "rank_region", "region", "dealer_id", "n", "nps", "nps_low",
                 "nps_high", "nps_shrunk", "rank_low", "rank_high"]]
print("top 3")
print(shown.head(3).to_string(index=False, float_format="{:.2f}".format))
print("bottom 3")
print(shown.tail(3).to_string(index=False, float_format="{:.2f}".format))

# %% [markdown]
# ## Driver importance beside the planted weights
# LMG importance of each driver (R^2 units) with the 95 % interval of 200 draws of the
# reports' dealer bootstrap (seed 0), beside the weight the network gives the driver.

# %%
cluster = load_params("drivers")["bootstrap_cluster"]
importance = drivers.relative_importance(responses, target="nps",
                                         drivers=drivers.driver_names(), n_boot=200,
                                         random_state=0, cluster=cluster)
print(f"R^2 {importance.r2:.4f} on {importance.n} complete answers")
print(validation.driver_weights(net.truth, importance.table)
      .to_string(index=False, float_format="{:.4f}".format))

# %% [markdown]
# ## Weak dealers found
# Each planted weak dealer (one driver's ratings dropped by `weak_drop`): the driver of its
# largest growth zone (seed 0), its place among the dealers with growth zones and its NPS rank.

# %%
zones = growth.growth_zones(responses, drivers=drivers.driver_names(), random_state=0)
weak = validation.weak_dealers(net.truth, top=zones.top(len(zones.dealers)), ranking=ranking)
print(weak.to_string(index=False, float_format="{:.1f}".format))
print(f"{weak['found'].sum()} of {len(weak)} weak dealers found with their planted driver; "
      f"{zones.table['growth_zone'].sum()} growth zones at {(zones.dealers['n_zones'] > 0).sum()}"
      " dealers")

# %% [markdown]
# ## Root causes
# The classifier learnt from the team's labels (a share of the cases, with some noise): its
# cross-validated agreement with the team, as the report shows it, then its suggestions for
# the comments nobody labelled against the cause planted behind each.

# %%
learned = rootcause.learn_causes(responses, net.cases, random_state=0)
print("with the team's labels (cross-validated)")
print(learned.agreement.overall.to_string(index=False, float_format="{:.4f}".format))
planted = rootcause.agreement_of(validation.causes(net.truth, learned.suggestions),
                                 random_state=0)
print("with the planted causes (unlabelled comments)")
print(planted.overall.to_string(index=False, float_format="{:.4f}".format))
print(planted.per_cause[["cause", "n", "precision", "recall", "f1"]]
      .to_string(index=False, float_format="{:.3f}".format))

# %% [markdown]
# ## Repeat repairs
# Pairs of repair orders where the same car came back with the same fault within the window,
# against the planted pairs (decoys outside the window or of another fault are planted too).

# %%
pairs = repairs.repeat_repairs(net.repair_orders)
print(validation.repeat_repairs(net.truth, pairs).to_string(index=False,
                                                            float_format="{:.3f}".format))
print(f"days from the first order's close to the repeat: {pairs['days'].min()} to "
      f"{pairs['days'].max()}")
