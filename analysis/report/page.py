"""The report page around a notebook's outputs: a way in, a way out on paper.

The batch renders an executed report notebook to HTML (:func:`analysis.report.batch.render_html`)
and hands the body to :func:`finish_body`, which

- numbers every section heading (``<h2>``) and gives it an anchor named after its key in
  params/labels.yaml ``sections`` (``#loyalty-drivers``: the same in every language);
- puts a linked table of contents above the first section, its sections grouped in the parts
  of params/report.yaml ``parts`` (each part starts a new page in print);
- adds a glossary at the end: one plain line for each term of params/labels.yaml ``glossary``
  that the page shows (a term no table or note of the page uses is left out).

:data:`CSS` is the page's look on screen and on paper (A4, each part on a new page, headings
kept with what follows, tables and charts not cut across pages where they fit, no fixed
elements), and :func:`print_pdf` prints a page with headless Chromium.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from analysis.report import catalogue as L

__all__ = ["CHROMIUM_ENV", "CSS", "DEFAULT_CHROMIUM", "PRINT_CHART_MM", "PRINT_MAX_MM",
           "PRINT_MIN_SHARE", "PRINT_TEXT_MM", "PX_PER_MM", "PrintFailed", "Section",
           "chromium_path", "contents_html", "finish_body", "glossary_html", "glossary_terms",
           "page_text", "print_pdf", "print_share", "section_key", "sections_of"]

# the page's look beyond batch._PAGE_CSS: contents, numbers, glossary, narrow screens, print
CSS = """
p, li, dd { overflow-wrap: anywhere; }
h2 { scroll-margin-top: 8px; }
h2 .section-number { color: #0072B2; margin-right: 6px; }
nav.toc { margin: 14px 0 8px; padding: 10px 14px 6px; background: #F5F7FA;
          border: 1px solid #E1E6EE; border-radius: 4px; }
nav.toc .toc-title { font-weight: 700; font-size: 15px; margin: 0 0 6px; }
nav.toc .toc-parts { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr));
                     gap: 4px 22px; }
