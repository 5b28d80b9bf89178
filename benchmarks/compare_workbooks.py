"""Do two sets of report workbooks hold the same numbers? (A check for refactorings, not a test.)

    python -m benchmarks.compare_workbooks BEFORE_DIR AFTER_DIR [--show 20]

For each ``*.xlsx`` in BEFORE_DIR and its namesake in AFTER_DIR, every number of every sheet
below the header row is collected: numeric cells as they are, and numbers written in text
cells (``[+17.7, +25.3]``, ``+3.2*``, ``7.9 [7.5; 8.3]``, ``2,679,303``, ``31%`` read as 0.31;
in a Russian workbook, ``*.ru.xlsx``, ``[+17,7; +25,3]`` and ``2 679 303``), so a workbook
whose numbers were text compares with one that stores them as numbers. A numeric cell whose
number format writes a text instead of its value (``"<0.001"``) counts as that text. In a
column whose header ends in ``%`` (or an interval's end of one: ``95% interval, %: low``) a
number without its own ``%`` is a percentage: 31.2 is read as 0.312. Dates, months
(``2026-10``), ISO weeks and numbers glued to letters (``D001``) are not numbers.
The two multisets are matched value by value; a pair matches when the values agree to the
coarser of the two displayed precisions (half a unit of the last shown decimal; a float cell
shows the digits of its shortest repr, so a rounded one is as coarse as its text would be; an
integer cell is exact). Sheet names and layout may differ: only the numbers are compared.

Exit status 0 when every workbook's numbers match both ways, 1 otherwise.
"""

from __future__ import annotations

import argparse
import bisect
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                   r"|\d{4}-W\d{2}|\d{1,2}\.\d{1,2}\.\d{4}|\d{2}:\d{2}")
_NUMBERS = {  # by the workbook's decimal symbol: its digit grouping and decimals
    ".": re.compile(r"(?<![\w.,])[+-]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(\s?%?)(?![\w.])"),
    ",": re.compile(r"(?<![\w.,])[+-]?(\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!,\d{3})|\d+)"
                    r"(?:,(\d+))?([ \u00a0\u202f]?%?)(?![\w.])"),
}
# a number format that shows a text, not the value: '"<0.001"'
_LITERAL_FORMAT = re.compile(r'^"([^"]*)"$')
# a header whose numbers are percentages: "Share, %", "95% interval, %: low"
_PERCENT_HEADER = re.compile(r"%\s*(?::[^%]*)?$")


@dataclass(frozen=True)
class Number:
    value: float
    decimals: float  # digits shown after the point; inf for an integer cell
    where: str
    percent: bool = False  # written with its own "%"

    def tolerance(self, other: Number) -> float:
        shown = min(self.decimals, other.decimals)
        if math.isinf(shown):
            return 1e-9 * max(1.0, abs(self.value))
        return 0.5 * 10 ** -shown + 1e-9


def numbers_in_text(text: str, where: str, *, decimal: str = ".") -> list[Number]:
    """The numbers a text cell shows (dates and codes left out); ``decimal`` is the
    workbook's decimal symbol (``,`` groups digits in English and splits decimals in
    Russian)."""
    text = _DATE.sub(" ", text.lstrip("'"))
    out = []
    for match in _NUMBERS[decimal].finditer(text):
        whole, fraction, percent = match.groups()
        sign = -1.0 if match.group(0).startswith("-") else 1.0
        digits = re.sub(r"\D", "", whole)
        decimals = len(fraction or "")
        value = sign * float(f"{digits}.{fraction}" if fraction else digits)
        share = percent.strip() == "%"
        if share:  # a percentage is a share: 31% -> 0.31, shown to 2 decimals
            value, decimals = value / 100, decimals + 2
        out.append(Number(value, decimals, where, share))
    return out


def _decimals(value: int | float) -> float:
    """Decimals a numeric cell shows: an integer is exact; a float rounded for the report
    (60.0, 0.35) shows its few digits, an unrounded one (0.0121951...) about sixteen."""
    if isinstance(value, int):
        return math.inf
    text = repr(float(value))
    if "e" in text or "E" in text:
        return math.inf
    return len(text.partition(".")[2])


def workbook_numbers(path: Path) -> list[Number]:
    """Every number below the header row of every sheet of ``path``."""
    import openpyxl

    decimal = "," if ".ru." in path.name else "."
    out: list[Number] = []
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for sheet in book.worksheets:
        rows = sheet.iter_rows()
        header = [cell.value for cell in next(rows, ())]
        # a column whose header ends in "%" holds percentages: 31.2 there is the share 0.312
        percent = [isinstance(h, str) and bool(_PERCENT_HEADER.search(h.rstrip()))
                   for h in header]
        for r, row in enumerate(rows, start=2):
            for c, cell in enumerate(row, start=1):
                value = cell.value
                where = f"{sheet.title}!R{r}C{c}"
                found: list[Number] = []
                if isinstance(value, bool) or value is None:
                    continue
                literal = _LITERAL_FORMAT.match(str(getattr(cell, "number_format", "")))
                if isinstance(value, int | float) and literal:
                    found = numbers_in_text(literal.group(1), where, decimal=decimal)
                elif isinstance(value, int | float):
                    if math.isfinite(value):
                        found = [Number(float(value), _decimals(value), where,
                                        "%" in str(getattr(cell, "number_format", "")))]
                elif isinstance(value, str):
                    found = numbers_in_text(value, where, decimal=decimal)
                if c <= len(percent) and percent[c - 1]:
                    # xlsx stores a rounded 2.0 as 2: a whole percentage shows no decimals
                    found = [n if n.percent else
                             Number(n.value / 100, (0 if math.isinf(n.decimals) else n.decimals)
                                    + 2, n.where) for n in found]
                out.extend(found)
    return out


