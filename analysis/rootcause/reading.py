"""Reading complaint comments: masking, normalisation, stems and the taxonomy's keywords.

Every other part of :mod:`analysis.rootcause` reads comments through this module:
:func:`mask_texts` masks phones, e-mails and VINs before anything else reads the text;
:func:`normalize_texts` lower-cases, folds ё into е, drops punctuation, numbers, stop words
and complaint boilerplate, stems every *distinct* word once with the Snowball stemmers
(Russian or English by the word's script) and maps English service words onto their Russian
stems through a glossary, so that both languages share one vocabulary. The estimators work
on :class:`DistinctComments`, the distinct normalised forms of the comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import snowballstemmer

from analysis.config import params_or
from analysis.errors import DataError
from analysis.privacy import mask_pii_series

__all__ = [
    "UNASSIGNED",
    "DistinctComments",
    "Language",
    "Lexicon",
    "RootCauseError",
    "as_series",
    "load_seeds",
    "mask_texts",
    "normalize_texts",
    "seed_patterns",
    "surface_words",
]

Language = Literal["auto", "ru", "en"]
UNASSIGNED = None  # the label of a comment with no words left after normalisation

# masks that privacy.py puts in place of a phone, e-mail or VIN: "[phone]", "[e-mail]", "[VIN]"
_PLACEHOLDER = re.compile(r"\[[^\]\s]{1,12}\]")
_TOKEN = re.compile(r"[a-zа-я]+")
_CYRILLIC = re.compile(r"[а-я]")


class RootCauseError(DataError):
    """Bad input to a root-cause function; the message says what to pass instead."""


# --- masking and normalisation ----------------------------------------------------------------

def as_series(texts) -> pd.Series:
    """Comments as a Series (a Series is returned as it is); one string is refused."""
    if isinstance(texts, pd.Series):
        return texts
    if isinstance(texts, str):
        raise RootCauseError("pass a sequence of comments (a list or a Series), not one string")
    return pd.Series(list(texts), dtype="object")


def mask_texts(texts) -> pd.Series:
    """Mask phones, e-mails and VINs in every comment (:func:`analysis.privacy.mask_pii_series`).

    Missing comments stay missing; the index of a Series is kept.
    """
    return mask_pii_series(as_series(texts).astype("object"))


@lru_cache(maxsize=4)
def _stemmer(language: str):
    return snowballstemmer.stemmer({"ru": "russian", "en": "english"}[language])


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


class Lexicon:
    """Stop words, filler words and the English -> Russian glossary, ready to apply.

    Parameters
    ----------
    language
        See :func:`normalize_texts`.
    min_token_length
        Shorter words are dropped.
    stop_words, filler_words
        Per language (``"ru"``, ``"en"``), words that are dropped; None or a missing
        language: none.
    glossary
        English word -> Russian word, applied when ``language`` is "auto" (None: none).
    """

    def __init__(self, language: Language, *, min_token_length: int,
                 stop_words: Mapping[str, Iterable[str]] | None = None,
                 filler_words: Mapping[str, Iterable[str]] | None = None,
                 glossary: Mapping[str, str] | None = None):
        if language not in ("auto", "ru", "en"):
            raise RootCauseError(f"language must be 'auto', 'ru' or 'en', got {language!r}")
        self.language = language
        self.min_len = int(min_token_length)
        stop, filler = stop_words or {}, filler_words or {}
        self.drop = {lang: {_fold(w) for w in stop.get(lang, ())}
                     | {_fold(w) for w in filler.get(lang, ())} for lang in ("ru", "en")}
        ru = _stemmer("ru")
        self.glossary = ({} if language != "auto" else
                         {_fold(en): ru.stemWord(_fold(r).split()[0])
                          for en, r in (glossary or {}).items()})
        self._cache: dict[str, str] = {}

    @classmethod
    def from_params(cls, text_params: Mapping, language: Language) -> Lexicon:
        """The lexicon of params/taxonomy.yaml ``text`` (``text_params``)."""
        return cls(language, min_token_length=text_params["min_token_length"],
                   stop_words=text_params["stop_words"],
                   filler_words=text_params["filler_words"],
                   glossary=text_params["glossary_en_ru"])

    def stem_table(self, words: np.ndarray) -> dict[str, str]:
        """Map each distinct word to its normalised token ("" drops it); each word stemmed once."""
        new = [w for w in words if w not in self._cache]
        if new:
            self._cache.update(zip(new, self._normalise_words(new)))
        return {w: self._cache[w] for w in words}

    def _normalise_words(self, words: list[str]) -> list[str]:
        ru, en = _stemmer("ru"), _stemmer("en")
        out = []
        # a loop over the vocabulary, not over comments: each distinct word passes once
        for w in words:
            lang = self.language if self.language != "auto" else (
                "ru" if _CYRILLIC.match(w) else "en")
            if len(w) < self.min_len or w in self.drop[lang]:
                out.append("")
            elif lang == "en" and w in self.glossary:
                out.append(self.glossary[w])
            elif lang == "ru":
                out.append(ru.stemWord(w))
            else:
                out.append(en.stemWord(w))
        return out


def _normalise_masked(masked: pd.Series, lexicon: Lexicon) -> tuple[pd.Series, pd.Series]:
    """Normalised strings of already masked texts, and the surface-word counts per token."""
    folded = (masked.fillna("").astype(str).str.replace(_PLACEHOLDER, " ", regex=True)
              .str.lower().str.replace("ё", "е", regex=False))
    words = folded.reset_index(drop=True).str.findall(_TOKEN).explode().dropna()
    table = lexicon.stem_table(pd.unique(words.to_numpy()))
    tokens = words.map(table)
    keep = tokens.to_numpy() != ""
    tokens, words = tokens[keep], words[keep]
    normalised = np.full(len(masked), "", dtype=object)
    if len(tokens):
        # explode keeps the rows in order, so each text's tokens are one run: joining the runs
        # with np.add.reduceat is ten times faster than a groupby over strings
        row = tokens.index.to_numpy()
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        normalised[row[starts]] = np.add.reduceat(tokens.to_numpy(dtype=object) + " ", starts)
    normalised = pd.Series(normalised, index=masked.index, dtype="object").str.rstrip()
    surface = pd.DataFrame({"token": tokens.to_numpy(), "word": words.to_numpy()}).value_counts()
    return normalised, surface


def surface_words(surface: pd.Series) -> pd.Series:
    """Each stem as its most frequent word, Russian before English (for a cluster's label):
    ``surface`` is :attr:`DistinctComments.surface`."""
    return (surface.reset_index()
            .assign(cyrillic=lambda d: d["word"].str.match(_CYRILLIC))
            .sort_values(["cyrillic", "count"], ascending=False)
            .drop_duplicates("token").set_index("token")["word"])


class DistinctComments:
    """Comments reduced to their distinct normalised forms (the unit every step works on).

    Raw comments are de-duplicated first, masked, normalised, and de-duplicated again;
    ``row_doc`` maps each input row to its distinct normalised comment (-1: no words left),
    ``docs`` holds the distinct normalised comments, ``weights`` how many rows each stands
    for, ``quotes`` its most frequent masked wording and ``surface`` the count of each
    (token, word) pair. Masking distinct raw strings gives exactly what masking every row
    would: it is a function of the string alone.
    """

    def __init__(self, texts, lexicon: Lexicon):
        series = as_series(texts).reset_index(drop=True)
        raw_codes, raw = pd.factorize(series)
        masked = mask_texts(pd.Series(np.asarray(raw, dtype=object), dtype="object"))
        normalised, self.surface = _normalise_masked(masked, lexicon)
        norm_codes, docs = pd.factorize(normalised)
        docs = np.asarray(docs, dtype=object)
        has_words = docs != ""
        doc_of = np.where(has_words, np.cumsum(has_words) - 1, -1)
        raw_doc = doc_of[norm_codes]
        self.row_doc = np.where(raw_codes >= 0, raw_doc[np.maximum(raw_codes, 0)], -1)
        self.docs = docs[has_words]
        raw_count = np.bincount(raw_codes[raw_codes >= 0], minlength=len(raw))
        self.weights = np.bincount(raw_doc[raw_doc >= 0], weights=raw_count[raw_doc >= 0],
                                   minlength=len(self.docs)).astype(float)
        # one quote per distinct normalised comment: its most frequent masked wording
        self.quotes = (pd.DataFrame({"doc": raw_doc, "text": masked.to_numpy(),
                                     "n": raw_count})
                       .loc[lambda d: d["doc"] >= 0]
                       .sort_values(["doc", "n"], ascending=[True, False], kind="stable")
                       .drop_duplicates("doc").set_index("doc")["text"]
                       .reindex(range(len(self.docs))).to_numpy())


def normalize_texts(texts, *, language: Language = "auto", params: dict | None = None,
                    masked: bool = False) -> pd.Series:
    """Masked, normalised comments: space-separated stems, "" where no word is left.

    Parameters
    ----------
    texts
        Comments (list, array or Series; missing values allowed).
    language
        "auto" stems each word by its script (Cyrillic: Russian, Latin: English) and maps
        English service words to Russian stems through ``text.glossary_en_ru``; "ru" or "en"
        stems every word with that language's stemmer and uses no glossary.
    params
        The contents of params/taxonomy.yaml (loaded when omitted).
    masked
        Set when ``texts`` went through :func:`mask_texts` already.
    """
    p = params_or("taxonomy", params)
    series = as_series(texts)
    series = series if masked else mask_texts(series)
    normalised, _ = _normalise_masked(series.reset_index(drop=True),
                                      Lexicon.from_params(p["text"], language))
    return pd.Series(normalised.to_numpy(), index=series.index, name=series.name)


# --- seeds ------------------------------------------------------------------------------------

def load_seeds(params: dict | None = None) -> dict[str, list[str]]:
    """Taxonomy seeds from params/taxonomy.yaml: cause -> keywords in Russian and English."""
    seeds = params_or("taxonomy", params).get("seeds") or {}
    return {cause: [*spec.get("ru", []), *spec.get("en", [])] if isinstance(spec, Mapping)
            else list(spec) for cause, spec in seeds.items()}


def seed_patterns(seeds: Mapping[str, Iterable[str]], lexicon: Lexicon
                  ) -> dict[str, re.Pattern | None]:
    """Per cause, the pattern that finds its keywords in a normalised comment (None: no
    keyword has a word left after normalisation)."""
    if not isinstance(seeds, Mapping) or not seeds:
        raise RootCauseError("seeds must be a non-empty mapping cause -> keywords, e.g. "
                             "rootcause.load_seeds()")
    patterns = {}
    for cause, keywords in seeds.items():
        if isinstance(keywords, str):
            raise RootCauseError(f"seeds[{cause!r}] must be a list of keywords, not one string")
        phrases = []
        for kw in keywords:
            words = _TOKEN.findall(_fold(str(kw)))
            table = lexicon.stem_table(np.array(words, dtype=object))
            stems = [table[w] for w in words if table[w]]
            if stems:
                phrases.append(" ".join(map(re.escape, stems)))
        patterns[cause] = (re.compile(r"(?:^| )(?:" + "|".join(sorted(set(phrases))) + r")(?: |$)")
                           if phrases else None)
    return patterns