nav.toc .toc-part-title { font-weight: 600; font-size: 13px; color: #555; margin: 4px 0 2px; }
nav.toc ol { list-style: none; margin: 0 0 6px; padding: 0; }
nav.toc li { font-size: 13px; line-height: 1.35; margin: 2px 0; padding-left: 1.9em;
             text-indent: -1.9em; }
nav.toc a { color: #0b4f8a; text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
nav.toc .n { display: inline-block; min-width: 1.9em; text-indent: 0; color: #555; }
a.to-contents { position: fixed; right: 12px; bottom: 12px; font-size: 12px; padding: 4px 9px;
                background: rgba(255, 255, 255, 0.92); border: 1px solid #C9D3E0;
                border-radius: 12px; color: #0b4f8a; text-decoration: none; }
dl.glossary { margin: 6px 0 0; font-size: 14px; line-height: 1.45; }
dl.glossary dt { font-weight: 600; margin-top: 6px; }
dl.glossary dd { margin: 0 0 0 18px; }
@media screen and (min-width: 1000px) {
  dl.glossary { columns: 2; column-gap: 32px; }
  dl.glossary dt { break-after: avoid; }
  dl.glossary dd { break-inside: avoid; }
}
@media (max-width: 600px) {
  main { padding: 10px 12px 40px; }
  h1 { font-size: 21px; }
  h2 { font-size: 18px; }
}
@page { size: A4; margin: 8mm 9mm 9mm; }
@media print {
  body { font-size: 8pt; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 15pt; margin: 0 0 2px; }
  h2 { font-size: 12pt; margin: 8px 0 3px; padding-top: 3px; break-after: avoid; }
  h2.part-start { break-before: page; }
  h3, h4 { font-size: 9pt; margin: 5px 0 1px; break-after: avoid; }
  p, li, dd { font-size: 8pt; line-height: 1.25; margin: 2px 0; }
  p, li { orphans: 2; widows: 2; }
  ul.summary, ol.summary { margin: 2px 0; }
  nav.toc { margin: 6px 0 4px; padding: 4px 8px 0; }
  nav.toc .toc-title { font-size: 9pt; margin-bottom: 2px; }
  nav.toc li, nav.toc .toc-part-title { font-size: 7.5pt; margin: 0; }
  nav.toc ol { margin-bottom: 3px; }
  nav.toc .toc-parts { grid-template-columns: repeat(3, 1fr); gap: 0 12px; }
  a.to-contents { display: none; }
  a { color: inherit; text-decoration: none; }
  /* a chart at the width finish_body gives it (about 55 mm tall, never narrower than 65 %
     of the page), whole on one page */
  img { width: var(--print-width, auto); max-width: 100% !important; height: auto;
        break-inside: avoid; margin: 1px 0; }
  /* nothing wider than the page: Chromium would shrink the whole page to fit it */
  #report-table { overflow: visible !important; padding: 1px 0 2px !important; }
  #report-table .gt_table { font-size: 7pt !important; width: 100% !important;
                            line-height: 1.15 !important; }
  #report-table .gt_col_heading, #report-table .gt_row { padding: 1px 2px !important; }
  #report-table .gt_col_heading { overflow-x: visible !important; }
  /* a table of 11 columns or more in a smaller font (Russian headers would widen it past
     the page) */
  #report-table .gt_table:has(.gt_col_heading:nth-child(11)) { font-size: 6.3pt !important; }
  tr, thead { break-inside: avoid; }
  p.more { margin: 0 0 2px; }
  dl.glossary { columns: 3; column-gap: 6mm; font-size: 7.5pt; line-height: 1.2; }
  dl.glossary dt { margin-top: 2px; break-after: avoid; }
  dl.glossary dd { margin: 0 0 0 6px; font-size: 7.5pt; line-height: 1.2; break-inside: avoid; }
}
"""


@dataclass(frozen=True)
class Section:
    """A section heading of a page: its number, anchor, title (escaped HTML) and part."""

    number: int
    anchor: str
    title: str
    part: str | None


_H2 = re.compile(r"<h2>(.*?)</h2>", re.S)
_TAG = re.compile(r"<[^>]+>")
_STYLE_OR_SCRIPT = re.compile(r"<(style|script)\b.*?</\1>", re.S | re.I)


def section_key(title: str, language: str) -> str | None:
    """The key in params/labels.yaml ``sections`` whose text, in ``language``, reads as
    ``title`` (plain text); placeholders (``TOP-{n}``) match any value. None when none does."""
    for key, template in L.names("sections", language=language).items():
        # a plural argument (``{hours, plural, one {# час} ...}``) reads as any text, too
        for start, end, _, _ in reversed(L.plurals(template, where=f"sections.{key}")):
            template = f"{template[:start]}{{_}}{template[end:]}"
        pattern = "".join(".+?" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]*\})", template) if part)
        if re.fullmatch(pattern, title.strip(), flags=re.S):
            return key
    return None


def _parts() -> dict[str, list[str]]:
    from analysis.config import load_params

    return {str(part): [str(k) for k in keys]
            for part, keys in (load_params("report").get("parts") or {}).items()}


def sections_of(body: str, language: str) -> list[Section]:
    """The section headings of a rendered page body, numbered in order, each with its
    anchor (its key, ``section-N`` when the catalogue does not know its title; unique) and
    its part (params/report.yaml ``parts``; a section no part names stays in the part of the
    section before it)."""
    part_of = {key: part for part, keys in _parts().items() for key in keys}
    found, taken, part = [], set(), None
    for number, match in enumerate(_H2.finditer(body), start=1):
        title = match.group(1)
        key = section_key(html_lib.unescape(_TAG.sub("", title)), language)
        anchor = key.replace("_", "-") if key else f"section-{number}"
        while anchor in taken:
            anchor += "-2"
        taken.add(anchor)
        part = part_of.get(key, part)
        found.append(Section(number, anchor, title, part))
    return found


def _numbered(body: str, sections: list[Section]) -> str:
    """The body with each ``<h2>`` numbered and anchored; the first section of each part after
    the first starts a new printed page."""
    heads = iter(sections)
    previous: list[str | None] = [sections[0].part if sections else None]

    def heading(_match: re.Match) -> str:
        s = next(heads)
        starts = s.part is not None and s.part != previous[0]
        previous[0] = s.part
        css = ' class="part-start"' if starts else ""
        return (f'<h2 id="{s.anchor}"{css}><span class="section-number">{s.number}</span>'
                f"{s.title}</h2>")

    return _H2.sub(heading, body)


def contents_html(sections: list[Section], language: str) -> str:
    """The linked table of contents: the sections by part, each with its number."""
    def text(key: str) -> str:
        return html_lib.escape(L.text("page", key, language=language))

    groups: list[tuple[str | None, list[Section]]] = []
    for s in sections:
        if not groups or groups[-1][0] != s.part:
            groups.append((s.part, []))
        groups[-1][1].append(s)
    blocks = []
    for part, members in groups:
        title = (f'<p class="toc-part-title">{text("part_" + part)}</p>'
                 if part and L.has("page", f"part_{part}") else "")
        items = "".join(f'<li><a href="#{s.anchor}"><span class="n">{s.number}</span>'
                        f"{s.title}</a></li>" for s in members)
        blocks.append(f'<div class="toc-part">{title}<ol>{items}</ol></div>')
    return (f'<nav id="contents" class="toc" aria-label="{text("contents")}">'
            f'<p class="toc-title">{text("contents")}</p>'
            f'<div class="toc-parts">{"".join(blocks)}</div></nav>')


def page_text(body: str) -> str:
    """What a reader reads on a page: its text without tags, styles and scripts, unescaped,
    spaces (narrow, no-break) made plain."""
    plain = html_lib.unescape(_TAG.sub(" ", _STYLE_OR_SCRIPT.sub(" ", body)))
    return re.sub(r"\s+", " ", plain)


def _values(language: str, settings=None) -> dict[str, str]:
    """The values glossary lines may name, written as ``language`` writes numbers
    (``{level}``: the confidence level of the report's ``settings``, None: the params')."""
    from analysis.report import format as F
    from analysis.report.rules import settings_or

    return {"level": F.percent(settings_or(settings).level, language=language)}


def glossary_terms(text: str, language: str, *, settings=None) -> list[tuple[str, str]]:
    """The (term, definition) of every params/labels.yaml ``glossary`` entry whose term
    ``text`` uses, in the catalogue's order. A term is found ignoring case and kinds of
    spaces, at the start of a word (``Red flag`` finds "Red flags"); ``|`` in a term
    separates the words it is found by, the first of them shown. ``settings``: the report's
    (:class:`analysis.settings.Settings`), whose level the definitions name."""
    values = _values(language, settings)
    found = []
    for key in L.names("glossary_terms", language=language):
        term = L.text("glossary_terms", key, language=language, **values)
        words = [" ".join(w.split()) for w in term.split("|") if w.strip()]
        if any(re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, w.split(" "))), text, re.I)
               for w in words):
            found.append((words[0], L.text("glossary", key, language=language, **values)))
    return found


def glossary_html(terms: list[tuple[str, str]], number: int, language: str) -> str:
    """The glossary section (numbered ``number``), or "" without terms."""
    if not terms:
        return ""
    title = html_lib.escape(L.text("page", "glossary", language=language))
    rows = "".join(f"<dt>{html_lib.escape(term)}</dt><dd>{html_lib.escape(line)}</dd>"
                   for term, line in terms)
    return (f'<h2 id="glossary"><span class="section-number">{number}</span>{title}</h2>'
            f'<dl class="glossary">{rows}</dl>')


def finish_body(body: str, language: str, *, settings=None) -> str:
    """A rendered report body with numbered, anchored sections, the table of contents above
    the first section, the glossary of the terms it shows at its end, and a link back to the
    contents (on screen only). ``settings``: the report's (None: the params')."""
    language = L.resolve(language)
    sections = sections_of(body, language)
    if not sections:
        return body
    terms = glossary_terms(page_text(body), language, settings=settings)
    glossary = glossary_html(terms, len(sections) + 1, language)
    if glossary:
        appendix = [s.part for s in sections if s.part][-1:] or [None]
        sections = [*sections, Section(len(sections) + 1, "glossary",
                                       html_lib.escape(L.text("page", "glossary",
                                                              language=language)),
                                       appendix[0])]
    numbered = _print_widths(_numbered(body, [s for s in sections if s.anchor != "glossary"]))
    contents = contents_html(sections, language)
    first = numbered.find("<h2")
    back = (f'<a class="to-contents" href="#contents">'
            f'&uarr; {html_lib.escape(L.text("page", "contents", language=language))}</a>')
    return numbered[:first] + contents + numbered[first:] + glossary + back


# a chart on paper: about this tall, never narrower than this share of the text's width (a
# ranking of many dealers stays legible), never taller than this, never wider than drawn
PRINT_CHART_MM = 55.0
PRINT_MIN_SHARE = 0.65
PRINT_MAX_MM = 240.0
PRINT_TEXT_MM = 192.0  # A4 less the print margins
PX_PER_MM = 96 / 25.4

_PNG_IMG = re.compile(r'<img (?=[^>]*src="data:image/png;base64,([A-Za-z0-9+/]{32}))')


def print_share(width: int, height: int) -> float:
    """The share of the printed text's width a chart of ``width`` x ``height`` pixels is
    printed at: :data:`PRINT_CHART_MM` tall, but at least :data:`PRINT_MIN_SHARE` of the
    width, at most :data:`PRINT_MAX_MM` tall and never wider than drawn (at 96 px an inch)."""
    ratio = height / width
    share = max(PRINT_CHART_MM / (ratio * PRINT_TEXT_MM), PRINT_MIN_SHARE)
    return min(share, PRINT_MAX_MM / (ratio * PRINT_TEXT_MM),
               width / (PRINT_TEXT_MM * PX_PER_MM), 1.0)


def _print_widths(body: str) -> str:
    """Each embedded PNG chart with its printed width (``--print-width``, read by the print
    stylesheet only), from the size in its PNG header."""
    import base64
    import struct

    def sized(match: re.Match) -> str:
        header = base64.b64decode(match.group(1))
        if header[12:16] != b"IHDR":
            return match.group(0)
        width, height = struct.unpack(">II", header[16:24])
        if not width or not height:
            return match.group(0)
        return f'<img style="--print-width: {100 * print_share(width, height):.0f}%" '

    return _PNG_IMG.sub(sized, body)


# --- PDF -------------------------------------------------------------------------------------

CHROMIUM_ENV = "CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


class PrintFailed(RuntimeError):
    """Chromium is missing or could not print a page; the message says what to do."""


def chromium_path(path: str | os.PathLike | None = None) -> Path:
    """The Chromium that prints PDFs: ``path``, else $CHROMIUM, else /usr/bin/chromium (or a
    ``chromium``/``chromium-browser`` on the PATH). Raises :class:`PrintFailed` naming where
    it looked and how to install one."""
    chosen = path or os.environ.get(CHROMIUM_ENV)
    candidates = [Path(chosen)] if chosen else [
        Path(DEFAULT_CHROMIUM),
        *(Path(p) for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p)]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = (f"${CHROMIUM_ENV}={chosen}" if chosen else
             f"{DEFAULT_CHROMIUM} (nor on the PATH)")
    raise PrintFailed(f"--format pdf prints pages with headless Chromium, and there is none at "
                      f"{where}: install it (Debian/Ubuntu: apt-get install chromium) or set "
                      f"{CHROMIUM_ENV} to its path")


def print_pdf(html: str | os.PathLike, pdf: str | os.PathLike | None = None, *,
              chromium: str | os.PathLike | None = None, timeout: float = 180) -> Path:
    """Print a report page to an A4 PDF (its print stylesheet) with headless Chromium, beside
    it by default (``central.en.html`` -> ``central.en.pdf``); returns the PDF's path.

    Raises
    ------
    PrintFailed
        when Chromium is missing (:func:`chromium_path`), fails or writes no PDF.
    """
    html = Path(html).resolve()
    pdf = Path(pdf) if pdf else html.with_suffix(".pdf")
    browser = chromium_path(chromium)
    partial = pdf.with_name(f".{pdf.name}.part")
    partial.unlink(missing_ok=True)
    # a profile of its own: parallel workers' browsers do not share (nor lock) one
    with tempfile.TemporaryDirectory(prefix="dealer-voice-chromium-") as profile:
        command = [str(browser), "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={partial}", html.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as err:
            partial.unlink(missing_ok=True)
            raise PrintFailed(f"Chromium did not print {html.name} within {timeout:.0f} s"
                              ) from err
    if done.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or [""])[-1][:300]
        raise PrintFailed(f"Chromium ({browser}) could not print {html.name} "
                          f"(exit {done.returncode}): {last}")
    os.replace(partial, pdf)
    return pdf
