"""Red flags, the 72-hour contact SLA, and golden stars.

Red flags
---------
Every detractor answer (0-6, ``red_flags.detractor_max`` in params/operations.yaml) is a red
flag. It belongs to the dealer's customer service when the customer left the answer open for
the dealer (``open_to_dealer``), else to the importer's customer-relations team. The SLA is
the first contact with the customer within ``red_flags.sla_hours`` (72) of the answer. At a
point in time ``now`` each flag is in one of four states:

- ``met``: contacted within the SLA (exactly 72 h is still met);
- ``breached``: contacted, but later than the SLA;
- ``open_within_sla``: not contacted yet, and the SLA has not run out (72 h included);
- ``open_overdue``: not contacted, and the SLA ran out.

A detractor without a case row is a finding of its own (``no_case``); its state follows the
same clock. A case whose owner differs from the routing rule is ``misrouted``. Compliance is
``met / (met + breached + open_overdue)``: a flag still open within the SLA has no outcome yet.

Golden stars
------------
Promoters (9-10) whose comment praises named staff or the dealer: concept rules from
``golden_stars`` in params (thanks + staff role, praise + staff role, praise + dealer) or a
capitalised first name right after a thanks word ("спасибо Алексею", "thanks to Olga").

Keyword matching
----------------
:func:`concept_hits` is the keyword engine shared with :mod:`analysis.repairs`: stems matched at
the start of a word after casefolding, with one typo allowed in long stems (comments are
short and typed on phones). It works on the vocabulary, not on rows: each distinct word is
checked once, with vectorised prefix look-ups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis.config import load_params
from analysis.privacy import mask_pii_series

STATUSES = ("met", "breached", "open_within_sla", "open_overdue")
_HOUR = pd.Timedelta(hours=1)
_ALPHABETS = {"cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюя",
              "latin": "abcdefghijklmnopqrstuvwxyz"}


class OperationsDataError(ValueError):
    """An input table lacks columns or holds values a rule cannot use; the message says which."""


def require_columns(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    """Raise :class:`OperationsDataError` naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise OperationsDataError(
            f"{table} lacks column(s) {missing}; it has {list(frame.columns)}. Load it with "
            f"analysis.store.load({table!r}) or rename your export's columns."
        )


# --- keyword matching ------------------------------------------------------------------------


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


# --- red flags and the SLA -------------------------------------------------------------------


def _snapshot(*series: pd.Series) -> pd.Timestamp:
    stamps = [s.max() for s in series if len(s) and pd.notna(s.max())]
    if not stamps:
        raise OperationsDataError("no timestamps in the data: pass now= explicitly")
    return max(stamps)


