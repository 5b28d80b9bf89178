"""Keyword matching: the engine behind red flags, golden stars and repeat-repair triggers.

Stems are matched at the start of a word after casefolding (and ``ё`` folded into ``е``), with
one typo allowed in long stems (comments are short and typed on phones). A concept is a list
of stems; a rule is a list of concepts that must all appear, optionally within a few words of
each other. :func:`concept_hits` and :func:`rule_hits` work on the vocabulary, not on rows:
each distinct word is checked once, with vectorised prefix look-ups. The defaults are
``text_match`` in params/operations.yaml; the concepts and rules are in its ``golden_stars``
and ``repeat_repair.survey_review`` sections (:mod:`analysis.cases`, :mod:`analysis.repairs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import pandas as pd

from analysis.config import load_params
from analysis.errors import OperationsDataError

__all__ = ["concept_hits", "concept_matches", "normalise_text", "normalize", "rule_hits",
           "rule_label"]

_ALPHABETS = {"cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюя",
              "latin": "abcdefghijklmnopqrstuvwxyz"}


# what a header or a code is matched without: spaces, punctuation, quotes and marks
_PUNCT = re.compile(r"[\s_\-.,:;/\\()\[\]{}«»\"'`№#*?!]+")


def normalize(name: object) -> str:
    """A header or code as matched: lower case, "ё" as "е", punctuation and spaces as one space
    (export headers, dealer names, the comments that say nothing)."""
    text = str(name).replace("\ufeff", "").lower().replace("ё", "е")
    return _PUNCT.sub(" ", text).strip()


def normalise_text(series: pd.Series) -> pd.Series:
    """Casefold and fold ``ё`` into ``е``: the form every keyword rule matches against."""
    return series.astype("string").str.casefold().str.replace("ё", "е", regex=False)


def _typo_variants(stem: str, *, fuzzy_min_length: int, substitution_min_length: int) -> set[str]:
    """The stem and its one-typo spellings that can start a word.

    The first letter is kept (except when swapped with the second). Dropping the last letter
    only shortens the prefix, so it is allowed only where the rest is still a long stem
    ("ремонт" -> "ремон" for "ремона", but not "остал" -> "оста", which would catch
    "оставил"); nothing is inserted after the last letter, since the word goes on anyway.
    """
    out = {stem}
    n = len(stem)
    if n < fuzzy_min_length:
        return out
    script = "cyrillic" if re.search("[а-я]", stem) else "latin"
    letters = _ALPHABETS[script]
    last = n if n > fuzzy_min_length else n - 1
    out |= {stem[:i] + stem[i + 1:] for i in range(1, last)}                       # dropped
    out |= {stem[:i] + stem[i] + stem[i:] for i in range(n)}                        # doubled
    out |= {stem[:i] + stem[i + 1] + stem[i] + stem[i + 2:] for i in range(n - 1)}  # swapped
    if n >= substitution_min_length:
        out |= {stem[:i] + c + stem[i + 1:] for i in range(1, n - 1) for c in letters}
        out |= {stem[:i] + c + stem[i:] for i in range(1, n) for c in letters}      # inserted
    return out


def concept_matches(
    texts: pd.Series,
    concepts: Mapping[str, Sequence[str]],
    *,
    fuzzy_min_length: int | None = None,
    substitution_min_length: int | None = None,
) -> pd.DataFrame:
    """Every word of ``texts`` that mentions a concept: ``row, position, concept`` (long).

    ``row`` is the position of the text in ``texts`` (0-based) and ``position`` the word's
    place in the text. A stem matches a word that starts with it (after
    :func:`normalise_text`); stems of ``fuzzy_min_length`` letters or more also match with one
    dropped, doubled or swapped letter, and from ``substitution_min_length`` with one wrong or
    extra letter. Defaults from ``text_match`` in params/operations.yaml.

    The check runs once per distinct word with vectorised prefix look-ups, not per row.
    """
    p = load_params("operations")["text_match"]
    fuzzy = p["fuzzy_min_length"] if fuzzy_min_length is None else fuzzy_min_length
    subst = (p["substitution_min_length"] if substitution_min_length is None
             else substitution_min_length)
    spec = tuple((str(c), tuple(str(s) for s in stems)) for c, stems in concepts.items())
    variants = _variant_table(spec, int(fuzzy), int(subst))
    words = (normalise_text(texts.reset_index(drop=True)).str.findall(r"[^\W\d_]+")
             .explode().dropna().rename("word").rename_axis("row").reset_index()
             .assign(position=lambda d: d.groupby("row").cumcount()))
    vocab = pd.Series(words["word"].unique(), dtype=object)
    lengths = vocab.str.len()
    prefixes = pd.concat(
        [pd.DataFrame({"word": vocab[lengths >= k], "prefix": vocab[lengths >= k].str[:k]})
         for k in sorted(variants["prefix"].str.len().unique())] or [pd.DataFrame(
             columns=["word", "prefix"])], ignore_index=True)
    found = (prefixes.merge(variants, on="prefix")[["word", "concept"]]
             .drop_duplicates())
    return (words.astype({"word": object}).merge(found, on="word")
            [["row", "position", "concept"]]
            .astype({"row": "int64", "position": "int64"})
            .sort_values(["row", "position", "concept"]).reset_index(drop=True))


@cache
def _variant_table(spec: tuple, fuzzy: int, subst: int) -> pd.DataFrame:
    """Every accepted spelling of every stem: ``prefix, concept`` (cached per keyword list)."""
    rows = [(v, concept) for concept, stems in spec for stem in stems
            for v in _typo_variants(stem.casefold().replace("ё", "е"), fuzzy_min_length=fuzzy,
                                    substitution_min_length=subst)]
    return pd.DataFrame(rows, columns=["prefix", "concept"], dtype=object).drop_duplicates()


def concept_hits(
    texts: pd.Series,
    concepts: Mapping[str, Sequence[str]],
    **options,
) -> pd.DataFrame:
    """Which concepts each text mentions: a boolean frame indexed like ``texts``, one column
    per concept (``options`` as for :func:`concept_matches`)."""
    matches = concept_matches(texts, concepts, **options)
    hits = np.zeros((len(texts), len(concepts)), dtype=bool)
    col = {c: i for i, c in enumerate(concepts)}
    hits[matches["row"].to_numpy(), matches["concept"].map(col).to_numpy(dtype=int)] = True
    return pd.DataFrame(hits, index=texts.index, columns=list(concepts))


def _rule_spec(rule) -> tuple[list[str], int | None]:
    if isinstance(rule, Mapping):
        return list(rule["all"]), (None if rule.get("within") is None else int(rule["within"]))
    return list(rule), None


def rule_label(rule) -> str:
    """``"a+b"`` for a rule over concepts a and b (``"a+b~2"`` when within 2 words)."""
    names, within = _rule_spec(rule)
    return "+".join(names) + (f"~{within}" if within is not None else "")


def _rule_rows(matches: pd.DataFrame, rule) -> np.ndarray:
    """Rows (text positions) where every concept of ``rule`` occurs, close enough if asked."""
    names, within = _rule_spec(rule)
    present = matches.loc[matches["concept"].isin(names)]
    complete = present.groupby("row")["concept"].nunique() == len(names)
    rows = complete.index[complete.to_numpy()]
    if within is None or len(names) < 2:
        return rows.to_numpy()
    # each other concept must occur within `within` words of one occurrence of the first
    anchor = present.loc[(present["concept"] == names[0]) & present["row"].isin(rows),
                         ["row", "position"]]
    others = present.loc[present["concept"] != names[0]]
    near = (anchor.merge(others, on="row", suffixes=("", "_other"))
            .loc[lambda d: (d["position"] - d["position_other"]).abs() <= within]
            .groupby(["row", "position"])["concept"].nunique())
    return near.index.get_level_values("row")[near.to_numpy() == len(names) - 1].unique() \
        .to_numpy()


def rule_hits(
    texts: pd.Series,
    concepts: Mapping[str, Sequence[str]],
    rules: Sequence,
    **options,
) -> pd.Series:
    """The first rule each text meets, labelled by :func:`rule_label`; ``""`` where none.

    A rule is a list of concepts that must all appear, or a mapping
    ``{all: [concepts], within: k}`` where each concept must also stand within ``k`` words of
    the first ("poor quality repair" but not "repair took ages, poor diagnostics").
    """
    unknown = sorted({c for rule in rules for c in _rule_spec(rule)[0]} - set(concepts))
    if unknown:
        raise OperationsDataError(f"rules name unknown concept(s) {unknown}; known: "
                                  f"{list(concepts)} (params/operations.yaml)")
    matches = concept_matches(texts, concepts, **options)
    labels = np.full(len(texts), "", dtype=object)
    for rule in reversed(list(rules)):  # the first rule listed wins
        labels[_rule_rows(matches, rule)] = rule_label(rule)
    return pd.Series(labels, index=texts.index, name="rule")
