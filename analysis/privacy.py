"""Mask personal data in free text before anything is shown: phones, e-mails, VINs.

Customers write their phone or e-mail into comments ("перезвоните мне 8 916 123-45-67"), and
service texts carry VINs. Reports show quotes, so every quote goes through
:func:`mask_pii_series` (or :func:`mask_pii` for one string) first.

What is masked
--------------
- e-mail addresses, also written with spaces around ``@`` (``ivan @ mail.ru``) and the common
  obfuscations: ``ivan(at)mail.ru``, ``ivan [at] mail [dot] ru``, ``ivan{собака}mail.ru``,
  ``ivan собака mail точка ru`` (the bare words ``собака``/``точка`` only between Latin
  parts that make an address: a dog in a sentence stays);
- VINs: 17 characters of the VIN alphabet (no I, O, Q) holding both letters and digits;
  also glued to the word VIN (``VINXW8ZZZ61ZKG123456``), written in groups after the word
  VIN (``VIN: XW8 ZZZ61Z KG123456``, any case) and in upper-case groups of three or more
  characters without it (``XW8-ZZZ61Z-KG123456``);
- phone numbers: Russian numbers with a ``+7``, ``7`` or ``8`` trunk and 10 more digits in any
  grouping (``+7 916 123-45-67``, ``89161234567``, ``8 (916) 123 45 67``, ``8-800-555-35-35``),
  ten-digit mobiles without a trunk (``916 123 45 67``), international numbers written with
  ``+`` or ``00`` and 7-15 digits (``+44 20 7946 0958``, ``+1 (555) 123-4567``), and
  seven-digit city numbers written ``123-45-67``.

Before matching, each character is read as the ASCII character it stands for: fullwidth and
other Unicode digits (``８９１６１２３４５６７``, ``٨٩١٦...``), fullwidth ``＋``, ``＠`` and letters,
non-breaking and thin spaces. Only the matched parts change: the rest of the text is
returned exactly as written.

Dates (``12.03.2025``, ``2025-03-12 10:30``), times, amounts (``15 000 руб``,
``1 500 000``) and mileages (``120 000 км``) are left alone: a phone needs a trunk, a ``+``, a
leading 9 of a ten-digit mobile, or the dashed city layout. Masking is idempotent: the masks
themselves are never masked again.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

__all__ = ["EMAIL_MASK", "PHONE_MASK", "VIN_MASK", "contains_pii", "mask_pii", "mask_pii_series"]

PHONE_MASK = "[phone]"
EMAIL_MASK = "[e-mail]"
VIN_MASK = "[VIN]"

# Separators people put inside a phone number; at most a few between two digits, so that
# two unrelated numbers in a sentence do not merge into one.
_SEP = r"[\s\u00a0.\-\u2010-\u2015\u2212()]{0,3}"

# an e-mail's "@" and ".", as written or spelled out: in brackets anything goes
_OPEN, _CLOSE = r"[\(\[\{<]", r"[\)\]\}>]"
_AT = (rf"(?:\s*@\s*|\s*{_OPEN}\s*(?:at|собака|собачка|@)\s*{_CLOSE}\s*)")
_DOT = (rf"(?:\.|\s*{_OPEN}\s*(?:dot|точка|\.)\s*{_CLOSE}\s*|\s+(?:точка|тчк)\s+)")
# the bare word "собака" (Russian readers' name for @) only between Latin parts
_AT_WORD = r"\s+(?:собака|собачка)\s+"
_DOT_WORD = rf"(?:\.|\s*{_OPEN}\s*(?:dot|точка|\.)\s*{_CLOSE}\s*|\s+(?:точка|тчк|dot)\s+)"
_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,}}\b"
    rf"|(?<![\w.+-])[A-Za-z0-9._+-]+{_AT_WORD}[A-Za-z0-9-]+(?:{_DOT_WORD}[A-Za-z0-9-]+)*"
    rf"{_DOT_WORD}(?:[A-Za-z]{{2,}}|рф|ру|ком)\b",
    flags=re.IGNORECASE,
)
_VIN_CHAR = "[A-HJ-NPR-Z0-9]"
_VIN_SHAPE = (rf"(?=(?:{_VIN_CHAR}[\s.\-]?){{0,16}}[A-HJ-NPR-Z])"
              rf"(?=(?:{_VIN_CHAR}[\s.\-]?){{0,16}}[0-9])")
_VIN = re.compile(
    # 17 characters in one piece, or glued to the word VIN
    rf"(?:(?<![A-Za-z0-9])(?:vin|вин)[:#№_\-]?|(?<![A-Za-z0-9]))"
    rf"(?=[A-HJ-NPR-Z0-9]{{0,16}}[A-HJ-NPR-Z])(?=[A-HJ-NPR-Z]{{0,16}}[0-9])"
    rf"{_VIN_CHAR}{{17}}(?![A-Za-z0-9])"
    # after the word VIN (VIN-код, VIN №, ВИН:): 17 characters with a space, dot or dash
    # between any two
    rf"|(?<![A-Za-z0-9])(?:vin|вин)(?:[\s\-]*(?:код|code|номер|number|no|№))?[\s:#№.\-]*"
    rf"{_VIN_SHAPE}{_VIN_CHAR}(?:[\s.\-]?{_VIN_CHAR}){{16}}(?![A-Za-z0-9])",
    flags=re.IGNORECASE,
)
# upper-case groups of three or more VIN characters (a window of them may be a VIN)
_VIN_GROUPS = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Z0-9]{3,}(?:[ \-][A-HJ-NPR-Z0-9]{3,}){1,5}"
                         r"(?![A-Za-z0-9])")
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
    ]),
    flags=re.ASCII,  # the text is folded to ASCII digits first
)


class _Fold(dict):
    """``str.translate`` table: a character -> the one ASCII character it stands for (a
    Unicode digit -> its value, a fullwidth or compatibility form -> its NFKC form), else
    itself. One character for one, so positions in the folded text are those of the text."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            value = str(digit)
        else:
            compat = unicodedata.normalize("NFKC", char)
            if len(compat) == 1 and compat.isascii():
                value = compat
            elif unicodedata.category(char) == "Zs":
                value = " "
        self[code] = value
        return value


