"""The package's numbers beside what they are validated against: published values of
reference sets and the planted truth of the demo network.

The validation notebooks (notebooks/validation/) print these frames with their outputs
committed, and ``make validation`` runs them under strict nbval: a change of a statistic that
moves a number here is a failing diff until its notebook is refreshed and the diff reviewed.
Nothing here fits or generates anything: the results of the statistics and the values to
hold them against come in, tidy frames go out.

- :func:`against_published`: a relative-importance result beside published values;
- :func:`nps_intervals`: NPS intervals of fixed counts beside worked values;
- :func:`driver_weights`, :func:`weak_dealers`, :func:`repeat_repairs`, :func:`causes`: what
  the statistics find of the truth :func:`analysis.synthetic.make_network` planted (its
  ``truth`` dict).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import nps

__all__ = ["against_published", "causes", "driver_weights", "nps_intervals", "repeat_repairs",
           "weak_dealers"]


def _agrees(computed, published, digits: int) -> np.ndarray:
    """Whether ``computed`` rounds to ``published`` at the ``digits`` decimals it was given to
    (half a unit of the last digit, and a hair for the binary fractions)."""
    return np.abs(np.asarray(computed, dtype=float) - np.asarray(published, dtype=float)) <= (
        0.5 * 10.0**-digits + 1e-12)


def against_published(result, published: Mapping[str, float], *, digits: int,
                      r2: float | None = None) -> pd.DataFrame:
    """A relative-importance result beside published importances (and R^2).

    Parameters
    ----------
    result
        An :class:`analysis.drivers.ImportanceResult` of the published model.
    published
        ``{driver: importance}`` as published, in R^2 units.
    digits
        Decimals the source gives: ``agrees`` allows half a unit of the last one.
    r2
        The published R^2 of the model, if the source gives it (a last row ``R^2``).

    Returns
    -------
    DataFrame
        Indexed by term (the drivers in the order published, then ``R^2``): ``published``,
        ``computed``, ``rank`` (computed; missing for R^2) and ``agrees``.
    """
    terms = list(published)
    out = pd.DataFrame({"published": [published[t] for t in terms],
                        "computed": result.table.loc[terms, "importance"].to_numpy(),
                        "rank": pd.array(result.table.loc[terms, "rank"], dtype="Int64")},
                       index=pd.Index(terms, name="term"))
    if r2 is not None:
        out.loc["R^2"] = {"published": r2, "computed": result.r2, "rank": pd.NA}
    return out.assign(agrees=_agrees(out["computed"], out["published"], digits))


def nps_intervals(cases: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """NPS and its interval of fixed counts beside worked values of the interval.

    ``cases``: one row per case with ``promoters``, ``passives``, ``detractors``, ``method``
    (of :func:`analysis.nps.nps_interval`), ``level`` and the worked ``low`` and ``high`` in
    points (to ``digits`` decimals). Returns the counts, method and level with ``nps``,
    ``low``, ``high`` (computed), ``low_worked``, ``high_worked`` and ``agrees`` (both ends).
    """
    counts = ["promoters", "passives", "detractors"]
    computed = [nps.nps_interval(*(row[c] for c in counts), method=row["method"],
                                 level=row["level"])
                for row in cases.to_dict("records")]
    low, high = (np.array(ends, dtype=float) for ends in zip(*computed, strict=True))
    return (cases[[*counts, "method", "level"]]
            .assign(nps=nps.nps_from_counts(*(cases[c] for c in counts)), low=low, high=high,
                    low_worked=cases["low"], high_worked=cases["high"],
                    agrees=lambda d: _agrees(d["low"], d["low_worked"], digits)
                    & _agrees(d["high"], d["high_worked"], digits)))


# --- the demo network's planted truth ------------------------------------------------------


def driver_weights(truth: Mapping, importance: pd.DataFrame) -> pd.DataFrame:
    """Each driver's planted weight beside its relative importance.

    ``importance`` is :attr:`analysis.drivers.ImportanceResult.table`. Returns one row per
    driver, heaviest planted weight first: ``driver``, ``weight`` and ``weight_rank`` (planted),
    ``importance``, ``low``, ``high``, ``share`` and ``rank`` (found).
    """
    weights = pd.Series(truth["driver_weights"], name="weight", dtype=float)
    return (importance[["importance", "low", "high", "share", "rank"]]
            .join(weights, how="inner")
            .assign(weight_rank=lambda d: d["weight"].rank(ascending=False, method="min")
                    .astype(int))
            .rename_axis("driver").reset_index()
            .sort_values(["weight_rank", "driver"]).reset_index(drop=True)
            [["driver", "weight", "weight_rank", "importance", "low", "high", "share", "rank"]])


def weak_dealers(truth: Mapping, *, top: pd.DataFrame, ranking: pd.DataFrame,
                 by: str = "dealer_id") -> pd.DataFrame:
    """Each planted weak dealer beside its growth zones and its NPS rank.

    Parameters
    ----------
    truth
        The network's truth: ``dealer_weak_driver`` and ``weak_drop``.
    top
        :meth:`analysis.growth.GrowthResult.top` (long: ``rank``, ``by``, ``zone``,
        ``driver``); ask for every dealer to see where each weak one stands.
    ranking
        :func:`analysis.nps.rank_dealers`: ``by`` and ``rank_network``.

    Returns
    -------
    DataFrame
        One row per weak dealer, by ``by``: ``planted_driver``, ``weak_drop`` (the planted
        drop of its rating), ``zone_driver`` (the driver of its largest growth zone; missing
        without one), ``found`` (the two agree), ``top_rank`` (its place among dealers with
        growth zones) and ``nps_rank`` (of ``n_dealers`` in the NPS ranking).
    """
    planted = pd.DataFrame({by: list(truth["dealer_weak_driver"]),
                            "planted_driver": list(truth["dealer_weak_driver"].values())})
    first = top.loc[top["zone"] == 1, [by, "driver", "rank"]].rename(
        columns={"driver": "zone_driver", "rank": "top_rank"})
    return (planted
            .assign(weak_drop=planted[by].map(truth["weak_drop"]).astype(float))
            .merge(first, on=by, how="left", validate="one_to_one")
            .merge(ranking[[by, "rank_network"]].rename(columns={"rank_network": "nps_rank"}),
                   on=by, how="left", validate="one_to_one")
            .assign(found=lambda d: d["zone_driver"].eq(d["planted_driver"]),
                    top_rank=lambda d: d["top_rank"].astype("Int64"),
                    nps_rank=lambda d: d["nps_rank"].astype("Int64"),
                    n_dealers=len(ranking))
            .sort_values(by).reset_index(drop=True)
            [[by, "planted_driver", "weak_drop", "zone_driver", "found", "top_rank",
              "nps_rank", "n_dealers"]])


def repeat_repairs(truth: Mapping, pairs: pd.DataFrame) -> pd.DataFrame:
    """The repeat-repair pairs found beside the planted ones (decoys are planted too).

    ``pairs`` is :func:`analysis.repairs.repeat_repairs`. Returns one row: ``planted``,
    ``found``, ``both`` (pairs of orders in both), ``precision`` and ``recall``.
    """
    planted = {(p["first_ro_id"], p["repeat_ro_id"]) for p in truth["repeat_repair_pairs"]}
    found = set(zip(pairs["first_ro_id"], pairs["repeat_ro_id"], strict=True))
    both = len(planted & found)
    return pd.DataFrame({"planted": [len(planted)], "found": [len(found)], "both": [both],
                         "precision": [both / len(found) if found else np.nan],
                         "recall": [both / len(planted) if planted else np.nan]})


def causes(truth: Mapping, suggestions: pd.DataFrame, *, id_col: str = "response_id"
           ) -> pd.DataFrame:
    """The planted cause and the model's suggestion of every comment the team did not label.

    ``suggestions`` is :attr:`analysis.rootcause.LearnedCauses.suggestions` (``source`` says
    whose cause it is). Labelled comments are left out: the model learnt from them. Returns
    ``label`` (planted) and ``predicted`` indexed by ``id_col``, sorted, as
    :func:`analysis.rootcause.agreement_of` scores them.
    """
    planted = pd.Series(truth["response_cause"], dtype="object")
    model = suggestions.loc[suggestions["source"] == "model"]
    return (pd.DataFrame({"label": model[id_col].map(planted).to_numpy(),
                          "predicted": model["suggested"].to_numpy()},
                         index=pd.Index(model[id_col].to_numpy(), name=id_col))
            .dropna().sort_index())
