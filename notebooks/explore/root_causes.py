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

# %% [markdown]
# # Root causes of complaints
# "What exactly went wrong?" The comments of every answer below 9 are masked (phones, e-mails,
# VINs), normalised and clustered; with seeds the clusters carry the taxonomy's cause names
# (params/taxonomy.yaml), the rest stay discovered clusters. Each cause's NPS impact is the
# number of points the scope's NPS loses to its answers. Re-run with another `seed` to see
# how stable the clusters are, or with `use_seeds = False` to see what the comments say on
# their own.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
month: str = ""  # last month YYYY-MM; "" means the latest complete month in the data
months_back: int = 3  # months of comments the clusters are learned from, ending with month
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
n_clusters: str = "auto"  # "auto" (largest eigengap) or a number of clusters
use_seeds: bool = True  # guide the clusters with the taxonomy seeds of params/taxonomy.yaml
seed: int = 0  # random seed of the clustering

# %%
from analysis import rootcause
from analysis.report import charts, kinds, tables
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        trend_months=months_back)
model = rootcause.make_model(n_clusters=n_clusters, use_seeds=use_seeds, random_state=seed)
labels = rootcause.label_responses(data.responses, model)
print(f"{data.title}: {len(labels)} comments below 9 in {len(model.clusters_)} clusters")

# %% [markdown]
# ## Clusters: size, label from their top words, representative quotes (masked)

# %%
model.clusters_

# %% [markdown]
# ## How the number of clusters was chosen
# The relative eigengap of the comment graph's Laplacian: the chosen k has the largest jump.

# %%
model.k_scores_

# %% [markdown]
# ## Causes ranked by NPS impact
# The Pareto: the points each cause costs, largest first, with the cumulative share.

# %%
charts.cause_pareto(rootcause.cause_impact(data.responses, labels))

# %%
kinds.page(tables.impact_table(rootcause.top_causes(data.responses, labels, model=model)))[0]

# %% [markdown]
# ## Dealer x cause: NPS points each cause costs the dealer

# %%
rootcause.dealer_cause_matrix(data.responses, labels, value="impact").round(2)

# %% [markdown]
# ## Answers per cause and month

# %%
(rootcause.cause_impact(data.responses, labels, by=("month",))
 .pivot(index="month", columns="cause", values="count").fillna(0).astype(int))
