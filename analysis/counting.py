"""Counting the answers: 0-10 scores into detractors, passives and promoters, and those
counted per group and period.

This is the core every NPS rests on (:mod:`analysis.nps` computes intervals, changes,
shrinkage and ranks from these counts; :mod:`analysis.engine` counts partitions of the store
with it): the scale and cut-offs come from params/nps.yaml (0-10; detractors 0-6,
promoters 9-10).

Counting is vectorised: keys are integer-coded (each key column hashed once, times binned by
a day table) and counted with ``np.bincount``, densely while the combinations of key levels
stay few, else after hashing the growing group id; above a million answers the per-answer
passes run on threads. Rows whose key or time is missing are left out, as ``groupby`` does.

    >>> list(classify([0, 7, 10]))
    ['detractor', 'passive', 'promoter']
    >>> float(nps_from_counts(2, 1, 1))
    25.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import require_columns

__all__ = [
    "CATEGORIES",
    "CountedGroups",
    "as_period",
    "category_codes",
    "classify",
    "count_categories",
    "count_groups",
    "groups_from_counts",
    "nps_from_counts",
    "score_cutoffs",
    "validate_scores",
]

CATEGORIES = ("detractor", "passive", "promoter")

# Dense counting (one np.bincount over every combination of key levels) is used while the
# combinations stay within this many per answer; sparser keys are hashed first.
_DENSE_COMBINATIONS_PER_ROW = 1
_DENSE_COMBINATIONS_FLOOR = 1 << 20
# Below this many answers threads cost more than they save; above it the per-answer passes
# (hashing keys, binning times, counting) run on every core, as DuckDB's do.
_PARALLEL_MIN_ROWS = 1_000_000


def score_cutoffs(params: dict | None = None) -> tuple[int, int, int, int]:
    """The scale and the cut-offs of params/nps.yaml (or ``params``, the NPS params):
    ``(lowest score, highest score, highest detractor score, lowest promoter score)``,
    ``(0, 10, 6, 9)`` by default."""
    p = params_or("nps", params)
    return p["scale"]["min"], p["scale"]["max"], p["detractor_max"], p["promoter_min"]


def _numeric_values(scores) -> np.ndarray | None:
    """The scores as a numeric ndarray without copying when possible; None if not numeric."""
    if isinstance(scores, pd.Series | pd.Index):
        dtype = scores.dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return None
        if isinstance(dtype, np.dtype):
            return scores.to_numpy()
        return scores.to_numpy(dtype=float, na_value=np.nan)
    arr = np.asarray(scores) if not isinstance(scores, np.ndarray) else scores
    return arr if arr.dtype.kind in "iuf" else None


def validate_scores(scores, *, params: dict | None = None) -> np.ndarray:
    """Return the scores as an int array, or raise ValueError naming every bad value.

    Scores must be whole numbers on the scale in params/nps.yaml (0-10). Missing values are
    bad values too: a response without a score has no place in an NPS.
    """
    lo, hi, _, _ = score_cutoffs(params)
    arr = _numeric_values(scores)
    # fast path: numeric arrays are checked with a few vectorised passes, no object copies
    if arr is not None and arr.ndim == 1:
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind in "iu" and arr.min() >= lo and arr.max() <= hi:
            return arr.astype(np.int64, copy=False)
        if arr.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                good = (arr >= lo) & (arr <= hi) & (arr == np.round(arr))
            if good.all():
                return arr.astype(np.int64)
    values = pd.to_numeric(pd.Series(scores, dtype="object"), errors="coerce")
    raw = pd.Series(scores, dtype="object").reset_index(drop=True)
    arr = values.to_numpy(dtype=float)
    bad = np.isnan(arr) | (arr < lo) | (arr > hi) | (arr != np.round(arr))
    if bad.any():
        positions = np.flatnonzero(bad)
        shown = ", ".join(f"{raw.iloc[i]!r} at position {i}" for i in positions[:10])
        more = f" and {len(positions) - 10} more" if len(positions) > 10 else ""
        raise ValueError(
            f"NPS scores must be whole numbers from {lo} to {hi}; got {shown}{more}"
        )
    return arr.astype(np.int64)


def category_codes(scores, *, params: dict | None = None) -> np.ndarray:
    """Each score's category as an int8 code: 0 detractor, 1 passive, 2 promoter (the
    positions in :data:`CATEGORIES`); one pass each, no int64 copy. Raises ValueError as
    :func:`validate_scores` does."""
    arr = validate_scores(scores, params=params)
    _, _, det_max, pro_min = score_cutoffs(params)
    codes = (arr > det_max).astype(np.int8)
    codes += arr >= pro_min
    return codes


def classify(scores, *, params: dict | None = None) -> pd.Categorical:
    """Classify 0-10 scores into detractor (0-6), passive (7-8) and promoter (9-10)."""
    return pd.Categorical.from_codes(category_codes(scores, params=params), categories=list(CATEGORIES))


def nps_from_counts(promoters, passives, detractors) -> np.ndarray | float:
    """NPS in points from counts; NaN where there are no answers. Vectorised."""
    pro = np.asarray(promoters, dtype=float)
    det = np.asarray(detractors, dtype=float)
    n = pro + np.asarray(passives, dtype=float) + det
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, 100.0 * (pro - det) / np.where(n > 0, n, 1), np.nan)
    return float(out) if out.ndim == 0 else out


def _key_codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing) and the levels they index, without copying categories."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), column.cat.categories
    return pd.factorize(column, sort=False)


def _period_codes(times: pd.Series, period: str, time_col: str):
    """Codes of each timestamp's period and the (sorted) PeriodIndex they index."""
    if not pd.api.types.is_datetime64_any_dtype(times.dtype):
        raise TypeError(f"column {time_col!r} must hold datetimes to split by period; "
                        f"it has dtype {times.dtype}. Parse it with pd.to_datetime first")
    values = times.to_numpy()
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":
        lo, hi = times.min(), times.max()
        if pd.isna(lo):
            return np.full(len(times), -1), pd.PeriodIndex([], freq=period)
        levels = pd.period_range(lo.to_period(period), hi.to_period(period), freq=period)
        ticks = values.view(np.int64)
        per_day = int(np.timedelta64(1, "D") / np.timedelta64(1, np.datetime_data(values.dtype)[0]))
        if levels.start_time.normalize().equals(levels.start_time):
            # periods of whole days (D, W, M, Q, Y): look each day up in a small table
            first = lo.normalize().to_datetime64().astype(values.dtype).view(np.int64) // per_day
            days = pd.date_range(lo.normalize(), hi.normalize(), freq="D")
            table = np.searchsorted(levels.start_time.to_numpy(), days.to_numpy(),
                                    side="right") - 1
            offset = ticks // per_day - first
            if times.hasnans:
                offset = np.where(np.isnat(values), 0, offset)
                codes = np.where(np.isnat(values), -1, table[offset])
            else:
                codes = table[offset]
            return codes, levels
        # shorter periods: their starts are sorted bin edges, one binary search per answer
        edges = levels.start_time.to_numpy().astype(values.dtype).view(np.int64)
        codes = np.searchsorted(edges, ticks, side="right") - 1
        return codes, levels
    # time-zone aware: periods follow the local wall clock, as Series.dt.to_period does; the
    # wall-clock times go through the path above, so a month without answers keeps its code
    # and the month after it is not compared with the month before the gap
    return _period_codes(times.dt.tz_localize(None), period, time_col)


