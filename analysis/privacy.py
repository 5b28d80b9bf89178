"""Mask personal data in free text before anything is shown: phones, e-mails, VINs.

Customers write their phone or e-mail into comments ("перезвоните мне 8 916 123-45-67"), and
service texts carry VINs. Reports show quotes, so every quote goes through
:func:`mask_pii_series` (or :func:`mask_pii` for one string) first.

What is masked
--------------
- e-mail addresses, also the common obfuscations ``ivan(at)mail.ru`` and ``ivan [at] mail.ru``;
- VINs: 17 characters of the VIN alphabet (no I, O, Q) holding both letters and digits;
- phone numbers: Russian numbers with a ``+7``, ``7`` or ``8`` trunk and 10 more digits in any
  grouping (``+7 916 123-45-67``, ``89161234567``, ``8 (916) 123 45 67``, ``8-800-555-35-35``),
  ten-digit mobiles without a trunk (``916 123 45 67``), international numbers written with
  ``+`` or ``00`` and 7-15 digits (``+44 20 7946 0958``, ``+1 (555) 123-4567``), and
  seven-digit city numbers written ``123-45-67``.

Dates (``12.03.2025``, ``2025-03-12 10:30``), times, amounts (``15 000 руб``,
``1 500 000``) and mileages are left alone: a phone needs a trunk, a ``+``, a leading 9 of a
ten-digit mobile, or the dashed city layout.
"""

from __future__ import annotations

import re

import pandas as pd

PHONE_MASK = "[phone]"
EMAIL_MASK = "[e-mail]"
VIN_MASK = "[VIN]"

# Separators people put inside a phone number; at most a few between two digits, so that
# two unrelated numbers in a sentence do not merge into one.
_SEP = r"[\s\u00a0.\-\u2010-\u2015()]{0,3}"

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+"
    r"(?:@|\s*[\(\[]\s*(?:at|собака)\s*[\)\]]\s*)"
    r"[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b",
    flags=re.IGNORECASE,
)
_VIN = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-HJ-NPR-Z0-9]{0,16}[A-HJ-NPR-Z])(?=[A-HJ-NPR-Z]{0,16}[0-9])"
    r"[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])",
    flags=re.IGNORECASE,
)
_PHONE = re.compile(
    "|".join([
        # Russian: +7 / 7 / 8 trunk, then exactly ten digits in any grouping
        rf"(?:\+\s?7|(?<![\d+])[78])(?:{_SEP}\d){{10}}(?!\d)",
        # international: + or 00, country code, then 7-15 digits in all
        rf"(?:\+|(?<![\d+])00)\s?[1-9](?:{_SEP}\d){{6,14}}(?!\d)",
        # a ten-digit mobile written without the trunk: 916 123 45 67, (916) 1234567
        rf"(?<![\d+])\(?9\d\d(?:{_SEP}\d){{7}}(?!\d)",
        # a city number in its dashed layout: 123-45-67
        r"(?<![\d+])(?<!\d[\-.])\d{3}-\d\d-\d\d(?!\d)(?![\-.]\d)",
    ])
)


def mask_pii(
    text: str | None,
    *,
    phone: str = PHONE_MASK,
    email: str = EMAIL_MASK,
    vin: str = VIN_MASK,
) -> str | None:
    """Return ``text`` with phone numbers, e-mail addresses and VINs replaced by placeholders.

    ``None`` and NaN come back unchanged, so a column with empty comments can be passed as it
    is. E-mails go first (their digits must not be read as a phone), then VINs, then phones.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return text
    out = _EMAIL.sub(email, str(text))
    out = _VIN.sub(vin, out)
    return _PHONE.sub(phone, out)


def mask_pii_series(
    series: pd.Series,
    *,
    phone: str = PHONE_MASK,
    email: str = EMAIL_MASK,
    vin: str = VIN_MASK,
) -> pd.Series:
    """Vectorised :func:`mask_pii` over a text column; missing values stay missing.

    The index and name are kept, so the result can be assigned back with ``.assign``.
    """
    # each distinct text is masked once (a table repeats its dealers' names on every row)
    codes, distinct = pd.factorize(series.astype("string"))
    masked = (pd.Series(distinct, dtype="string")
              .str.replace(_EMAIL, email, regex=True)
              .str.replace(_VIN, vin, regex=True)
              .str.replace(_PHONE, phone, regex=True))
    return (
        pd.Series(masked.array.take(codes, allow_fill=True), index=series.index)
        .astype(object)
        .where(series.notna(), series)
        .rename(series.name)
    )


def contains_pii(series: pd.Series) -> pd.Series:
    """Whether each text holds a phone, an e-mail or a VIN (a check for reports and tests)."""
    text = series.astype("string").fillna("")
    return (text.str.contains(_EMAIL) | text.str.contains(_VIN)
            | text.str.contains(_PHONE)).astype(bool)
