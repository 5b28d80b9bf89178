"""The customer-care team's own export of the win-back list (``python -m analysis winback``).

:func:`analysis.retention.win_back` lists, per dealer, the recent detractors who have not come
back and the lapsed customers (no visit for ``lapsed_after_months``, not yet lost). The team
calls them, so its export may carry the customer's VIN, phone and e-mail, but only when asked
for explicitly (``include_contacts=True``, the command's ``--include-contacts``): personal data
leave the store only for the people who call. Without the flag the workbook holds no VIN,
phone or e-mail at all (and the writer masks any that a text carries). The monthly report never
shows the list; it says how many there are (``sections.customers``).

The workbook is written by the report's Excel writer (:func:`analysis.report.excel.write_excel`):
the catalogue's headers in the chosen language, a contents sheet, one sheet with every customer
and a dealer column (filter it per dealer), one sheet of counts per dealer, and text that Excel
would run as a formula defused, also in the unmasked contact columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import retention, store
from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report.excel import write_excel
from analysis.report.kinds import Table

__all__ = ["CONTACT_COLUMNS", "WinBackError", "WinBackExport", "export_win_back", "load_win_back",
           "win_back_by_dealer_table", "win_back_table"]

CONTACT_COLUMNS = ("vin", "phone", "email")


class WinBackError(ValueError):
    """The export cannot be made as asked: a month without data, an unknown region."""


@dataclass(frozen=True)
class WinBackExport:
    """What :func:`export_win_back` wrote."""

    path: Path
    month: str
    customers: int
    detractors: int
    lapsed: int
    dealers: int
    contacts: bool

    def summary(self) -> str:
        where = ("with VINs, phones and e-mails: personal data, keep the file where only the "
                 "customer-care team can read it" if self.contacts else
                 "without VINs, phones and e-mails (--include-contacts adds them for the "
                 "customer-care team)")
        return (f"win-back list for {self.month} written to {self.path}: {self.customers} "
                f"customers ({self.detractors} recent detractors, {self.lapsed} lapsed) at "
                f"{self.dealers} dealers, {where}")


def _check_month(month: str) -> str:
    try:
        return str(pd.Period(month, freq="M"))
    except (ValueError, TypeError):
        raise WinBackError(f"--month {month!r} is not a month; write it as YYYY-MM, e.g. "
                           "2026-10") from None


def load_win_back(
    month: str,
    *,
    regions: list[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    include_contacts: bool = False,
) -> pd.DataFrame:
    """The win-back list at the end of ``month`` from the store, with each dealer's name and
    region: :func:`analysis.retention.win_back`'s columns (``phone`` and ``email`` only with
    ``include_contacts``, which alone reads them from the store).

    Raises :class:`WinBackError` for a month without answers or repair orders, or a region
    the dealers table does not know, naming what there is.
    """
    month = _check_month(month)
    dealers = store.load("dealers", data_dir=data_dir)
    if regions:
        known = sorted(dealers["region"].dropna().unique())
        unknown = [r for r in regions if r not in set(known)]
        if unknown:
            raise WinBackError(f"unknown region(s) {', '.join(map(repr, unknown))}; known "
                               f"regions: {', '.join(known)}")
        dealers = dealers.loc[dealers["region"].isin(regions)]
    if not store.available("repair_orders", data_dir=data_dir):
        raise WinBackError("no repair orders in this data set: the win-back list follows "
                           "customers by the VINs of their workshop visits")
    in_month = (len(store.load("responses", months=[month], regions=regions,
                               data_dir=data_dir, columns=["responded_at"]))
                or len(store.load("repair_orders", months=[month], regions=regions,
                                  data_dir=data_dir, columns=["opened_at"])))
    if not in_month:
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        known = sorted(times["responded_at"].dt.to_period("M").astype(str).unique())
        raise WinBackError(f"no answers or repair orders in {month}"
                           + (f" in region(s) {', '.join(regions)}" if regions else "")
                           + f"; months with answers: {', '.join(known[-13:]) or 'none'}. "
                           "Pick one with --month YYYY-MM.")
    # the list the monthly report counts: one function, the same months
    calls = retention.load_win_back(month, data_dir=data_dir, regions=regions,
                                    include_contacts=include_contacts)
    return calls.merge(dealers[["dealer_id", "dealer_name", "region"]], on="dealer_id",
                       how="left")


def win_back_table(calls: pd.DataFrame, *, include_contacts: bool = False,
                   language: str | None = None) -> pd.DataFrame:
    """The list as the team reads it: one row per customer, dealers in order, detractors first.
    VIN, phone and e-mail only with ``include_contacts`` (else they are left out)."""
    c = L.columns(language)
    t = (Table(language=language)
         .text(c("dealer_id"), calls["dealer_id"])
         .text(c("dealer"), calls["dealer_name"].fillna(calls["dealer_id"]))
         .text(c("region"), calls["region"])
         .text(c("win_back_reason"), [L.name("win_back_reasons", r, language=language)
                                      for r in calls["reason"]]))
    if include_contacts:
        for col in CONTACT_COLUMNS:
            values = calls[col] if col in calls else pd.Series(None, index=calls.index)
            t.text(c(col), values.astype(object))
    return (t.date(c("last_visit"), calls["last_visit"].dt.normalize())
            .date(c("last_answer"), calls["last_answer_at"].dt.normalize())
            .count(c("last_nps"), calls["last_nps"])
            .number(c("months_since_visit"), calls["months_since_visit"].round(1))
            .frame())


def win_back_by_dealer_table(calls: pd.DataFrame, *, language: str | None = None
                             ) -> pd.DataFrame:
    """How many customers each dealer has to call, by reason (most first)."""
    c = L.columns(language)
    counts = (pd.crosstab(calls["dealer_id"], calls["reason"])
              .reindex(columns=["detractor", "lapsed"], fill_value=0))
    info = calls.drop_duplicates("dealer_id").set_index("dealer_id")
    counts = counts.assign(total=counts.sum(axis=1)).sort_values(
        ["total"], ascending=False, kind="stable")
    return pd.DataFrame({
        c("dealer_id"): counts.index.to_numpy(),
        c("dealer"): info["dealer_name"].reindex(counts.index).fillna(
            pd.Series(counts.index, index=counts.index)).to_numpy(),
        c("region"): info["region"].reindex(counts.index).to_numpy(),
        L.name("win_back_reasons", "detractor", language=language):
            counts["detractor"].astype("int64").to_numpy(),
        L.name("win_back_reasons", "lapsed", language=language):
            counts["lapsed"].astype("int64").to_numpy(),
        c("total"): counts["total"].astype("int64").to_numpy(),
    })


def export_win_back(
    out: str | os.PathLike,
    *,
    month: str,
    regions: list[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    include_contacts: bool = False,
    language: str | None = None,
) -> WinBackExport:
    """Write the team's win-back workbook for ``month`` (see the module docstring)."""
    month = _check_month(month)
    calls = load_win_back(month, regions=regions, data_dir=data_dir,
                          include_contacts=include_contacts)
    # the month as the reader writes it (the sheet itself has a short name: labels `sheets`)
    title = L.text("tables", "win_back", language=language,
                   month=F.month(month, language=L.resolve(language)))
    by_dealer = L.text("tables", "win_back_by_dealer", language=language)
    path = write_excel({title: win_back_table(calls, include_contacts=include_contacts,
                                              language=language),
                        by_dealer: win_back_by_dealer_table(calls, language=language)},
                       out, language=language, mask_personal_data=not include_contacts,
                       sheets={title: L.text("sheets", "win_back", language=language),
                               by_dealer: L.text("sheets", "win_back_by_dealer",
                                                 language=language)})
    return WinBackExport(path=path, month=month, customers=len(calls),
                         detractors=int((calls["reason"] == "detractor").sum()),
                         lapsed=int((calls["reason"] == "lapsed").sum()),
                         dealers=int(calls["dealer_id"].nunique()), contacts=include_contacts)
