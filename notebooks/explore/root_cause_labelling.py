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
# # Labelling root causes: suggestions, the review queue, a refit
# The team studies every answer below 9 and records the case's root cause (`cases.root_cause`).
# Those findings teach a classifier that reads every comment of the scope, labelled or not
# (`rootcause.RootCauseClassifier`; the taxonomy seeds add weak labels). It suggests a cause
# with a calibrated confidence for every unlabelled comment; the ones it is unsure of form a
# review queue ordered by how much a label would teach it. Label the queue, refit, repeat.
# Tables are in the language of params unless `language` says otherwise.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
month: str = ""  # last month YYYY-MM; "" means the latest complete month in the data
months_back: int = 3  # months of comments the model learns from, ending with month
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
use_seeds: bool = True  # the taxonomy seeds of params/taxonomy.yaml as weak labels
confidence: float = 0.8  # suggestions below this confidence need review
queue_size: int = 15  # comments in the review queue
seed: int = 0  # random seed of the model and the folds
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
from analysis import rootcause
from analysis.report import explore, tables
from analysis.report import format as F
from analysis.report.data import load_report_data

data = load_report_data(region=region, month=month, data_dir=data_dir or None,
                        trend_months=months_back)
book = explore.book(language)
comments, model = rootcause.labelling_model(data.responses, data.cases, use_seeds=use_seeds,
                                           random_state=seed)
labels = comments["root_cause"]
book.note(book.text("explore", "labelling_note", title=data.title_in(book.language),
                    comments=F.count(len(comments)), labelled=F.count(labels.notna().sum()),
                    weak=F.count(model.n_weak_), temperature=F.number(model.temperature_, 2)))

# %% [markdown]
# ## Does the model agree with the team?
# Cross-validated: each fold's labels are hidden, the model is refitted on all comments and
# predicts them. Intervals: Wilson for accuracy and recall, bootstrap for macro-F1.

# %%
agree = rootcause.agreement(comments["comment"], labels, model=model, random_state=seed)
accuracy, f1 = (agree.overall.set_index("metric").loc[m] for m in ("accuracy", "macro_f1"))
book.note(book.text("explore", "agreement", share=F.percent(accuracy["value"]),
                    interval=F.percent_interval(accuracy["low"], accuracy["high"]),
                    n=F.count(accuracy["n"]), f1=F.number(f1["value"], 2),
                    f1_interval=F.interval(f1["low"], f1["high"], 2)))
book.show(book.text("explore", "agreement_table"),
          tables.agreement_table(agree.per_cause, language=book.language), max_rows=None)

# %% [markdown]
# ## Suggestions and cause shares
# Every comment's cause: the team's label where it exists, the model's suggestion elsewhere.

# %%
suggestions = rootcause.suggest(model, comments["comment"], labels, threshold=confidence)
book.note(book.text("explore", "review_note", threshold=F.percent(confidence),
                    n=F.count(suggestions["needs_review"].sum())))
book.show(book.text("explore", "shares"), explore.cause_shares_table(
    rootcause.cause_shares(suggestions), language=book.language), max_rows=None)

# %% [markdown]
# ## The review queue
# Unsure suggestions, the most informative first (uncertainty times how many comments share
# the wording), near-duplicates pushed back so the queue covers different phrasings.

# %%
queue = rootcause.review_queue(model, comments["comment"], labels, size=queue_size,
                               threshold=confidence)
queue_ids = comments.loc[queue["index"], "response_id"].to_numpy()
book.show(book.text("explore", "queue"), explore.review_queue_table(
    queue, response_ids=queue_ids, language=book.language), max_rows=None)

# %% [markdown]
# ## Causes the taxonomy may lack
# Comments far from every known cause, clustered: each row is a candidate new cause.

# %%
book.show(book.text("explore", "proposed"), explore.clusters_table(
    rootcause.propose_causes(model, comments["comment"], labels, random_state=seed),
    language=book.language), max_rows=None)

# %% [markdown]
# ## Label the queue
# Write the team's findings below (response_id -> cause). On the demo store, left empty, the
# planted truth plays the analyst.

# %%
import json

from analysis import config

new_labels: dict = {}  # response_id -> cause
truth_file = config.data_dir(data_dir or None).parent / "truth.json"
if not new_labels and truth_file.exists():
    truth = json.loads(truth_file.read_text(encoding="utf-8"))["response_cause"]
    new_labels = {rid: truth[rid] for rid in queue_ids if rid in truth}
book.note(book.text("explore", "new_labels", n=F.count(len(new_labels))))

# %% [markdown]
# ## Refit and compare

# %%
labels_after = labels.where(labels.notna(), comments["response_id"].map(new_labels))
refit = rootcause.RootCauseClassifier(**model.get_params()).fit(comments["comment"],
                                                                labels_after)
after = rootcause.suggest(refit, comments["comment"], labels_after, threshold=confidence)
book.show(book.text("explore", "refit"), explore.refit_table(
    (labels, suggestions), (labels_after, after), language=book.language))
