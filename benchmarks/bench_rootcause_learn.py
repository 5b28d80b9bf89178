"""Root causes learnt from labels: learning curves against the plain supervised baseline.

Issue 18's product test. For 5, 20 and 50 labelled comments per cause, both sides see every
comment of a set but the labels of only that many per cause, and are scored on the rest:

- ours: ``RootCauseClassifier`` (semi-supervised: it also reads the unlabelled comments;
  calibrated by temperature scaling and a top-label map, both fitted by cross-validation on
  the labelled comments);
- the plain baseline the issue names, run in the same process: TF-IDF of word 1-2-grams and
  character 3-5-grams (``char_wb``) + ``LogisticRegression`` on the labelled comments alone.

Scores: accuracy, macro-F1, and the expected calibration error (ECE, 15 equal-width bins of the
top probability) of each side, each the mean over three random label draws (``SEEDS``; the
gain's spread over the draws is printed too). No parameter is tuned on the scored comments. Targets (issue 18): on real text, at 20 labels per cause, ours
beats the baseline by at least 5 accuracy points, by more at 5 per cause; ECE at most 0.05.

Sets (tests/data/README.md has provenance and licences):
- ``demo``: the demo network's complaint comments (``rootcause.demo_comments``), 11 causes;
- ``newsgroups``: 20 Newsgroups, 150 real posts per group (first 100 words), 20 classes;
- ``drug reviews``: real patient reviews (UCI Drug Review subset), the 4 conditions with at least
  40 reviews; 50 per cause is more than they hold, so that point is skipped.

Each row's ``seconds`` is our fit, ``baseline_seconds`` the baseline's; ``target``/``ok`` are the
accuracy target where one applies, the note has the scores.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline, make_union

from analysis import rootcause as rc
from analysis.synthetic import demo_comments
from benchmarks._common import ratio_row

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
PER_CAUSE = (5, 20, 50)


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the frequency-weighted |confidence - accuracy| per bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum((which == b).mean() * abs(confidence[which == b].mean()
                                                - correct[which == b].mean())
                     for b in range(bins) if (which == b).any()))


def ece_floor(confidence: np.ndarray, bins: int = 15, draws: int = 200,
              seed: int = 0) -> float:
    """The ECE a perfectly calibrated model with these confidences would still show on this
    many scored texts: each text right with probability its confidence, ``draws`` times. An
    ECE near this floor is sampling noise, not miscalibration."""
    rng = np.random.default_rng(seed)
    return float(np.mean([ece(confidence, rng.random(len(confidence)) < confidence, bins)
                          for _ in range(draws)]))


def baseline():
    """The issue's plain supervised baseline."""
    return make_pipeline(
        make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        LogisticRegression(max_iter=2000))


def sets(quick: bool) -> dict[str, pd.DataFrame]:
    news = pd.read_csv(DATA / "newsgroups20_en.csv").rename(columns={"group": "cause"})
    drugs = pd.read_csv(DATA / "drug_reviews_en.csv").rename(columns={"condition": "cause"})
    counts = drugs["cause"].value_counts()
    drugs = drugs.loc[drugs["cause"].isin(counts[counts >= 40].index)]
    if quick:
        news = news.groupby("cause").head(60)
    demo = demo_comments(600 if quick else 3000, random_state=2024)
    return {"demo": demo.reset_index(drop=True),
            "newsgroups": news[["text", "cause"]].reset_index(drop=True),
            "drug reviews": drugs[["text", "cause"]].reset_index(drop=True)}


def _split(data: pd.DataFrame, per_cause: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(data), dtype=bool)
    for _, group in data.groupby("cause"):
        labelled[rng.permutation(group.index.to_numpy())[:per_cause]] = True
    return labelled


