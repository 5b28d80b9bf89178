"""What a report does with the classifier: every comment's cause (the team's label, else a
suggestion), the comments to label next, candidate new causes, and the network's causes
learnt from the team's labels (:func:`learn_causes`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import require_columns
from analysis.rootcause.agreement import Agreement, agreement, agreement_of
from analysis.rootcause.classifier import RootCauseClassifier, label_array
from analysis.rootcause.clustering import RootCauseModel
from analysis.rootcause.reading import RootCauseError, as_series, load_seeds, mask_texts

__all__ = [
    "LearnedCauses",
    "cause_shares",
    "labelled_comments",
    "labelling_model",
    "learn_causes",
    "learning_months",
    "propose_causes",
    "review_queue",
    "suggest",
]


def _learning(params: dict | None) -> dict:
    return params_or("taxonomy", params)["learning"]


def suggest(model: RootCauseClassifier, texts, labels=None, *, threshold: float | None = None,
            params: dict | None = None) -> pd.DataFrame:
    """Every comment's cause: the team's label where it gave one, else the model's suggestion.

    Parameters
    ----------
    model
        A fitted :class:`RootCauseClassifier`.
    texts
        The comments (a Series keeps its index).
    labels
        The team's causes, one per comment, None where missing (optional).
    threshold
        Suggestions below this confidence need review (``learning.confidence_threshold``).

    Returns
    -------
    DataFrame
        Indexed like ``texts``: ``text`` (masked), ``label`` (the team's), ``suggested`` and
        ``confidence`` (the model's cause and its calibrated probability), ``runner_up``,
        ``cause`` (the label, else the suggestion), ``source`` ("team" or "model") and
        ``needs_review`` (a model suggestion below the threshold). A comment with no words
        left after normalisation gets no suggestion.
    """
    threshold = float(_learning(params)["confidence_threshold"] if threshold is None
                      else threshold)
    series = as_series(texts)
    y = label_array(labels, len(series))
    distinct, _, prob = model.distinct_proba(series)
    known = distinct.row_doc >= 0
    order = np.argsort(-prob, axis=1)
    doc = np.maximum(distinct.row_doc, 0)
    first = np.full(len(series), None, dtype=object)
    second = np.full(len(series), None, dtype=object)
    conf = np.full(len(series), np.nan)
    if len(prob):
        first[known] = model.classes_[order[doc[known], 0]]
        conf[known] = prob[doc[known], order[doc[known], 0]]
        if prob.shape[1] > 1:
            second[known] = model.classes_[order[doc[known], 1]]
    has_label = np.array([v is not None for v in y])
    cause = np.where(has_label, y, first)
    return pd.DataFrame({
        "text": mask_texts(series).to_numpy(),
        "label": y,
        "suggested": first,
        "confidence": conf,
        "runner_up": second,
        "cause": cause,
        "source": np.where(has_label, "team", np.where(known, "model", None)),
        "needs_review": ~has_label & known & (np.nan_to_num(conf, nan=1.0) < threshold),
    }, index=series.index)


def review_queue(model: RootCauseClassifier, texts, labels=None, *, size: int | None = None,
                 threshold: float | None = None, params: dict | None = None) -> pd.DataFrame:
    """The unlabelled comments whose label would teach the model most, best first.

    Candidates are the distinct (normalised) unlabelled comments whose suggestion's confidence
    is below ``threshold``. Each scores its uncertainty (1 minus the margin between the two
    likeliest causes) times ``1 + log`` of how many comments share it; the queue is then filled
    greedily (maximal marginal relevance): a candidate's score is scaled by ``1 -`` its largest
    cosine similarity to a comment already queued, so near-duplicates wait (diversity sampling).

    Returns
    -------
    DataFrame
        ``rank``, ``index`` (of the first comment in ``texts`` with this wording), ``text``
        (masked), ``comments`` (how many share it), ``suggested``, ``confidence``,
        ``runner_up``, ``uncertainty``, ``score`` (after the diversity discount).
    """
    lp = _learning(params)
    size = int(lp["queue_size"] if size is None else size)
    threshold = float(lp["confidence_threshold"] if threshold is None else threshold)
    series = as_series(texts)
    y = label_array(labels, len(series))
    distinct, z, prob = model.distinct_proba(series)
    columns = ["rank", "index", "text", "comments", "suggested", "confidence", "runner_up",
               "uncertainty", "score"]
    if not len(prob):
        return pd.DataFrame(columns=columns)
    labelled_docs = np.unique(distinct.row_doc[(distinct.row_doc >= 0)
                                               & np.array([v is not None for v in y])])
    order = np.argsort(-prob, axis=1)
    top = prob[np.arange(len(prob)), order[:, 0]]
    second = prob[np.arange(len(prob)), order[:, 1]] if prob.shape[1] > 1 else 0.0
    uncertainty = 1.0 - (top - second)
    base = uncertainty * (1.0 + np.log(np.maximum(distinct.weights, 1.0)))
    candidate = top < threshold
    candidate[labelled_docs] = False
    pool = np.flatnonzero(candidate)
    picked, scores = [], []
    best_sim = np.zeros(len(pool))
    for _ in range(min(size, len(pool))):
        value = base[pool] * (1.0 - np.clip(best_sim, 0.0, 1.0))
        value[np.isin(pool, picked)] = -np.inf
        j = int(np.argmax(value))
        picked.append(int(pool[j]))
        scores.append(float(value[j]))
        best_sim = np.maximum(best_sim, z[pool] @ z[pool[j]])
    picked = np.array(picked, dtype=int)
    first_row = pd.Series(np.arange(len(series))).groupby(distinct.row_doc).first()
    return pd.DataFrame({
        "rank": np.arange(1, len(picked) + 1),
        "index": series.index[first_row.reindex(picked).to_numpy()] if len(picked) else [],
        "text": distinct.quotes[picked],
        "comments": distinct.weights[picked].astype(np.int64),
        "suggested": model.classes_[order[picked, 0]],
        "confidence": top[picked],
        "runner_up": (model.classes_[order[picked, 1]] if prob.shape[1] > 1
                      else np.full(len(picked), None)),
        "uncertainty": uncertainty[picked],
        "score": scores,
    })[columns]


def _taxonomy_read_as(model: RootCauseClassifier, params: dict | None) -> dict:
    """params/taxonomy.yaml (or ``params``) with the text and feature settings of ``model``:
    the far comments are clustered as the classifier reads them."""
    p = params_or("taxonomy", params)
    s = model.get_params()
    return {
        **p,
        "text": {**p["text"], "min_token_length": s["min_token_length"],
                 "stop_words": s["stop_words"], "filler_words": s["filler_words"],
                 "glossary_en_ru": s["glossary"]},
        "features": {**p["features"], **{k: s[k] for k in (
            "word_ngram", "char_ngram", "char_weight", "min_df")}},
        "clustering": {**p["clustering"], "threads": s["threads"]},
    }


def propose_causes(model: RootCauseClassifier, texts, labels=None, *,
                   max_similarity: float | None = None, min_size: int | None = None,
                   random_state: int | None = None, params: dict | None = None
                   ) -> pd.DataFrame:
    """Clusters of unlabelled comments far from every known cause: candidate new causes.

    A comment is far when its cosine similarity (in the model's LSA space) to every cause's
    centroid is below ``max_similarity`` (``learning.far_similarity``). The far comments are
    clustered by :class:`RootCauseModel` (``n_clusters="auto"``, reading them as ``model``
    does, clustering them as params/taxonomy.yaml or ``params`` says); clusters of at least
    ``min_size`` comments (``learning.min_new_cause``) are returned as
    :attr:`RootCauseModel.clusters_` describes them (``cluster``, ``size``, ``share`` of the
    far comments, ``label``, ``quotes``), largest first. Empty when there are too few.
    """
    lp = _learning(params)
    max_similarity = float(lp["far_similarity"] if max_similarity is None else max_similarity)
    min_size = int(lp["min_new_cause"] if min_size is None else min_size)
    series = as_series(texts).reset_index(drop=True)
    y = label_array(labels, len(series))
    distinct, z, _ = model.distinct_proba(series)
    columns = ["cluster", "size", "share", "label", "quotes"]
    empty = pd.DataFrame(columns=columns)
    if not len(z):
        return empty
    far_doc = (z @ model.centroids_.T).max(1) < max_similarity
    rows = ((distinct.row_doc >= 0) & far_doc[np.maximum(distinct.row_doc, 0)]
            & np.array([v is None for v in y]))
    far = series[rows]
    if len(far) < 2 * min_size or far.nunique() < 3:
        return empty
    found = RootCauseModel("auto", language=model.language, random_state=random_state,
                           params=_taxonomy_read_as(model, params)).fit(far)
    return (found.clusters_.loc[lambda d: d["size"] >= min_size, columns]
            .sort_values("size", ascending=False, kind="stable").reset_index(drop=True))


def cause_shares(suggestions: pd.DataFrame) -> pd.DataFrame:
    """Cause shares from :func:`suggest`: the team's labels where present, suggestions elsewhere.

    Returns
    -------
    DataFrame
        Per cause, most frequent first: ``count``, ``share`` (of comments with a cause),
        ``team`` and ``model`` (how many of them come from each), and ``source``: "team",
        "model" or "team + model".
    """
    missing = [c for c in ("cause", "source") if c not in suggestions]
    if missing:
        raise RootCauseError(f"suggestions lack column(s) {missing}; pass what suggest() returns")
    frame = suggestions.dropna(subset=["cause"])
    table = (pd.crosstab(frame["cause"], frame["source"])
             .reindex(columns=["team", "model"], fill_value=0))
    table.columns.name = None
    out = (table.assign(count=lambda d: d["team"] + d["model"])
           .assign(share=lambda d: d["count"] / d["count"].sum(),
                   source=lambda d: np.select([d["model"] == 0, d["team"] == 0],
                                              ["team", "model"], "team + model"))
           .rename_axis("cause").reset_index()
           .sort_values(["count", "cause"], ascending=[False, True], kind="stable"))
    return out[["cause", "count", "share", "team", "model", "source"]].reset_index(drop=True)


def labelling_model(responses: pd.DataFrame, cases: pd.DataFrame | None = None, *,
                    use_seeds: bool = True, random_state: int | None = 0
                    ) -> tuple[pd.DataFrame, RootCauseClassifier]:
    """The comments to label (:func:`labelled_comments`) and the classifier fitted on them,
    learning from the team's labels and (``use_seeds``) the taxonomy's seed words."""
    comments = labelled_comments(responses, cases)
    model = RootCauseClassifier.from_params(
        seeds=load_seeds() if use_seeds else None,
        random_state=random_state).fit(comments["comment"], comments["root_cause"])
    return comments, model


def labelled_comments(responses: pd.DataFrame, cases: pd.DataFrame | None = None, *,
                      text: str = "comment", score: str = "nps", id_col: str = "response_id",
                      params: dict | None = None) -> pd.DataFrame:
    """The commented answers below 9 with the team's root cause from their case, if any.

    Returns ``[id_col, text, "root_cause"]``: one row per commented answer in scope;
    ``root_cause`` is missing where no case recorded one (or ``cases`` lacks the column).
    """
    require_columns(responses, [text, score, id_col], table="responses", error=RootCauseError)
    score_max = params_or("taxonomy", params)["scope"]["score_max"]
    chosen = responses.loc[(responses[score] <= score_max) & responses[text].notna()
                           & (responses[text].astype(str).str.strip() != ""), [id_col, text]]
    if cases is None or "root_cause" not in cases:
        return chosen.assign(root_cause=None).reset_index(drop=True)
    found = (cases.dropna(subset=["root_cause"]).drop_duplicates(id_col, keep="last")
             .set_index(id_col)["root_cause"])
    cause = chosen[id_col].map(found).astype("object")
    return chosen.assign(root_cause=cause.where(cause.notna(), None)).reset_index(drop=True)


def learning_months(month: str, months: Sequence[str], *, params: dict | None = None
                    ) -> tuple[str, ...]:
    """The months a report's classifier learns from: the last ``learning.report_months`` of
    ``months`` up to ``month`` (a month's labels alone are too few to learn eleven causes)."""
    n = int(_learning(params).get("report_months", 3))
    return tuple(m for m in sorted(months) if m <= month)[-n:]


@dataclass(frozen=True)
class LearnedCauses:
    """The network's root causes learnt from the team's labels, as a report reads them.

    ``model`` is the fitted :class:`RootCauseClassifier`; ``suggestions`` is :func:`suggest`
    for every commented answer below 9 of ``months``, with ``response_id``, ``month`` and
    ``dealer_id``; ``agreement`` is the network's cross-validated :class:`Agreement` (None
    when too few causes are labelled twice), its predictions indexed by ``response_id``;
    ``params`` the contents of params/taxonomy.yaml it was learnt with (None: the file).
    """

    model: RootCauseClassifier
    suggestions: pd.DataFrame
    agreement: Agreement | None
    months: tuple[str, ...]
    threshold: float
    params: dict | None = None

    def causes(self, responses: pd.DataFrame, *, id_col: str = "response_id") -> pd.Series:
        """The cause of each of ``responses`` that has one (the team's, else the model's), as
        :func:`label_responses` returns it: a Series indexed by ``id_col``."""
        chosen = self.scope(responses, id_col=id_col).dropna(subset=["cause"])
        return pd.Series(chosen["cause"].to_numpy(), index=chosen[id_col].to_numpy(),
                         name="cause", dtype="object").rename_axis(id_col)

    def scope(self, responses: pd.DataFrame, *, id_col: str = "response_id") -> pd.DataFrame:
        """The suggestions of the answers in ``responses`` (a region's, a month's)."""
        return self.suggestions.loc[self.suggestions[id_col].isin(responses[id_col])]

    def scope_agreement(self, responses: pd.DataFrame, *, id_col: str = "response_id",
                        random_state: int | None = 0) -> Agreement | None:
        """The agreement on the labelled answers of ``responses`` (None: none labelled)."""
        if self.agreement is None:
            return None
        held = self.agreement.predictions.loc[
            lambda d: d.index.isin(responses[id_col])]
        if held.empty:
            return None
        return agreement_of(held, level=self.agreement.level, random_state=random_state,
                            params=self.params)


def learn_causes(responses: pd.DataFrame, cases: pd.DataFrame | None, *,
                 months: Sequence[str] | None = None, use_seeds: bool = True,
                 random_state: int | None = 0, params: dict | None = None
                 ) -> LearnedCauses | None:
    """Fit the classifier on the team's labels and every comment, suggest, measure agreement.

    ``responses`` (with ``month`` and ``dealer_id``) are every answer the classifier reads;
    ``cases`` carry the team's ``root_cause``. Returns None when the team labelled fewer
    than ``learning.report_min_labels`` comments or fewer than two causes: the report then
    keeps the clustering of :class:`RootCauseModel`.
    """
    lp = _learning(params)
    comments = labelled_comments(responses, cases, params=params)
    labels = comments["root_cause"]
    if (labels.notna().sum() < int(lp.get("report_min_labels", 10))
            or labels.dropna().nunique() < 2):
        return None
    seeds = load_seeds(params) if use_seeds else None
    model = RootCauseClassifier.from_params(params, seeds=seeds,
                                            random_state=random_state).fit(
        comments["comment"], labels)
    threshold = float(lp["confidence_threshold"])
    extra = [c for c in ("month", "dealer_id") if c in responses]
    found = (suggest(model, comments["comment"], labels, threshold=threshold, params=params)
             .assign(response_id=comments["response_id"].to_numpy())
             .merge(responses[["response_id", *extra]].drop_duplicates("response_id"),
                    on="response_id", how="left"))
    try:
        agree = agreement(comments["comment"], labels, model=model, random_state=random_state,
                          params=params)
        ids = comments["response_id"].to_numpy()
        agree = Agreement(agree.overall, agree.per_cause,
                          agree.predictions.set_axis(ids[agree.predictions.index]),
                          agree.level)
    except RootCauseError:
        agree = None
    if months is None:
        months = tuple(sorted(responses["month"].unique())) if "month" in responses else ()
    return LearnedCauses(model, found, agree, tuple(months), threshold, params)
