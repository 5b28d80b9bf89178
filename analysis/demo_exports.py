"""The demo network as the messy exports users receive, to read back through ingest.

Beside :mod:`analysis.synthetic` (the network and its planted truth): this module writes its
tables the way survey vendors, CRMs and Excel do (Russian or English headers, Windows-1251 or
UTF-8, ``;`` ``,`` or tab, title rows, blank lines, a repeated row, numbers as words), so that
``python -m analysis ingest --demo DIR --via-exports`` (:func:`ingest_demo`)
takes the demo the way real data goes. A seed means the same files, byte for byte (the .xlsx
files but for the time stamp openpyxl writes into them).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import schemas
from analysis.config import DATA_ROOT, params_or
from analysis.ingest import IngestError, IngestRecord, aliases, cell_text, demo_now, ingest_file
from analysis.table_specs import TABLES

__all__ = ["demo_tables", "ingest_demo", "write_demo_exports"]


def _header(table: str, column: str, lang: str, params: Mapping) -> str:
    """A name an export would use: the first Russian alias, or the first English one."""
    names = aliases(table, params)[column]
    cyrillic = [n for n in names if re.search("[а-яё]", n, flags=re.I)]
    latin = [n for n in names[1:] if not re.search("[а-яё]", n, flags=re.I)]
    pick = (cyrillic or names) if lang == "ru" else (latin or names)
    return pick[0][:1].upper() + pick[0][1:]


def _code_text(column: str, lang: str, params: Mapping) -> dict[str, str]:
    """How an export writes each code of ``column`` (the first alias in that language)."""
    out = {}
    for alias, code in (params.get("values", {}).get(column) or {}).items():
        if (lang == "ru") == bool(re.search("[а-яё]", alias, flags=re.I)):
            out.setdefault(code, alias[:1].upper() + alias[1:])
    return out


def _export_frame(frame: pd.DataFrame, table: str, lang: str, params: Mapping, *,
                  date_format: str | None, decimal: str, yes_no: tuple[str, str]
                  ) -> pd.DataFrame:
    out = {}
    for col in frame.columns:
        values = frame[col]
        kind = schemas.kind_of(table, col)
        if kind == "datetime" and date_format is not None:  # None: Excel date-times
            text = values.dt.strftime(date_format).astype("object")
            # the demo's odd sub-second times survive the trip in ISO form
            odd = values.notna() & (values != values.dt.floor("s"))
            text[odd] = values[odd].map(lambda t: t.isoformat())
            values = text.where(values.notna(), "")
        elif kind == "float":
            values = values.map("{:.1f}".format, na_action="ignore").astype("object")
            values = values.str.replace(".", decimal, regex=False).where(values.notna(), "")
        elif kind == "bool":
            values = values.map({True: yes_no[0], False: yes_no[1]})
        elif kind == "code":
            names = _code_text(col, lang, params)
            values = values.map(lambda c, names=names: names.get(c, c))
        out[_header(table, col, lang, params)] = values
    return pd.DataFrame(out)


def _write_csv(frame: pd.DataFrame, path: Path, *, sep: str, encoding: str,
               blank_every: int = 0, duplicate_first: bool = False) -> Path:
    """A text export, with blank lines and a repeated row as real ones have."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(frame.columns)
    rows = frame.astype("object").where(frame.notna(), "").to_numpy().tolist()
    for i, row in enumerate(rows, start=1):
        writer.writerow(row)
        if blank_every and i % blank_every == 0:
            buf.write("\r\n")
    if duplicate_first and rows:
        writer.writerow(rows[0])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _write_xlsx(frame: pd.DataFrame, path: Path, *, title: str, sheet: str) -> Path:
    """A workbook whose data sit under a title row and an empty row, as reports do."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append([title])
    ws.append([])
    ws.append(list(frame.columns))
    for row in frame.astype("object").to_numpy().tolist():
        ws.append([None if cell_text(v) is None else
                   (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
    book.save(path)
    return path


def write_demo_exports(
    demo: str | os.PathLike | Mapping[str, pd.DataFrame] | object,
    out_dir: str | os.PathLike,
    *,
    params: Mapping | None = None,
) -> dict[str, list[Path]]:
    """Write the demo tables as the messy exports users receive (for round trips and demos).

    dealers: .xlsx under a title row, Russian headers; invitations: UTF-8 CSV with BOM, ``,``,
    English headers, months as 10.2026; responses: one file a month, alternately Windows-1251
    ``;`` Russian headers with 31.10.2026 14:05:00 dates, "9,0" ratings, да/нет and some NPS
    as words, or UTF-8 ``,`` English headers with ISO dates and yes/no; each has blank lines
    and its first row repeated at the end (an exact duplicate to quarantine); cases: .xlsx
    under a title row; repair orders: tab-separated UTF-8; incidents: Windows-1251 ``;`` with
    Russian channel and kind names; actions: the dealers' action-plan workbook (Russian
    headers, targets and statuses, Excel dates); contacts: the call centre's funnel workbook.

    Parameters
    ----------
    demo
        A ``DemoNetwork``, a mapping table -> frame, or a directory of ``<table>.parquet``.
    """
    params = params_or("columns", params)
    tables = demo_tables(demo)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {t: [] for t in TABLES}
    ru = {"date_format": "%d.%m.%Y %H:%M:%S", "decimal": ",", "yes_no": ("да", "нет")}
    en = {"date_format": "%Y-%m-%dT%H:%M:%S", "decimal": ".", "yes_no": ("yes", "no")}

    dealers = _export_frame(tables["dealers"], "dealers", "ru", params, **ru)
    files["dealers"].append(_write_xlsx(dealers, out / "dealers.xlsx",
                                        title="Справочник дилерских центров", sheet="Дилеры"))

    inv = tables["invitations"].assign(month=lambda d: pd.to_datetime(d["month"])
                                       .dt.strftime("%m.%Y"))
    inv = _export_frame(inv, "invitations", "en", params, **en)
    files["invitations"].append(_write_csv(inv, out / "invitations.csv", sep=",",
                                           encoding="utf-8-sig"))

    responses = tables["responses"]
    months = responses["responded_at"].dt.strftime("%Y-%m")
    words = {v: k for k, v in params["number_words"].items() if re.search("[а-я]", k)}
    for i, month in enumerate(sorted(months.unique())):
        part = responses.loc[months == month]
        if i % 2 == 0:
            frame = _export_frame(part, "responses", "ru", params, **ru)
            nps = _header("responses", "nps", "ru", params)
            as_word = np.arange(len(part)) % 10 == 3
            frame[nps] = np.where(as_word, part["nps"].map(words), part["nps"].astype(str))
            files["responses"].append(_write_csv(
                frame, out / f"responses_{month}.csv", sep=";", encoding="cp1251",
                blank_every=40, duplicate_first=True))
        else:
            frame = _export_frame(part, "responses", "en", params, **en)
            files["responses"].append(_write_csv(
                frame, out / f"responses_{month}.csv", sep=",", encoding="utf-8",
                blank_every=55, duplicate_first=True))

    cases = _export_frame(tables["cases"], "cases", "ru", params,
                          **{**ru, "date_format": None})
    files["cases"].append(_write_xlsx(cases, out / "cases.xlsx",
                                      title="Кейсы по красным флагам", sheet="Кейсы"))
    ros = _export_frame(tables["repair_orders"], "repair_orders", "en", params,
                        **{**en, "date_format": "%Y-%m-%d %H:%M:%S"})
    files["repair_orders"].append(_write_csv(ros, out / "repair_orders.tsv", sep="\t",
                                             encoding="utf-8"))
    inc = _export_frame(tables["incidents"], "incidents", "ru", params, **ru)
    files["incidents"].append(_write_csv(inc, out / "incidents.csv", sep=";",
                                         encoding="cp1251", blank_every=100))
    # the dealers' action plans: the Excel sheet they keep, Russian headers and status words
    plans = _export_frame(tables["actions"], "actions", "ru", params,
                          **{**ru, "date_format": None})
    files["actions"].append(_write_xlsx(plans, out / "actions.xlsx",
                                        title="План мероприятий по улучшению", sheet="План"))
    # the call centre's monthly funnel report, English headers, months as 10.2026
    funnel = tables["contacts"].assign(month=lambda d: pd.to_datetime(d["month"])
                                       .dt.strftime("%m.%Y"))
    funnel = _export_frame(funnel, "contacts", "en", params, **en)
    files["contacts"].append(_write_xlsx(funnel, out / "contacts.xlsx",
                                         title="Call centre: survey contacts",
                                         sheet="Contacts"))
    return files


def demo_tables(demo) -> dict[str, pd.DataFrame]:
    """The tables of a demo network: a ``DemoNetwork``, a mapping table -> frame, or a directory
    of ``<table>.parquet`` (what ``python -m analysis demo-data`` writes)."""
    if isinstance(demo, Mapping):
        return dict(demo)
    if isinstance(demo, str | os.PathLike):
        src = Path(demo)
        missing = [t for t in TABLES if not (src / f"{t}.parquet").exists()]
        if missing:
            raise IngestError(f"{src}: not a demo network directory, no "
                              f"{', '.join(t + '.parquet' for t in missing)}; write one with "
                              f"python -m analysis demo-data --out {src}")
        return {t: pd.read_parquet(src / f"{t}.parquet") for t in TABLES}
    return {t: getattr(demo, t) for t in TABLES}


def ingest_demo(
    demo: str | os.PathLike | object,
    *,
    data_root: str | os.PathLike | None = None,
    via_exports: bool = False,
    now: pd.Timestamp | str | None = None,
) -> list[IngestRecord]:
    """Ingest every table of a demo network, dealers first.

    ``via_exports`` first writes the tables as messy exports
    (:func:`write_demo_exports`) under ``<data_root>/raw/demo-exports/``
    and ingests those, as a user would.
    """
    tables = demo_tables(demo)
    now = demo_now(tables) if now is None else pd.Timestamp(now)
    root = Path(data_root) if data_root else DATA_ROOT
    if via_exports:
        files = write_demo_exports(tables, root / "raw" / "demo-exports")
    elif isinstance(demo, str | os.PathLike):
        files = {t: [Path(demo) / f"{t}.parquet"] for t in TABLES}
    else:
        staging = root / "raw" / "demo"
        staging.mkdir(parents=True, exist_ok=True)
        files = {}
        for t in TABLES:
            tables[t].to_parquet(staging / f"{t}.parquet", index=False)
            files[t] = [staging / f"{t}.parquet"]
    return [ingest_file(path, table=t, data_root=root, now=now)
            for t in TABLES for path in files[t]]