def _timed(fn):
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def curve(data: pd.DataFrame, per_cause: int, seed: int = 0) -> dict:
    """Both sides at one point of the learning curve."""
    labelled = _split(data, per_cause, seed)
    rest = ~labelled
    truth = data.loc[rest, "cause"].to_numpy()
    labels = data["cause"].where(labelled, None)
    ours_s, ours = _timed(lambda: rc.RootCauseClassifier.from_params(random_state=seed)
                          .fit(data["text"], labels))
    base_s, base = _timed(lambda: baseline().fit(data.loc[labelled, "text"],
                                                 data.loc[labelled, "cause"]))
    out = {"per_cause": per_cause, "n_labelled": int(labelled.sum()), "n_rest": int(rest.sum()),
           "ours_s": ours_s, "base_s": base_s}
    for side, model in (("ours", ours), ("base", base)):
        prob = model.predict_proba(data.loc[rest, "text"])
        pred = np.asarray(model.classes_)[prob.argmax(1)]
        correct = pred == truth
        out[f"{side}_acc"] = float(correct.mean())
        out[f"{side}_f1"] = float(f1_score(truth, pred, average="macro"))
        out[f"{side}_ece"] = ece(prob.max(1), correct)
        if side == "ours":
            out["ours_ece_floor"] = ece_floor(prob.max(1))
    return out


SEEDS = (0, 1, 2)  # label draws: each point is their mean, so that no number is one draw's luck


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def learning_curve(data: pd.DataFrame, seeds=SEEDS) -> pd.DataFrame:
    """Every point of the curve the set allows, averaged over ``seeds`` (label draws).

    ``gain`` is ours minus the baseline in accuracy points, ``gain_sd`` its spread over draws.
    """
    smallest = int(data["cause"].value_counts().min())
    rows = []
    for k in PER_CAUSE:
        if k >= smallest:  # no comment of that cause would be left to score
            continue
        draws = [curve(data, k, seed) for seed in seeds]
        gains = [100 * (r["ours_acc"] - r["base_acc"]) for r in draws]
        rows.append({"per_cause": k, "draws": len(draws),
                     **{key: _mean(draws, key) for key in (
                         "ours_acc", "base_acc", "ours_f1", "base_f1", "ours_ece", "base_ece",
                         "ours_ece_floor", "ours_s", "base_s")},
                     "ours_ece_max": max(r["ours_ece"] for r in draws),
                     "gain": float(np.mean(gains)), "gain_sd": float(np.std(gains)),
                     "n_labelled": draws[0]["n_labelled"], "n_rest": draws[0]["n_rest"]})
    return pd.DataFrame(rows)


def run(quick: bool = False) -> list[dict]:
    rows = []
    for name, data in sets(quick).items():
        table = learning_curve(data, SEEDS[:1] if quick else SEEDS)
        gain = table.set_index("per_cause")["gain"]
        for r in table.to_dict("records"):
            k = r["per_cause"]
            row = ratio_row(
                f"rootcause learn {name} {k}/cause: ours vs plain", r["ours_s"],
                "tfidf word 1-2 + char_wb 3-5 + LR", r["base_s"],
                note=(f"accuracy {r['ours_acc']:.3f} vs {r['base_acc']:.3f} "
                      f"({r['gain']:+.1f} ± {r['gain_sd']:.1f} pts over {r['draws']} label "
                      f"draws); macro-F1 {r['ours_f1']:.3f} vs {r['base_f1']:.3f}; ECE "
                      f"{r['ours_ece']:.3f} (worst draw {r['ours_ece_max']:.3f}; a calibrated "
                      f"model's on as many texts {r['ours_ece_floor']:.3f}) vs "
                      f"{r['base_ece']:.3f}; {r['n_labelled']} labelled, {r['n_rest']} scored"))
            if name != "demo" and k == 20:
                row.update(target=">= +5 pts, ECE <= 0.05",
                           ok=bool(r["gain"] >= 5 and r["ours_ece"] <= 0.05))
            elif name != "demo" and k == 5 and 20 in gain:
                row.update(target="gain > gain at 20, ECE <= 0.05",
                           ok=bool(r["gain"] > gain[20] and r["ours_ece"] <= 0.05))
            row.update({key: round(float(v), 4) for key, v in r.items()
                        if key.endswith(("_acc", "_f1", "_ece", "_ece_max", "_floor"))
                        or key.startswith("gain")})
            rows.append(row)
    return rows