def _pair(before: list[Number], after: list[Number], tol: float) -> set[tuple[int, int]]:
    """Pair points within ``tol`` of each other, as many as possible (equal-width windows:
    the greedy sweep in value order is optimal)."""
    a = sorted(range(len(before)), key=lambda i: before[i].value)
    b = sorted(range(len(after)), key=lambda j: after[j].value)
    pairs, j = set(), 0
    for i in a:
        value = before[i].value
        width = tol if tol > 0 else 1e-9 * max(1.0, abs(value))
        while j < len(b) and after[b[j]].value < value - width:
            j += 1
        if j < len(b) and after[b[j]].value <= value + width:
            pairs.add((i, b[j]))
            j += 1
    return pairs


def match(before: list[Number], after: list[Number]) -> tuple[list[Number], list[Number]]:
    """Pair the numbers by value; returns (unmatched before, unmatched after).

    A pair's tolerance is that of the coarser of its two numbers, so the pairing runs from
    the finest precision to the coarsest: at each level, the numbers shown with exactly that
    many decimals are paired with the still unpaired numbers shown at least as finely. What
    that leaves unpaired is then re-paired along augmenting paths (Kuhn's algorithm), so a
    number left over is one no complete pairing could place.
    """
    partner_of_after: dict[int, int] = {}
    left, right = set(range(len(before))), set(range(len(after)))
    for level in sorted({n.decimals for n in before + after}, reverse=True):
        tol = 0.0 if math.isinf(level) else 0.5 * 10 ** -level + 1e-9
        for exact_left in (True, False):
            a = [i for i in left if (before[i].decimals == level if exact_left
                                     else before[i].decimals > level)]
            b = [j for j in right if (after[j].decimals >= level if exact_left
                                      else after[j].decimals == level)]
            for i, j in _pair([before[i] for i in a], [after[j] for j in b], tol):
                left.discard(a[i])
                right.discard(b[j])
                partner_of_after[b[j]] = a[i]
    order = sorted(range(len(after)), key=lambda j: after[j].value)
    values = [after[j].value for j in order]
    coarsest = min((n.decimals for n in after), default=math.inf)

    def neighbours(i: int) -> list[int]:
        a = before[i]
        width = 0.5 * 10 ** -min(a.decimals, coarsest) + 1e-9 if not (
            math.isinf(a.decimals) and math.isinf(coarsest)) else 1e-9 * max(1, abs(a.value))
        lo, hi = bisect.bisect_left(values, a.value - width), bisect.bisect_right(
            values, a.value + width)
        return [order[k] for k in range(lo, hi)
                if abs(values[k] - a.value) <= a.tolerance(after[order[k]])]

    for start in sorted(left):
        # iterative depth-first search for an augmenting path from ``start``
        seen: set[int] = set()
        stack = [(start, iter(neighbours(start)))]
        path: list[tuple[int, int]] = []
        found = False
        while stack and not found:
            i, candidates = stack[-1]
            for j in candidates:
                if j in seen:
                    continue
                seen.add(j)
                if j not in partner_of_after:
                    path.append((i, j))
                    found = True
                    break
                path.append((i, j))
                k = partner_of_after[j]
                stack.append((k, iter(neighbours(k))))
                break
            else:
                stack.pop()
                if path:
                    path.pop()
        if found:
            for i, j in path:
                partner_of_after[j] = i
            left.discard(start)
            right = set(range(len(after))) - set(partner_of_after)
    return ([before[i] for i in sorted(left, key=lambda i: before[i].value)],
            [after[j] for j in sorted(right, key=lambda j: after[j].value)])


def compare(before_dir: Path, after_dir: Path, *, show: int = 10) -> bool:
    ok = True
    for before in sorted(before_dir.glob("*.xlsx")):
        after = after_dir / before.name
        if not after.exists():
            print(f"{before.name}: missing in {after_dir}")
            ok = False
            continue
        a, b = workbook_numbers(before), workbook_numbers(after)
        lost, new = match(a, b)
        same = not lost and not new
        ok &= same
        print(f"{before.name}: {len(a)} numbers before, {len(b)} after, "
              f"{len(a) - len(lost)} matched; {len(lost)} only before, {len(new)} only after"
              + ("  OK" if same else ""))
        for label, items in (("only before", lost), ("only after", new)):
            for n in items[:show]:
                print(f"    {label}: {n.value!r} ({n.where})")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--show", type=int, default=10, help="unmatched numbers listed per side")
    args = parser.parse_args(argv)
    return 0 if compare(args.before, args.after, show=args.show) else 1


if __name__ == "__main__":
    sys.exit(main())
