"""The survey funnel: customers the call centre tried to reach, reached, and who answered
(the ``contacts`` table: per dealer, channel and month), as rates with Wilson intervals.

- reach rate = reached / attempted;
- response rate = answered / reached (of those reached, how many answered);
- ``yield`` = answered / attempted (the whole funnel).

:func:`funnel_rates` gives them per any grouping (channel, dealer, month);
:func:`channel_differences` compares each channel's rates with a reference channel's
(Newcombe's hybrid score interval of a difference of two proportions, built from the two
Wilson intervals). Tidy frames with machine column names; formatting is the report's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import params_or
from analysis.errors import DataError, require_columns
from analysis.estimators import wilson_interval
from analysis.regions import region_for
from analysis.settings import Settings, level_or

__all__ = [
    "FunnelDataError",
    "STAGES",
    "channel_differences",
    "funnel_rates",
]

STAGES = {"reach": ("reached", "attempted"), "response": ("answered", "reached"),
          "yield": ("answered", "attempted")}


class FunnelDataError(DataError):
    """The contacts table lacks what a funnel analysis needs."""


def funnel_rates(
    contacts: pd.DataFrame,
    *,
    by: Sequence[str] = ("channel",),
    dealers: pd.DataFrame | None = None,
    level: float | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Reach, response and whole-funnel rates per group, with Wilson intervals.

    Parameters
    ----------
    by
        Grouping columns among ``dealer_id``, ``channel``, ``month`` (and ``region``, attached
        from ``dealers``); ``()`` for the whole network.

    Returns
    -------
    ``*by``, ``attempted``, ``reached``, ``answered``, and for each stage ``reach``,
    ``response``, ``yield``: ``<stage>_rate``, ``<stage>_low``, ``<stage>_high``.
    """
    level = level_or(level, settings)
    require_columns(contacts, ["attempted", "reached", "answered"], table="contacts",
                    error=FunnelDataError)
    by = list(by)
    frame = region_for(contacts, dealers, by=by, table="contacts", error=FunnelDataError)
    require_columns(frame, by, table="contacts", error=FunnelDataError)
    sums = ["attempted", "reached", "answered"]
    out = (frame.groupby(by, observed=True)[sums].sum().reset_index() if by
           else frame[sums].sum().to_frame().T)
    out = out.astype(dict.fromkeys(sums, "int64"))
    for stage, (num, den) in STAGES.items():
        low, high = wilson_interval(out[num], out[den], level=level)
        out[f"{stage}_rate"] = out[num] / out[den].where(out[den] > 0)
        out[f"{stage}_low"], out[f"{stage}_high"] = low, high
    return out


def channel_differences(
    contacts: pd.DataFrame,
    *,
    reference: str | None = None,
    level: float | None = None,
    params: Mapping | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Each channel's reach and response rate minus the reference channel's, with Newcombe's
    hybrid score interval (method 10 of Newcombe 1998) and ``differs`` (the interval excludes 0).

    Parameters
    ----------
    reference
        The channel compared against; None: the first of params/loop.yaml ``funnel.channels``
        that has contacts.

    Returns
    -------
    ``channel``, ``stage`` (reach, response), ``rate``, ``reference_rate``, ``difference``,
    ``difference_low``, ``difference_high``, ``differs``; one row per channel other than the
    reference and stage.
    """
    level = level_or(level, settings)
    rates = funnel_rates(contacts, by=("channel",), level=level, params=params)
    if reference is None:
        order = list(params_or("loop", params)["funnel"]["channels"])
        present = [c for c in order if c in set(rates["channel"])] or list(rates["channel"])
        reference = present[0]
    if reference not in set(rates["channel"]):
        raise FunnelDataError(f"no contacts of the reference channel {reference!r}",
                              table="contacts", column="channel")
    ref = rates.set_index("channel").loc[reference]
    rows = []
    for row in rates.loc[rates["channel"] != reference].itertuples(index=False):
        for stage in ("reach", "response"):
            p1, l1, u1 = (getattr(row, f"{stage}_{k}") for k in ("rate", "low", "high"))
            p2, l2, u2 = (ref[f"{stage}_{k}"] for k in ("rate", "low", "high"))
            diff = p1 - p2
            low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
            high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
            rows.append({"channel": row.channel, "stage": stage, "rate": p1,
                         "reference_rate": p2, "difference": diff, "difference_low": low,
                         "difference_high": high, "differs": bool(low > 0 or high < 0)})
    return pd.DataFrame(rows, columns=["channel", "stage", "rate", "reference_rate",
                                       "difference", "difference_low", "difference_high",
                                       "differs"]).assign(reference=reference)
