"""The report layer: everything about presenting the statistics.

- :mod:`~analysis.report.data`: what one report reads (:class:`ReportData`);
- :mod:`~analysis.report.format` and :mod:`~analysis.report.catalogue`: the one formatter and
  the label catalogue (params/labels.yaml) that every table, chart and note uses;
- :mod:`~analysis.report.kinds`: what each column of a table holds (an NPS, a share, an
  interval's ends, a note), read by the page and the workbook alike;
- :mod:`~analysis.report.tables` and :mod:`~analysis.report.charts`: every table and chart;
- :mod:`~analysis.report.book` and :mod:`~analysis.report.excel`: the HTML a notebook shows
  (escaped, masked) and the same tables as an Excel workbook;
- :mod:`~analysis.report.sections`: the report's sections, which only call the above;
- :mod:`~analysis.report.page`: the page around them (contents, numbered sections, glossary,
  print layout) and its PDF;
- :mod:`~analysis.report.batch`: the papermill batch that renders the report notebooks (the
  network's and regions' reports, or a page per dealer);
- :mod:`~analysis.report.explore`: the explore notebooks' own tables, shown as the report's.

Nothing outside this package and the notebooks imports it (docs/architecture.md).
"""

__all__ = ["batch", "book", "catalogue", "charts", "data", "excel", "explore", "format", "kinds",
           "page", "rules", "safe", "sections", "shared", "style", "tables", "weekly", "winback"]