def _run(tasks: list, n_rows: int) -> list:
    """Run zero-argument callables, on threads when the data is large (numpy, pandas' hashing
    and Arrow release the GIL in these passes)."""
    workers = min(len(tasks), os.cpu_count() or 1)
    if n_rows < _PARALLEL_MIN_ROWS or workers < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]


def _dense_counts(code_arrays: list[np.ndarray], sizes: list[int], cat: np.ndarray,
                  combos: int) -> np.ndarray:
    """Counts per (combination of key codes, category), by row chunks on all cores."""

    def chunk(lo: int, hi: int) -> np.ndarray:
        gid = np.zeros(hi - lo, dtype=np.int64)
        valid = None
        for codes, size in zip(code_arrays, sizes, strict=True):
            part = codes[lo:hi]
            if len(part) and part.min() < 0:  # missing key: the row is left out, as groupby does
                valid = part >= 0 if valid is None else valid & (part >= 0)
            gid *= size
            gid += part
        gid *= 3
        gid += cat[lo:hi]
        if valid is not None:
            gid = gid[valid]
        return np.bincount(gid, minlength=3 * combos)

    n = len(cat)
    parts = max(1, min(os.cpu_count() or 1, n // _PARALLEL_MIN_ROWS))
    edges = np.linspace(0, n, parts + 1).astype(int)
    tables = _run([lambda lo=lo, hi=hi: chunk(lo, hi)
                   for lo, hi in zip(edges[:-1], edges[1:], strict=True)], n)
    return np.sum(tables, axis=0).reshape(combos, 3)


def _sparse_counts(code_arrays: list[np.ndarray], sizes: list[int], cat: np.ndarray):
    """Counts when the key combinations outnumber the answers: hash the id as it grows."""
    valid = np.ones(len(cat), dtype=bool)
    for codes in code_arrays:
        if len(codes) and codes.min() < 0:
            valid &= codes >= 0
    if not valid.all():
        cat = cat[valid]
        code_arrays = [codes[valid] for codes in code_arrays]
    limit = max(_DENSE_COMBINATIONS_PER_ROW * len(cat), _DENSE_COMBINATIONS_FLOOR)
    gid = np.zeros(len(cat), dtype=np.int64)
    combos = 1
    levels: list[np.ndarray] = []
    for codes, size in zip(code_arrays, sizes, strict=True):
        gid *= size
        gid += codes
        if combos * size > limit:
            gid, uniques = pd.factorize(gid)
            prev, cur = np.divmod(uniques, size)
            levels = [lv[prev] for lv in levels] + [cur]
            combos = len(uniques)
        else:
            levels = [np.repeat(lv, size) for lv in levels] + [np.tile(np.arange(size), combos)]
            combos *= size
    gid *= 3
    gid += cat
    table = np.bincount(gid, minlength=3 * combos).reshape(combos, 3)
    return table, lambda ids: [lv[ids] for lv in levels]


def _count_table(code_arrays: list[np.ndarray], sizes: list[int], cat: np.ndarray):
    """Counts per combination of key codes (rows: combinations, columns: det, pas, pro)
    and a function from combination ids to each key's codes."""
    total = math.prod(sizes)
    if total <= max(_DENSE_COMBINATIONS_PER_ROW * len(cat), _DENSE_COMBINATIONS_FLOOR):
        table = _dense_counts(code_arrays, sizes, cat, total)
        return table, lambda ids: list(np.unravel_index(ids, sizes)) if sizes else []
    return _sparse_counts(code_arrays, sizes, cat)


def _sort_ranks(uniques, dtype) -> np.ndarray:
    """Rank of each level in sorted order (category order for categoricals)."""
    if isinstance(dtype, pd.CategoricalDtype) or isinstance(uniques, pd.PeriodIndex):
        return np.arange(len(uniques))
    try:
        order = np.asarray(uniques.argsort())
    except TypeError:  # mixed types cannot be sorted: keep the order of first appearance
        return np.arange(len(uniques))
    ranks = np.empty(len(uniques), dtype=np.int64)
    ranks[order] = np.arange(len(uniques))
    return ranks


@dataclass(frozen=True)
class CountedGroups:
    """Counts per group, and each group's integer code per key for group-level arithmetic.

    Attributes
    ----------
    counts
        One row per group with answers: the keys (``period`` last, when split by period),
        ``n``, ``promoters``, ``passives``, ``detractors``; sorted by the keys.
    codes
        Per key (and ``period``), each row's integer code: equal codes, equal values. A
        period's code is its distance from the first period, so ``code - 1`` is the period
        before it whether or not that one holds answers.
    """

    counts: pd.DataFrame
    codes: dict[str, np.ndarray]


def count_groups(responses: pd.DataFrame, keys: Sequence[str], *, period: str | None = "M",
                 score: str = "nps", time_col: str = "responded_at",
                 params: dict | None = None) -> CountedGroups:
    """The answers counted per group of ``keys`` (and ``period``), with each group's codes:
    what :func:`count_categories` returns, for statistics that work on the groups' codes."""
    keys = list(keys)
    require_columns(responses, [*keys, score] + ([time_col] if period else []),
                    table="responses")
    names = [*keys, "period"] if period else list(keys)
    dtypes = [responses[k].dtype for k in keys] + ([None] if period else [])
    tasks = [lambda: category_codes(responses[score], params=params)]
    tasks += [lambda k=k: _key_codes(responses[k]) for k in keys]
    if period:
        tasks.append(lambda: _period_codes(responses[time_col], period, time_col))
    cat, *coded = _run(tasks, len(responses))
    code_arrays = [codes for codes, _ in coded]
    level_values = [uniques for _, uniques in coded]
    sizes = [len(u) for u in level_values]
    table, decode = _count_table(code_arrays, sizes, cat)
    del code_arrays, cat
    observed = np.flatnonzero(table.sum(axis=1) > 0) if names else np.zeros(1, dtype=np.int64)
    table = table[observed]
    group_codes = decode(observed)
    if names:
        # rows sorted by key values, as groupby(sort=True) does; np.lexsort's last key leads
        ranks = [_sort_ranks(u, dt)[c]
                 for u, dt, c in zip(level_values, dtypes, group_codes, strict=True)]
        order = np.lexsort(ranks[::-1])
        table = table[order]
        group_codes = [c[order] for c in group_codes]
    columns: dict[str, object] = {}
    for name, uniques, codes, dtype in zip(names, level_values, group_codes, dtypes,
                                           strict=True):
        if isinstance(dtype, pd.CategoricalDtype):
            columns[name] = pd.Categorical.from_codes(codes, dtype=dtype)
        else:
            columns[name] = uniques.take(codes)
    counts = pd.DataFrame(columns, index=pd.RangeIndex(len(table)))
    counts["n"] = table.sum(axis=1)
    counts["promoters"] = table[:, 2]
    counts["passives"] = table[:, 1]
    counts["detractors"] = table[:, 0]
    return CountedGroups(counts, dict(zip(names, group_codes, strict=True)))


def count_categories(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    period: str | None = "M",
    score: str = "nps",
    time_col: str = "responded_at",
    params: dict | None = None,
) -> pd.DataFrame:
    """Counts of promoters, passives and detractors per group and period (no statistics).

    Rows whose key or time is missing are left out, as ``groupby`` does. Keys keep their
    dtype (categorical keys stay categorical); rows are sorted by the keys, then period.
    Keys are integer-coded (hashing each key column once, binning times by a day table) and
    counted with ``np.bincount``; above a million answers these passes run on threads.
    """
    return count_groups(responses, by, period=period, score=score, time_col=time_col,
                        params=params).counts


_COUNT_COLUMNS = ["promoters", "passives", "detractors"]


def as_period(values: pd.Series, period: str) -> pd.Series:
    """The periods of a count table's ``period`` column in the frequency ``period`` (monthly
    counts as quarters), when each of them lies in one; TypeError when the column does not
    hold Periods, ValueError when they do not nest in ``period``."""
    if not isinstance(values.dtype, pd.PeriodDtype):
        raise TypeError(f"the count table's 'period' column must hold pandas Periods; it has "
                        f"dtype {values.dtype}. Count with count_categories(period=...)")
    if values.dtype == pd.PeriodDtype(period):
        return values
    present = pd.PeriodIndex(values.dropna().unique())
    starts, ends = present.start_time.to_period(period), present.end_time.to_period(period)
    if (starts != ends).any():
        raise ValueError(f"the count table's periods ({values.dtype.freq.freqstr}) do not nest "
                         f"in {period!r}: count by {period!r} or by a period that nests in it")
    return values.dt.asfreq(period)


def groups_from_counts(counts: pd.DataFrame, keys: Sequence[str], *,
                       period: str | None) -> CountedGroups:
    """The groups of a count table (:func:`count_categories`, possibly in pieces), summed,
    sorted and coded as :func:`count_groups` codes the answers."""
    keys = list(keys)
    names = [*keys, "period"] if period else list(keys)
    needed = [*names, *_COUNT_COLUMNS]
    require_columns(counts, needed, table="the counts", fix="count the answers with "
                    f"count_categories(by={keys!r}, period=...)")
    frame = counts[needed]
    if period:
        frame = frame.assign(period=as_period(frame["period"], period))
    if names:
        # sorted by key values, categories in their order, periods in time: as count_groups
        summed = (frame.groupby(names, observed=True, sort=True, dropna=True)[_COUNT_COLUMNS]
                  .sum().reset_index())
    else:
        summed = frame[_COUNT_COLUMNS].sum().to_frame().T.reset_index(drop=True)
    table = summed[_COUNT_COLUMNS].to_numpy(dtype=np.int64)
    out = summed[names].copy()
    out["n"] = table.sum(axis=1)
    out["promoters"], out["passives"], out["detractors"] = table[:, 0], table[:, 1], table[:, 2]
    codes = {k: pd.factorize(out[k])[0].astype(np.int64) for k in keys}
    if period:
        ordinals = out["period"].array.asi8
        # a period's code is its distance from the first one, so code - 1 is the period
        # before it whether or not that one holds answers (as in _period_codes)
        codes["period"] = (ordinals - ordinals.min() if len(out) else ordinals).astype(np.int64)
    return CountedGroups(out, codes)
