"""Write examples/survey_export.csv: a small survey export shaped as a team's own (synthetic).

What a survey vendor or a CRM gives a customer-relations team, not the workbench's schema:
Windows-1251 with ";" (Excel's "CSV" on a Russian Windows), Russian headers, dealers named (no
codes, no dealers file) with their region and city, touchpoints in words, the driver ratings
on a 1-5 scale, dates as dd.mm.yyyy HH:MM, no answer ids, comments for some answers, phones.
Two rows are wrong on purpose (a score of 11, a 13th month): the ingest quarantines them.

The answers come from the synthetic demo network (``analysis.synthetic``), so the report
finds its planted structure. Run from the repository's root:

    .venv/bin/python examples/make_example.py          # rewrites examples/survey_export.csv
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from analysis.synthetic import make_network

OUT = Path(__file__).resolve().parent / "survey_export.csv"
SEED = 24
HEADER = ["Дата", "Дилер", "Регион", "Город", "Точка контакта", "Оценка",
          "Качество автомобиля", "Качество ремонта", "Запись на сервис", "Персонал",
          "Атмосфера", "Комментарий", "Телефон"]
TOUCHPOINTS = {"sales_new": "Продажа", "sales_used": "Продажа с пробегом", "service": "Сервис",
               "roadside": "Помощь на дорогах", "hotline": "Горячая линия"}
DRIVERS = ("product_quality", "repair_quality", "booking", "staff", "atmosphere")
# (row, column, value): wrong on purpose
PLANTED = ((7, 5, "11"), (40, 0, "12.13.2026 10:15"))


def _cell(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def rows(seed: int = SEED) -> list[list[str]]:
    """The export's data rows (without the header)."""
    net = make_network(n_dealers=7, n_regions=2, months=3, responses_per_month=260, seed=seed)
    answers = net.responses.merge(net.dealers, on="dealer_id").sort_values("responded_at")
    out = []
    for a in answers.itertuples():
        five = ["" if pd.isna(getattr(a, d)) else str(math.ceil(getattr(a, d) / 2))
                for d in DRIVERS]
        out.append([a.responded_at.strftime("%d.%m.%Y %H:%M"), a.dealer_name, a.region, a.city,
                    TOUCHPOINTS[a.touchpoint], str(a.nps), *five, _cell(a.comment),
                    _cell(a.phone)])
    for row, column, value in PLANTED:
        out[row][column] = value
    return out


def write(path: Path = OUT, seed: int = SEED) -> Path:
    """Write the export (the same bytes for the same seed)."""
    with path.open("w", encoding="cp1251", errors="replace", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows([HEADER, *rows(seed)])
    return path


if __name__ == "__main__":
    print(f"written {write()}")
