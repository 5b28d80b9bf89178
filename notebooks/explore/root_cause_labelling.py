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
# # Labelling root causes: suggestions, the review queue, a refit
# The team studies every answer below 9 and records the case's root cause (`cases.root_cause`).
# Those findings teach a classifier that reads every comment of the scope, labelled or not
# (`rootcause.RootCauseClassifier`; the taxonomy seeds add weak labels). It suggests a cause
# with a calibrated confidence for every unlabelled comment; the ones it is unsure of form a
# review queue ordered by how much a label would teach it. Label the queue, refit, repeat.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
month: str = ""  # last month YYYY-MM; "" means the latest complete month in the data
months_back: int = 3  # months of comments the model learns from, ending with month
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
use_seeds: bool = True  # the taxonomy seeds of params/taxonomy.yaml as weak labels
confidence: float = 0.8  # suggestions below this confidence need review
queue_size: int = 15  # comments in the review queue
seed: int = 0  # random seed of the model and the folds

# %%
import json

import pandas as pd

from analysis import config, rootcause
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        trend_months=months_back)
comments = rootcause.labelled_comments(data.responses, data.cases)
labels = comments["root_cause"]
seeds = rootcause.load_seeds() if use_seeds else None
model = rootcause.RootCauseClassifier(seeds=seeds, random_state=seed).fit(comments["comment"],
                                                                          labels)
print(f"{data.title}: {len(comments)} comments below 9, {labels.notna().sum()} with the team's "
      f"cause, {model.n_weak_} with a seed's weak label; temperature {model.temperature_:.2f}")

# %% [markdown]
# ## Does the model agree with the team?
# Cross-validated: each fold's labels are hidden, the model is refitted on all comments and
# predicts them. Intervals: Wilson for accuracy and recall, bootstrap for macro-F1.

# %%
agree = rootcause.agreement(comments["comment"], labels, model=model, random_state=seed)
print(agree.summary())
agree.per_cause.round(3)

# %% [markdown]
# ## Suggestions and cause shares
# Every comment's cause: the team's label where it exists, the model's suggestion elsewhere.

# %%
suggestions = rootcause.suggest(model, comments["comment"], labels, threshold=confidence)
print(f"{suggestions['needs_review'].sum()} suggestions below {confidence:.0%} confidence")
rootcause.cause_shares(suggestions).round(3)

# %% [markdown]
# ## The review queue
# Unsure suggestions, the most informative first (uncertainty times how many comments share
# the wording), near-duplicates pushed back so the queue covers different phrasings.

# %%
queue = rootcause.review_queue(model, comments["comment"], labels, size=queue_size,
                               threshold=confidence)
queue_ids = comments.loc[queue["index"], "response_id"].to_numpy()
queue.assign(response_id=queue_ids).round(3)

# %% [markdown]
# ## Causes the taxonomy may lack
# Comments far from every known cause, clustered: each row is a candidate new cause.

# %%
rootcause.propose_causes(model, comments["comment"], labels, random_state=seed)

# %% [markdown]
# ## Label the queue
# Write the team's findings below (response_id -> cause). On the demo store, left empty, the
# planted truth plays the analyst.

# %%
new_labels: dict = {}  # response_id -> cause
truth_file = config.data_dir(data_dir or None).parent / "truth.json"
if not new_labels and truth_file.exists():
    truth = json.loads(truth_file.read_text(encoding="utf-8"))["response_cause"]
    new_labels = {rid: truth[rid] for rid in queue_ids if rid in truth}
print(f"{len(new_labels)} new labels")

# %% [markdown]
# ## Refit and compare

# %%
labels_after = labels.where(labels.notna(), comments["response_id"].map(new_labels))
refit = rootcause.RootCauseClassifier(seeds=seeds, random_state=seed).fit(comments["comment"],
                                                                          labels_after)
after = rootcause.suggest(refit, comments["comment"], labels_after, threshold=confidence)
pd.DataFrame({
    "team labels": [labels.notna().sum(), labels_after.notna().sum()],
    "need review": [suggestions["needs_review"].sum(), after["needs_review"].sum()],
    "mean confidence of suggestions": [
        suggestions.loc[suggestions["source"] == "model", "confidence"].mean().round(3),
        after.loc[after["source"] == "model", "confidence"].mean().round(3)],
}, index=["before", "after"])