_FOLD = _Fold()


def _fold(text: str) -> str:
    return text if text.isascii() else text.translate(_FOLD)


def _vin_window(match: re.Match, mask: str) -> str:
    """Mask a window of upper-case groups that spells 17 VIN characters with a letter and a
    digit; the other groups stay."""
    text = match.group(0)
    parts = re.split(r"([ \-])", text)
    groups = parts[::2]
    for i in range(len(groups)):
        size = 0
        for j in range(i, len(groups)):
            size += len(groups[j])
            if size > 17:
                break
            joined = "".join(groups[i:j + 1])
            if (size == 17 and j > i and re.search("[A-Z]", joined)
                    and re.search("[0-9]", joined)):
                before = "".join(parts[:2 * i])
                after = "".join(parts[2 * j + 1:])
                return before + mask + after
    return text


def _sub(pattern: re.Pattern, repl, text: str, folded: str) -> tuple[str, str]:
    """Replace ``pattern``'s matches in the folded text, in both the text and the folded
    text (``repl``: a mask, or a function of the match returning the folded replacement)."""
    out, out_folded, last = [], [], 0
    for match in pattern.finditer(folded):
        new = repl(match) if callable(repl) else repl
        if new == match.group(0):
            continue
        out += [text[last:match.start()], new]
        out_folded += [folded[last:match.start()], new]
        last = match.end()
    if not out:
        return text, folded
    out.append(text[last:])
    out_folded.append(folded[last:])
    return "".join(out), "".join(out_folded)


# what any phone, e-mail or VIN holds: most comments hold none of it and are returned as is
_CANDIDATE = re.compile(r"[0-9@]|at|собак", flags=re.IGNORECASE)


def _mask_text(text: str, phone: str, email: str, vin: str) -> str:
    folded = _fold(text)
    if not _CANDIDATE.search(folded):
        return text
    text, folded = _sub(_EMAIL, email, text, folded)
    # a VIN glued to the word VIN keeps the word: VIN[VIN]
    text, folded = _sub(_VIN, lambda m: _keep_vin_word(m, vin), text, folded)
    text, folded = _sub(_VIN_GROUPS, lambda m: _vin_window(m, vin), text, folded)
    text, folded = _sub(_PHONE, phone, text, folded)
    return text


_VIN_WORD = re.compile(r"(?:vin|вин)(?:[\s\-]*(?:код|code|номер|number|no|№))?[\s:#№.\-_]*",
                       flags=re.IGNORECASE)


def _keep_vin_word(match: re.Match, mask: str) -> str:
    """The word VIN (and its punctuation) as written, the VIN itself masked."""
    word = _VIN_WORD.match(match.group(0))
    return (word.group(0) if word else "") + mask


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
    return _mask_text(str(text), phone, email, vin)


def mask_pii_series(
    series: pd.Series,
    *,
    phone: str = PHONE_MASK,
    email: str = EMAIL_MASK,
    vin: str = VIN_MASK,
) -> pd.Series:
    """:func:`mask_pii` over a text column; missing values stay missing.

    The index and name are kept, so the result can be assigned back with ``.assign``.
    """
    # each distinct text is masked once (a table repeats its dealers' names on every row)
    codes, distinct = pd.factorize(series.astype("string"))
    masked = pd.array([_mask_text(str(v), phone, email, vin) for v in distinct],
                      dtype="string")
    return (
        pd.Series(masked.take(codes, allow_fill=True), index=series.index)
        .astype(object)
        .where(series.notna(), series)
        .rename(series.name)
    )


def contains_pii(series: pd.Series) -> pd.Series:
    """Whether each text holds a phone, an e-mail or a VIN (a check for reports and tests)."""
    text = series.astype("string").fillna("")
    codes, distinct = pd.factorize(text)
    found = pd.array([_mask_text(v, "\0", "\0", "\0") != v for v in distinct], dtype=bool)
    return pd.Series(found.take(codes), index=series.index).astype(bool)