def red_flags(
    responses: pd.DataFrame,
    cases: pd.DataFrame,
    *,
    sla_hours: float | None = None,
    now: pd.Timestamp | str | None = None,
    detractor_max: int | None = None,
    dealers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per red flag (detractor answer) with its owner, contact delay and SLA status.

    Parameters
    ----------
    responses
        Survey answers: ``response_id``, ``dealer_id``, ``responded_at``, ``nps``,
        ``open_to_dealer``.
    cases
        Cases opened for answers: ``case_id``, ``response_id``, ``owner``,
        ``first_contact_at`` (NaT when the customer has not been contacted). Several cases of
        one answer count by the earliest contact.
    sla_hours
        Hours from the answer to the first contact; ``red_flags.sla_hours`` (72) by default.
    now
        The moment of the snapshot. Answers after it are not yet flags and contacts after it
        have not happened yet. Default: the latest timestamp in ``responses`` and ``cases``.
    detractor_max
        Highest detractor score; ``red_flags.detractor_max`` (6) by default.
    dealers
        When given, ``dealer_name`` and ``region`` are attached.

    Returns
    -------
    DataFrame
        ``response_id, dealer_id, responded_at, nps, owner, case_id, case_owner, n_cases,
        no_case, misrouted, first_contact_at, contact_delay_hours, due_at, hours_open,
        status`` (ordered categorical of :data:`STATUSES`), sorted by ``responded_at``.
    """
    require_columns(responses, ["response_id", "dealer_id", "responded_at", "nps",
                                "open_to_dealer"], "responses")
    require_columns(cases, ["case_id", "response_id", "owner", "first_contact_at"], "cases")
    p = load_params("operations")["red_flags"]
    sla = pd.Timedelta(hours=float(p["sla_hours"] if sla_hours is None else sla_hours))
    cut = int(p["detractor_max"] if detractor_max is None else detractor_max)
    time_cols = [c for c in ("opened_at", "first_contact_at", "closed_at") if c in cases]
    # an export without a single contact yet reads the column as object; make it a time
    cases = cases.assign(**{c: pd.to_datetime(cases[c]) for c in time_cols})
    now = (_snapshot(responses["responded_at"], *(cases[c] for c in time_cols))
           if now is None else pd.Timestamp(now))

    contacted = cases["first_contact_at"].where(cases["first_contact_at"] <= now)
    per_response = (
        cases.assign(first_contact_at=contacted,
                     _order=cases.get("opened_at", contacted))
        .sort_values(["response_id", "_order", "case_id"], kind="stable")
        .groupby("response_id", sort=False)
        .agg(case_id=("case_id", "first"), case_owner=("owner", "first"),
             n_cases=("case_id", "size"), first_contact_at=("first_contact_at", "min"))
        .reset_index()
    )
    owners = p["owners"]
    flags = (
        responses.loc[(responses["nps"] <= cut) & (responses["responded_at"] <= now),
                      ["response_id", "dealer_id", "responded_at", "nps", "open_to_dealer"]]
        .assign(owner=lambda d: np.where(d["open_to_dealer"].astype(bool),
                                         owners["open_to_dealer"], owners["closed_to_dealer"]))
        .drop(columns="open_to_dealer")
        .merge(per_response, on="response_id", how="left", validate="one_to_one")
        .assign(
            n_cases=lambda d: d["n_cases"].fillna(0).astype("int64"),
            no_case=lambda d: d["case_id"].isna(),
            misrouted=lambda d: d["case_owner"].notna() & (d["case_owner"] != d["owner"]),
            # a contact logged before the answer is clock skew, not a negative delay
            contact_delay_hours=lambda d: ((d["first_contact_at"] - d["responded_at"])
                                           .clip(lower=pd.Timedelta(0)) / _HOUR),
            due_at=lambda d: d["responded_at"] + sla,
            hours_open=lambda d: ((now - d["responded_at"]) / _HOUR)
            .where(d["first_contact_at"].isna()),
        )
    )
    contacted_in_time = flags["first_contact_at"] <= flags["due_at"]
    status = np.select(
        [flags["first_contact_at"].notna() & contacted_in_time,
         flags["first_contact_at"].notna(),
         flags["due_at"] >= now],
        ["met", "breached", "open_within_sla"], default="open_overdue")
    flags = flags.assign(status=pd.Categorical(status, categories=list(STATUSES), ordered=True))
    if dealers is not None:
        extra = [c for c in ("dealer_name", "region") if c in dealers and c not in flags]
        flags = flags.merge(dealers[["dealer_id", *extra]], on="dealer_id", how="left",
                            validate="many_to_one")
    return flags.sort_values(["responded_at", "response_id"], kind="stable").reset_index(drop=True)


def wilson_interval(successes, trials, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, vectorised; NaN where there are no trials."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(k, safe, alpha=1 - level, method="wilson")
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def sla_summary(
    flags: pd.DataFrame,
    *,
    by: Sequence[str] = ("dealer_id",),
    level: float | None = None,
) -> pd.DataFrame:
    """SLA compliance per group of red flags, with a Wilson interval.

    Parameters
    ----------
    flags
        The output of :func:`red_flags` (with ``dealers=`` for ``region`` or ``dealer_name``).
    by
        Grouping columns, e.g. ``("dealer_id",)``, ``("region",)``, ``("owner",)`` or ``()``.
    level
        Confidence level; ``red_flags.level`` (0.95) by default.

    Returns
    -------
    DataFrame
        ``*by, flags, met, breached, open_within_sla, open_overdue, no_case, misrouted,
        decided, compliance, compliance_low, compliance_high, median_contact_hours``.
        ``decided = met + breached + open_overdue`` and ``compliance = met / decided``.
    """
    keys = list(by)
    require_columns(flags, [*keys, "status", "no_case", "misrouted", "contact_delay_hours"],
                    "flags")
    lvl = float(load_params("operations")["red_flags"]["level"] if level is None else level)
    counts = pd.get_dummies(flags["status"].astype(
        pd.CategoricalDtype(list(STATUSES))), dtype="int64")
    frame = pd.concat([flags[[*keys, "no_case", "misrouted", "contact_delay_hours"]], counts],
                      axis=1).assign(flags=1)
    agg = {"flags": ("flags", "sum"), **{s: (s, "sum") for s in STATUSES},
           "no_case": ("no_case", "sum"), "misrouted": ("misrouted", "sum"),
           "median_contact_hours": ("contact_delay_hours", "median")}
    out = (frame.groupby(keys, observed=True, sort=True).agg(**agg).reset_index() if keys
           else frame.assign(_all=0).groupby("_all").agg(**agg).reset_index(drop=True))
    out = out.assign(decided=lambda d: d["met"] + d["breached"] + d["open_overdue"],
                     compliance=lambda d: d["met"] / d["decided"].where(d["decided"] > 0))
    low, high = wilson_interval(out["met"], out["decided"], level=lvl)
    out = out.assign(compliance_low=low, compliance_high=high)
    cols = [*keys, "flags", *STATUSES, "no_case", "misrouted", "decided", "compliance",
            "compliance_low", "compliance_high", "median_contact_hours"]
    return out[cols].astype({c: "int64" for c in ("no_case", "misrouted")})


@dataclass(frozen=True)
class SlaReport:
    """Red flags at a moment and their SLA compliance by dealer, region and owner."""

    now: pd.Timestamp
    sla_hours: float
    flags: pd.DataFrame
    by_dealer: pd.DataFrame
    by_region: pd.DataFrame
    by_owner: pd.DataFrame
    network: pd.DataFrame

    def summary(self) -> str:
        """A few lines for the report header."""
        row = self.network.iloc[0]
        n = {k: int(row[k]) for k in ("flags", *STATUSES, "no_case")}
        return (
            f"Red flags as of {self.now:%Y-%m-%d %H:%M}: {n['flags']} detractor answers, "
            f"{n['met']} contacted within {self.sla_hours:g} h, {n['breached']} later, "
            f"{n['open_overdue']} still not contacted after the SLA, "
            f"{n['open_within_sla']} open within it; {n['no_case']} without a case. "
            f"Compliance {row['compliance']:.1%} "
            f"({row['compliance_low']:.1%}-{row['compliance_high']:.1%})."
        )


def sla_report(
    responses: pd.DataFrame,
    cases: pd.DataFrame,
    *,
    dealers: pd.DataFrame,
    now: pd.Timestamp | str | None = None,
    sla_hours: float | None = None,
    level: float | None = None,
) -> SlaReport:
    """Red flags and compliance by dealer, region, owner and the whole scope in one object."""
    sla = float(load_params("operations")["red_flags"]["sla_hours"]
                if sla_hours is None else sla_hours)
    flags = red_flags(responses, cases, sla_hours=sla, now=now, dealers=dealers)
    when = (pd.Timestamp(now) if now is not None else
            _snapshot(responses["responded_at"],
                      *(cases[c] for c in ("opened_at", "first_contact_at", "closed_at")
                        if c in cases)))
    return SlaReport(
        now=when, sla_hours=sla, flags=flags,
        by_dealer=sla_summary(flags, by=("region", "dealer_id", "dealer_name"), level=level),
        by_region=sla_summary(flags, by=("region",), level=level),
        by_owner=sla_summary(flags, by=("owner",), level=level),
        network=sla_summary(flags, by=(), level=level),
    )


# --- golden stars ----------------------------------------------------------------------------


def _name_after_thanks(spec: Mapping) -> re.Pattern:
    thanks = "|".join(spec["thanks"])
    connectors = "|".join(re.escape(c) for c in spec["connectors"])
    not_names = "|".join(re.escape(n) for n in spec["not_names"])
    return re.compile(
        rf"(?i:\b(?:{thanks}))(?:\s+(?i:{connectors})\b)*(?:\s*,\s*|\s+)"
        rf"(?!(?:{not_names})\b)[A-ZА-ЯЁ][a-zа-яё]{{2,}}"
    )


def golden_star_rule(comments: pd.Series) -> pd.Series:
    """Which golden-star rule each comment meets (``""`` for none), regardless of the score."""
    spec = load_params("operations")["golden_stars"]
    rule = rule_hits(comments, spec["concepts"], spec["rules"])
    named = comments.astype("string").str.contains(_name_after_thanks(spec["name_after_thanks"]),
                                                   na=False).astype(bool)
    return rule.where(rule != "", np.where(named, "name_after_thanks", "")).rename("rule")


def golden_stars(responses: pd.DataFrame, *, dealers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Promoter answers that praise named staff or the dealer, with masked quotes.

    Returns
    -------
    DataFrame
        ``response_id, dealer_id, [dealer_name, region], responded_at, nps, rule, quote``;
        ``quote`` is the comment with phones, e-mails and VINs masked. Newest first.
    """
    require_columns(responses, ["response_id", "dealer_id", "responded_at", "nps", "comment"],
                    "responses")
    promoter_min = load_params("nps")["promoter_min"]
    pool = responses.loc[(responses["nps"] >= promoter_min) & responses["comment"].notna()]
    stars = (pool.assign(rule=golden_star_rule(pool["comment"]))
             .loc[lambda d: d["rule"] != ""]
             .assign(quote=lambda d: mask_pii_series(d["comment"])))
    cols = ["response_id", "dealer_id", "responded_at", "nps", "rule", "quote"]
    if "touchpoint" in stars:
        cols.insert(3, "touchpoint")
    stars = stars[cols]
    if dealers is not None:
        stars = stars.merge(dealers[["dealer_id", "dealer_name", "region"]], on="dealer_id",
                            how="left", validate="many_to_one")
        cols = ["response_id", "region", "dealer_name", *cols[1:]]
    return (stars[cols].sort_values(["responded_at", "response_id"], ascending=False)
            .reset_index(drop=True))
