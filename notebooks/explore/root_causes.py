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
# # Root causes of complaints
# "What exactly went wrong?" The comments of every answer below 9 are masked (phones, e-mails,
# VINs), normalised and clustered; with seeds the clusters carry the taxonomy's cause names
# (params/taxonomy.yaml), the rest stay discovered clusters. Each cause's NPS impact is the
# number of points the scope's NPS loses to its answers. Re-run with another `seed` to see
# how stable the clusters are, or with `use_seeds = False` to see what the comments say on
# their own. Tables and charts are in the language of params unless `language` says otherwise.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
month: str = ""  # last month YYYY-MM; "" means the latest complete month in the data
months_back: int = 3  # months of comments the clusters are learned from, ending with month
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
n_clusters: str = "auto"  # "auto" (largest eigengap) or a number of clusters
use_seeds: bool = True  # guide the clusters with the taxonomy seeds of params/taxonomy.yaml
seed: int = 0  # random seed of the clustering
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
from analysis import rootcause
from analysis.report import charts, explore, tables
from analysis.report import format as F
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        trend_months=months_back)
book = explore.book(language)
model = rootcause.make_model(n_clusters=n_clusters, use_seeds=use_seeds, random_state=seed)
labels = rootcause.label_responses(data.responses, model)
book.note(book.text("explore", "clusters_note", title=data.title_in(book.language),
                    comments=F.count(len(labels)), clusters=F.count(len(model.clusters_))))

# %% [markdown]
# ## Clusters: size, label from their top words, representative quotes (masked)

# %%
book.show(book.text("explore", "clusters"),
          explore.clusters_table(model.clusters_, language=book.language), max_rows=None)

# %% [markdown]
# ## How the number of clusters was chosen
# The relative eigengap of the comment graph's Laplacian: the chosen k has the largest jump.

# %%
book.show(book.text("explore", "eigengap"),
          explore.eigengap_table(model.k_scores_, language=book.language), max_rows=None)

# %% [markdown]
# ## Causes ranked by NPS impact
# The Pareto: the points each cause costs, largest first, with the cumulative share.

# %%
book.chart(charts.cause_pareto(rootcause.cause_impact(data.responses, labels),
                               language=book.language))

# %%
book.show(book.text("explore", "impact"), tables.impact_table(
    rootcause.top_causes(data.responses, labels, model=model), language=book.language),
    max_rows=None)

# %% [markdown]
# ## Dealer x cause: NPS points each cause costs the dealer

# %%
book.show(book.text("explore", "dealer_causes"), tables.cause_matrix_table(
    rootcause.dealer_cause_matrix(data.responses, labels, value="impact"),
    language=book.language), decimals=2, max_rows=None)

# %% [markdown]
# ## Answers per cause and month

# %%
book.show(book.text("explore", "cause_months"), explore.cause_months_table(
    rootcause.cause_impact(data.responses, labels, by=("month",)), language=book.language))
