"""A frame fit to show, on the page and in the workbook: personal data masked in every text
cell and label (:mod:`analysis.privacy`, the masks in the reader's language), tuple headers
flattened. The book (:mod:`analysis.report.book`) and the workbook
(:mod:`analysis.report.excel`) both show frames through it.
"""

from __future__ import annotations

import pandas as pd

from analysis.report import catalogue as L

__all__ = ["flat_columns", "has_named_index", "masked", "safe_frame"]


def masked(values: pd.Series, language: str | None = None) -> pd.Series:
    """Phones, e-mails and VINs masked in a text column (:mod:`analysis.privacy`), the masks
    written in ``language`` (the catalogue's default when None): ``[телефон]`` in Russian."""
    from analysis.privacy import mask_pii_series

    lang = L.resolve(language)
    return mask_pii_series(values).map(lambda v: L.masked(v, language=lang))


def _mask_labels(index: pd.Index, language: str | None = None) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return pd.MultiIndex.from_arrays(
            [_mask_labels(index.get_level_values(i), language) for i in range(index.nlevels)],
            names=index.names)
    if index.dtype == object or pd.api.types.is_string_dtype(index):
        shown = masked(pd.Series(index, dtype=object).map(
            lambda v: v if v is None or isinstance(v, str) else str(v)), language)
        return pd.Index(shown.to_numpy(), name=index.name)
    return index


def flat_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Tuple headers (a MultiIndex from a pivot) joined into one line: ``n · hotline``."""
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = [" · ".join(str(p) for p in parts if str(p) != "")
                         for parts in frame.columns]
    return frame


def safe_frame(frame: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """A copy fit to show: phones, e-mails and VINs masked in every text column, in the index
    labels and in the column labels, the masks in ``language`` (the catalogue's default when
    None); tuple headers flattened."""
    language = L.resolve(language)
    out = flat_columns(frame.copy())
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = masked(out[col], language)
    out.index = _mask_labels(out.index, language)
    out.columns = _mask_labels(pd.Index([str(c) for c in out.columns], dtype=object), language)
    return out


def has_named_index(frame: pd.DataFrame) -> bool:
    """Whether the index carries meaning (a name) and is shown as columns."""
    return any(name is not None for name in frame.index.names)
