"""The report's significance rule, in one place: what the summary, tables and charts call a
real change.

Today the statistics give raw p-values (``change_p_value``, ``vs_region_p_value``); a result
is significant when its p-value is below ``1 - level`` (params/nps.yaml). The honest-flags
work adds Benjamini-Hochberg flags (``change_flag``, ``vs_region_flag``): where a frame
carries the flag column, :func:`significant` uses it instead, so switching every report to
the corrected flags needs no change here or anywhere else.
"""

from __future__ import annotations

import pandas as pd

from analysis.config import load_params


def level(value: float | None = None) -> float:
    """The report's confidence level (params/nps.yaml ``level`` by default)."""
    return float(load_params("nps")["level"] if value is None else value)


def significant(frame: pd.DataFrame, test: str = "change", *,
                level_: float | None = None) -> pd.Series:
    """Which rows of ``frame`` pass the report's significance rule for ``test``.

    ``test`` names the comparison: ``change`` (vs the previous period) or ``vs_region``.
    Uses ``{test}_flag`` when the frame has it (multiple-testing corrected), otherwise
    ``{test}_p_value < 1 - level``. Missing values are never significant.
    """
    flag, p_value = f"{test}_flag", f"{test}_p_value"
    if flag in frame:
        return frame[flag].fillna(False).astype(bool)
    if p_value in frame:
        p = pd.to_numeric(frame[p_value], errors="coerce")
        return (p < 1 - level(level_)).fillna(False).astype(bool)
    return pd.Series(False, index=frame.index)
