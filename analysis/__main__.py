"""Command line: ``python -m analysis <command> ...``.

Commands
--------
demo-data   write the synthetic demo network (Parquet + truth.json)
report      render monthly reports (network and regions), or dealers' pages, with papermill
ingest      validate exports (CSV/XLSX/Parquet) into the store (Delta Lake), with a quarantine
calibrate   permutation nulls of the report's flags on a store: false stars, false zones, power
winback     the customer-care team's win-back list as an Excel file (contacts only on request)
store       the store's versions and history; migrate, optimize, vacuum
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = [
    "build_parser",
    "main",
]


def _demo_data(args: argparse.Namespace) -> int:
    from analysis.synthetic import make_network

    if args.format == "parquet":
        return _demo_store(args)
    net = make_network(n_dealers=args.dealers, n_regions=args.regions, months=args.months,
                       responses_per_month=args.responses_per_month, seed=args.seed)
    out = net.write(args.out)
    print(f"demo network written to {out}: {len(net.dealers)} dealers, "
          f"{len(net.responses)} responses, {len(net.repair_orders)} repair orders")
    return 0


def _demo_store(args: argparse.Namespace) -> int:
    import time

    from analysis.synthetic import write_responses_partitioned

    start = time.perf_counter()

    def progress(month: str) -> None:
        print(f"  {month} written ({time.perf_counter() - start:,.0f} s)", flush=True)

    try:
        written = write_responses_partitioned(
            args.out, n_dealers=args.dealers, n_regions=args.regions, months=args.months,
            responses_per_month=args.responses_per_month, seed=args.seed,
            comments=args.comments, overwrite=args.overwrite, progress=progress)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"store written to {written.directory}: {written.dealers} dealers, "
          f"{written.responses:,} responses in {len(written.months)} month partitions, "
          f"{written.invitations:,} invitation rows ({time.perf_counter() - start:,.0f} s)")
    print(f"read it with: DEALER_VOICE_DATA={written.directory}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import yaml

    from analysis import store
    from analysis.report import batch
    from analysis.report.page import PrintFailed
    from analysis.settings import settings_or

    settings_or(None)  # the run's settings, decided (and params checked) before any report
    # every table at one version for the whole batch (the latest, or --as-of); the store is
    # checked first (store.check's cheap part): a damaged one stops here, naming the file
    data_dir = store.snapshot(args.data, as_of=args.as_of)
    if data_dir.note:
        print(data_dir.note)
    month = args.month
    if month in (None, "", "latest"):
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        month = store.latest_complete_month(times)
    formats = tuple(dict.fromkeys(f.strip() for given in args.format
                                  for f in given.split(",") if f.strip()))
    unknown = sorted(set(formats) - {"html", "xlsx", "pdf"})
    if unknown:
        raise ValueError(f"--format knows html, xlsx and pdf, not {unknown}")
    parameters = {}
    if args.params:
        parameters = yaml.safe_load(Path(args.params).read_text(encoding="utf-8")) or {}
        if not isinstance(parameters, dict):
            raise ValueError(f"{args.params} must map notebook parameter names to values")
    regions = None if args.region in (None, ["all"]) else args.region
    try:
        results = batch.run_batch(month, regions, data_dir=data_dir, out_dir=args.out,
                                  timeout=args.timeout, workers=args.workers, formats=formats,
                                  parameters=parameters, engine=args.engine,
                                  languages=args.language, dealers=args.dealer or args.dealers)
    except (batch.NoDataForMonth, batch.UnknownRegion, batch.UnknownDealer,
            PrintFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok:
            made = ", ".join(str(p) for p in (r.html, r.excel, r.pdf) if p)
            print(f"ok      {r.scope:<16} {r.language:<3}{r.seconds:6.1f}s  {made}")
        else:
            last = (r.evalue.strip().splitlines() or [""])[-1]
            cell = "" if r.cell_index is None else f"cell {r.cell_index}; "
            if r.log is None:  # the page rendered, printing it failed
                print(f"FAILED  {r.scope:<16} {r.language:<3}{r.ename}: {last} (page: {r.html})")
                continue
            print(f"FAILED  {r.scope:<16} {r.language:<3}{r.ename}: {last} ({cell}log {r.log}"
                  + (f"; the other sections rendered in {r.html}" if r.html else
                     "; no page delivered") + ")")
    index = batch.output_dir(month, args.out) / "index.html"
    kind = "dealers' pages" if args.dealer or args.dealers else "reports"
    print(f"{len(results) - len(failed)} of {len(results)} {kind} for {month} written; "
          f"every page and workbook of the month: {index}")
    return 1 if failed else 0


def _ingest(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis import demo_exports, ingest, store
    from analysis.config import DATA_ROOT, ParamsError

    if bool(args.files) == bool(args.demo):
        print("error: name export files (with --table) or --demo DIR"
              + (", not both" if args.files else ""), file=sys.stderr)
        return 2
    if args.files and not args.table and not args.check:
        # survey answers are what a team sends first; other tables are named
        print("--table responses assumed (name another table with --table: dealers, cases, "
              "...)")
        args.table = "responses"
    if args.demo and args.check:
        print("error: --check reads export files, not --demo", file=sys.stderr)
        return 2
    try:
        now = pd.Timestamp(args.now) if args.now else None
    except ValueError:
        print(f"error: --now {args.now!r} is not a date-time; write e.g. '2026-11-15 12:00'",
              file=sys.stderr)
        return 2
    options = dict(sheet=args.sheet, now=now, encoding=args.encoding)
    if args.files:
        try:
            options.update(columns=ingest.load_column_map(args.columns),
                           touchpoint=args.touchpoint, scales=_scale_args(args.scale),
                           date_format=args.date_format)
        except ingest.IngestError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.check:
        return _check(args, options)
    root = args.data
    failed = 0
    if args.demo:
        try:
            records = demo_exports.ingest_demo(args.demo, data_root=root, via_exports=args.via_exports,
                                         now=now)
        except (store.StoreDamaged, store.StoreReadOnly) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except PermissionError as err:
            print(f"error: {store.read_only_message(root or DATA_ROOT, err)}", file=sys.stderr)
            return 2
        except (ingest.IngestError, ParamsError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    else:
        records = []
        for path in args.files:
            try:
                records.append(ingest.ingest_file(path, table=args.table, data_root=root,
                                                  **options))
            except (store.StoreDamaged, store.StoreReadOnly, PermissionError) as err:
                # the store, not the file: no other file of the command can go in either
                text = (store.read_only_message(root or DATA_ROOT, err)
                        if isinstance(err, PermissionError) else str(err))
                print(f"error: {text}\nnothing was ingested"
                      + (f" ({len(records)} file(s) before it were)" if records else ""),
                      file=sys.stderr)
                return 2
            except (ingest.IngestError, ParamsError, OSError) as err:
                print(f"error: {err}", file=sys.stderr)
                failed += 1
                continue
            except MemoryError:  # one file too big for this machine: the others are read
                print(f"error: {path}: not enough memory to read it; save it as CSV or split "
                      "it (xlsx_memory_mb, params/columns.yaml, is the budget of a workbook)",
                      file=sys.stderr)
                failed += 1
                continue
            print(records[-1].summary())
    if args.demo:
        for record in records:
            print(record.summary())
    read = sum(r.result.n_read for r in records)
    quarantined = sum(len(r.result.quarantined) for r in records)
    processed = (root or DATA_ROOT) / "processed"
    print(f"{len(records)} file(s) ingested into {processed}: {read} rows read, "
          f"{read - quarantined} accepted, {quarantined} quarantined"
          + (f"; {failed} file(s) could not be read" if failed else ""))
    if records and root is None:
        print("next: make report (every report of the latest complete month, both languages)")
    elif records:
        print(f"next: .venv/bin/python -m analysis report --data {processed} --language ru en")
    return 1 if failed else 0


# the dry run's words for analysis.coverage.assess (the report's own are params/labels.yaml)
_SECTION_NAMES = {
    "headline": "headline", "trend": "trend", "touchpoints": "touchpoints",
    "response_rates": "response rates", "regions": "regions", "dealers": "dealers",
    "loyalty_drivers": "drivers", "importance_performance": "importance and performance",
    "root_causes": "root causes", "growth_zones": "growth zones", "css_index": "CSS index",
    "red_flags": "red flags", "golden_stars": "golden stars", "incidents": "incidents",
    "repeat_repairs": "repeat repairs", "actions": "actions", "customers": "customers",
    "survey_funnel": "survey funnel", "cities": "cities"}
_COVERAGE_WORDS = {
    "no_answers": "no answers in the month",
    "no_previous_month": "no answers in the month before (nothing to compare with)",
    "no_invitations": "no invitations (ingest --table invitations)",
    "one_region": "{found} region ({needed} needed: a dealers export with regions)",
    "one_dealer": "{found} dealer ({needed} needed)",
    "no_ratings": "no rating columns",
    "few_ratings": "{found} answers with a driver rating ({needed} needed)",
    "no_comments": "no comments below 9",
    "few_comments": "{found} distinct comments below 9 ({needed} needed)",
    "no_css": "no CSS attribute columns",
    "no_cases": "no cases (ingest --table cases)",
    "no_praise": "no comments of promoters",
    "no_incidents": "no incidents (ingest --table incidents)",
    "no_repair_orders": "no repair orders (ingest --table repair_orders)",
    "no_actions": "no action plans (ingest --table actions)",
    "no_contacts": "no survey funnel (ingest --table contacts)",
    "no_city": "no dealer cities (a dealers export with a city column)",
}


def _coverage_lines(coverage) -> list[str]:
    import pandas as pd

    lines = []
    for row in coverage.itertuples():
        name = _SECTION_NAMES.get(row.section, row.section.replace("_", " "))
        if row.ok:
            lines.append(f"{name}: ok")
            continue
        found = None if pd.isna(row.found) else int(row.found)
        needed = None if pd.isna(row.needed) else int(row.needed)
        words = _COVERAGE_WORDS.get(row.reason, row.reason.replace("_", " "))
        lines.append(f"{name}: " + words.format(found=found, needed=needed))
    return lines


def _scale_args(values: list[str] | None) -> dict[str, str]:
    """``--scale booking=1-5 --scale 1-7`` -> {"booking": "1-5", "*": "1-7"}."""
    out = {}
    for value in values or ():
        driver, _, scale = value.rpartition("=")
        out[driver.strip() or "*"] = scale.strip()
    return out


def _check(args: argparse.Namespace, options: dict) -> int:
    """The dry run: what an ingest of the files would take, accept and quarantine, and which
    report sections the data would fill; nothing is written."""
    import pandas as pd

    from analysis import coverage, ingest, store
    from analysis.config import DATA_ROOT, ParamsError
    from analysis.table_specs import TABLES

    table = args.table or "responses"
    root = args.data or DATA_ROOT
    processed = root / "processed"
    results, failed = [], 0
    for path in args.files:
        try:
            r = ingest.check_export(path, table=table, data_root=root, **options)
        except (ingest.IngestError, ParamsError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        results.append(r)
        assumed = "" if args.table else "; --table responses assumed"
        print(f"{r.source.name} ({table}{r.read_as()}{assumed}): checked, nothing written")
        print("  columns:")
        for line in r.mapping(everything=True):
            print(f"    {line}")
        if r.ignored_columns:
            print(f"  ignored columns: {', '.join(r.ignored_columns)}")
        left = r.left_empty()
        if left:
            print(f"  not in this export (left empty): {', '.join(left)}")
        print(f"  rows read {r.n_read}: would accept {len(r.accepted)}, quarantine "
              f"{len(r.quarantined)}")
        for row in r.reasons.head(5).itertuples():
            print(f"    {row.rows:>7}  {row.column}: {row.reason}")
        if len(r.reasons) > 5:
            print(f"    ... and {len(r.reasons) - 5} more reasons")
        if r.dealers is not None:
            print(f"  {r.dealers_line()}")
        for note in r.notes:
            print(f"  note: {note}")
    if not results:
        return 1
    tables: dict[str, pd.DataFrame | None] = {}
    for t in TABLES:
        if t != table and store.available(t, data_dir=processed):
            tables[t] = store.load(t, data_dir=processed)
    tables[table] = pd.concat([r.accepted for r in results], ignore_index=True)
    derived = [r.dealers for r in results if r.dealers is not None]
    if "dealers" not in tables and derived:
        tables["dealers"] = pd.concat(derived).drop_duplicates("dealer_id")
    responses = tables.get("responses")
    if responses is None or responses.empty:
        print("report sections: none yet; they fill once answers are ingested "
              "(--table responses)")
        return 1 if failed else 0
    # the month a report would show: the latest that is over
    month = store.latest_complete_month(responses[["responded_at"]])
    verdicts = coverage.assess(tables, month=month)
    print(f"report sections (month {month}):")
    for line in _coverage_lines(verdicts):
        print(f"  {line}")
    return 1 if failed else 0


def _calibrate(args: argparse.Namespace) -> int:
    from analysis import calibration, store

    dealers = store.load("dealers", data_dir=args.data)
    responses = store.with_region(store.load("responses", data_dir=args.data), dealers)
    month = args.month
    if month in (None, "", "latest"):
        month = store.latest_complete_month(responses[["responded_at"]])
    result = calibration.calibrate(
        responses, month=month, permutations=args.permutations,
        growth_permutations=args.growth_permutations, growth_n_boot=args.n_boot,
        windows=tuple(args.windows), random_state=args.seed)
    print(result.summary())
    return 0


def _win_back(args: argparse.Namespace) -> int:
    from analysis.report.winback import WinBackError, export_win_back

    regions = None if args.region in (None, ["all"]) else args.region
    try:
        done = export_win_back(args.out, month=args.month, regions=regions,
                               data_dir=args.data, include_contacts=args.include_contacts,
                               language=args.language)
    except WinBackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(done.summary())
    return 0


def _store_dir(data: Path | None) -> Path:
    """The store directory: ``--data`` as reports take it, or an ingest's ``--data`` root
    (whose ``processed/`` holds the tables)."""
    from analysis import store
    from analysis.config import data_dir

    directory = data_dir(data)
    nested = directory / "processed"
    if nested.is_dir() and not store.delta_tables(directory):
        return nested
    return directory


def _store(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis import store

    directory = _store_dir(args.data)
    if args.action == "history":
        table = args.tables[0] if args.tables else None
        frame = store.history(table, data_dir=directory)
        if args.limit:
            frame = frame.head(args.limit)
        if frame.empty:
            print(f"no commits in {directory} (no Delta table yet, or an older layout: "
                  "`python -m analysis store migrate` converts it)")
            return 0
        # to the millisecond, as the log holds it: `--as-of` given this time reads that commit
        frame = frame.assign(committed_at=frame["committed_at"].dt.strftime(
            "%Y-%m-%d %H:%M:%S.%f").str[:-3])
        with pd.option_context("display.width", 200, "display.max_rows", None,
                               "display.max_colwidth", 40):
            print(frame.to_string(index=False, na_rep=""))
        # the history of a damaged table reads as if nothing were wrong: say it is not
        damaged = [p for r in store.check(directory, tables=[table] if table else None)
                   for p in r.problems]
        if damaged:
            print("the store is damaged; what the history shows may not be what is "
                  "stored:\n" + "\n".join(f"  {p}" for p in damaged), file=sys.stderr)
            return 1
    elif args.action == "versions":
        snap = store.snapshot(directory, as_of=args.as_of)
        print(snap.describe())
    elif args.action == "check":
        if args.accept:
            if len(args.tables) != 1:
                print("error: --accept takes one table: store check TABLE --accept",
                      file=sys.stderr)
                return 2
            result = store.accept(args.tables[0], data_dir=directory)
            print(f"{result.table}: the log as it is now (version {result.version}) is the "
                  "one to expect from here on")
            results = [result]
        else:
            results = store.check(directory, tables=args.tables or None)
        for result in results:
            print(result.summary())
        damaged = [r.table for r in results if not r.ok]
        if not results:
            print(f"no tables in {directory}")
        elif damaged:
            print(f"{len(damaged)} of {len(results)} table(s) damaged in {directory}: "
                  f"{', '.join(damaged)}; nothing reads or writes them until they are fixed",
                  file=sys.stderr)
            return 1
    elif args.action == "migrate":
        done = store.migrate(directory, tables=args.tables or None)
        for r in done:
            print(f"{r.table}: {r.rows:,} rows from the older {r.source} layout into a Delta "
                  f"table" + (f"; {r.duplicates_dropped:,} keys stored twice, the row "
                              "written last kept" if r.duplicates_dropped else ""))
        print(f"{len(done)} table(s) migrated in {directory}" if done else
              f"nothing to migrate in {directory}: every table is a Delta table already")
    elif args.action == "optimize":
        for table, m in store.optimize(directory, tables=args.tables or None).items():
            print(f"{table}: {m.get('numFilesRemoved', 0)} files compacted into "
                  f"{m.get('numFilesAdded', 0)}")
    elif args.action == "vacuum":
        deleted = store.vacuum(directory, retention_days=args.retention_days,
                               dry_run=args.dry_run, tables=args.tables or None)
        verb = "would delete" if args.dry_run else "deleted"
        for table, files in deleted.items():
            print(f"{table}: {verb} {len(files)} file(s) no kept version reads")
    return 0


def _add_store_parser(sub) -> None:
    st = sub.add_parser(
        "store", help="the store's versions and history; check, migrate, optimize, vacuum",
        description="Every store table is a Delta Lake table; every ingest is one commit, a "
        "version of its table. history: the commits (file ingested, rows read, quarantined, "
        "added, replaced); versions: what a report would read now (or --as-of); check: every "
        "file of the current versions against the log (there, of its size and rows, readable) "
        "and the log itself (no entry missing, unreadable or deleted), with what to do about "
        "each problem (exit 1 when there is one; --accept TABLE takes the log as it is now "
        "after a deliberate roll-back); migrate: convert tables of the older layout in place "
        "(a backup is kept until it succeeds); optimize: compact small files; vacuum: delete "
        "files no version within keep_versions_days (params/store.yaml) reads.")
    st.add_argument("action", choices=("history", "versions", "check", "migrate", "optimize",
                                       "vacuum"))
    st.add_argument("tables", nargs="*", help="tables (default: all); history takes one")
    st.add_argument("--accept", action="store_true",
                    help="check: take the table's log as it is now as the one to expect "
                    "(after deleting an unreadable newest entry, or restoring an older backup)")
    st.add_argument("--data", type=Path, help="the store directory (default $DEALER_VOICE_DATA "
                    "or data/processed), or an ingest's --data directory")
    st.add_argument("--limit", type=int, help="history: the newest N commits")
    st.add_argument("--as-of", help="versions: as of VERSION, TABLE=VERSION,... or a time")
    st.add_argument("--retention-days", type=int,
                    help="vacuum: keep files this many days (default params/store.yaml)")
    st.add_argument("--dry-run", action="store_true", help="vacuum: only list the files")
    st.set_defaults(func=_store)


def build_parser() -> argparse.ArgumentParser:
    from analysis.engine import add_engine_argument
    from analysis.table_specs import TABLES

    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write the synthetic demo network")
    demo.add_argument("--out", type=Path, required=True, help="directory to write into")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--dealers", type=int, default=60)
    demo.add_argument("--regions", type=int, default=6)
    demo.add_argument("--months", type=int, default=12)
    demo.add_argument("--responses-per-month", type=int, default=5000)
    demo.add_argument("--format", choices=("network", "parquet"), default="network",
                      help="network: every table and truth.json, one Parquet file each, made "
                      "in memory; parquet: a month-partitioned store (dealers, invitations, "
                      "responses) streamed month by month, for hundreds of millions of "
                      "answers (comments from a pool, no contacts, cases or repair orders)")
    demo.add_argument("--comments", choices=("pool", "none"), default="pool",
                      help="with --format parquet: comments picked from a pool, or none")
    demo.add_argument("--overwrite", action="store_true",
                      help="with --format parquet: replace the tables already in --out")
    demo.set_defaults(func=_demo_data)

    rep = sub.add_parser("report", help="render monthly reports with papermill")
    rep.add_argument("--month", help="YYYY-MM; default: the latest complete month in the data")
    rep.add_argument("--region", nargs="+", default=["all"],
                     help="'all' (network + every region), 'network', or regions by name or "
                     "file name, ignoring case and punctuation (volga, \"north west\")")
    rep.add_argument("--data", help="data directory (default $DEALER_VOICE_DATA or data/demo)")
    rep.add_argument("--out", help="output directory (default reports/YYYY-MM): "
                     "<region>.<language>.html|.xlsx, index.html, logs/ of failed reports")
    rep.add_argument("--timeout", type=int, default=900, help="seconds per notebook cell")
    rep.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                     help="reports rendered in parallel worker processes")
    rep.add_argument("--format", nargs="+", default=["html,xlsx"],
                     help="what to write: html, xlsx, pdf (each page printed to "
                     "<region>.<language>.pdf by headless Chromium: $CHROMIUM or "
                     "/usr/bin/chromium), e.g. --format html pdf or --format html,xlsx,pdf "
                     "(default: html xlsx)")
    rep.add_argument("--params", help="YAML file of notebook parameters (e.g. trend_months)")
    rep.add_argument("--language", nargs="+", choices=("en", "ru"),
                     help="report language(s), e.g. --language ru (only *.ru.* files) or "
                     "--language en ru (default: params/report.yaml)")
    add_engine_argument(rep)
    pages = rep.add_mutually_exclusive_group()
    pages.add_argument("--dealers", action="store_true",
                       help="instead of the reports, one page per dealer of the regions of "
                       "--region (all: every dealer): reports/YYYY-MM/dealers/<code>.<language>"
                       ".html|.xlsx, listed in the month's index.html")
    pages.add_argument("--dealer", nargs="+", metavar="CODE",
                       help="instead of the reports, the pages of these dealers (codes as in "
                       "the dealers table, e.g. --dealer D001 D007)")
    rep.add_argument("--as-of", metavar="VERSION|TIMESTAMP",
                     help="read the store as it was: the versions a report's appendix lists "
                     "(dealers=3,responses=12,...), a version of responses, or a date-time")
    rep.set_defaults(func=_report)

    import textwrap

    ing = sub.add_parser(
        "ingest", help="validate exports into the Parquet store (bad rows to quarantine)",
        description=textwrap.fill(
            "Read survey/CRM exports (CSV in UTF-8 or Windows-1251 with ; , or tab, .xlsx, "
            "Parquet; Russian or English headers, survey tools' two or three header rows), "
            "append the valid rows to DIR/processed/<table>/ (the last ingest of a key wins, "
            "so re-ingesting changes nothing) and write the others with their line and reason "
            "to DIR/quarantine/<file>.csv. Blank lines and title rows above the header are "
            "skipped and not counted; columns the table does not know are ignored (and "
            "listed). A responses export needs only a date, a dealer (code or name) and the "
            "0-10 score: what it lacks is derived or defaulted, and the ingest says so. Ingest "
            "dealers first: other tables are checked against them (a responses export into a "
            "store without dealers brings its own, which a later dealers export completes). "
            "Try a file first with --check.", 88)
        + "\n\nA --columns map (YAML) for headers the aliases do not know:\n"
        "  responses: {Q1: nps, Q2_1: booking, DealerCode: dealer_id}\n"
        "  scales: {booking: 1-5}                           # optional\n"
        "  formats: {responded_at: \"%m/%d/%Y %I:%M %p\"}     # optional",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ing.add_argument("files", nargs="*", type=Path, help="export files of one table")
    ing.add_argument("--table", choices=TABLES,
                     help="what the files hold (with --check: default responses)")
    ing.add_argument("--check", action="store_true",
                     help="dry run: read and validate the files, write nothing; print the "
                     "column mapping, the rows that would be accepted and quarantined, and "
                     "which report sections the data fills (with the store of --data, if any)")
    ing.add_argument("--columns", metavar="MAP.yaml",
                     help="a column map for headers the aliases do not know: per table, "
                     "source header: column (e.g. 'responses: {Q1: nps, DealerCode: "
                     "dealer_id}'), plus optional 'scales: {booking: 1-5}' and 'formats: "
                     "{responded_at: \"%%m/%%d/%%Y\"}'")
    ing.add_argument("--touchpoint", metavar="CODE|WORD",
                     help="responses without a touchpoint column: the touchpoint of every "
                     "row, e.g. service or Продажа (default: params/columns.yaml defaults)")
    ing.add_argument("--scale", action="append", metavar="[DRIVER=]LOW-HIGH",
                     help="the scale driver ratings were given on, e.g. --scale booking=1-5, "
                     "or --scale 1-5 for every driver (default: detected from the values: "
                     "the smallest of params/columns.yaml rating_scales that holds them)")
    ing.add_argument("--date-format", metavar="FORMAT",
                     help="the dates' strptime format, e.g. '%%m/%%d/%%Y %%H:%%M', when the "
                     "values leave it open (every day 12 or less: day/month or month/day?)")
    ing.add_argument("--data", type=Path, help="data directory (default data/): gets processed/ "
                     "and quarantine/")
    ing.add_argument("--sheet", help="workbook sheet to read (default: the first)")
    ing.add_argument("--encoding", help="text encoding, when detection gets it wrong")
    ing.add_argument("--now", help="timestamps after this are quarantined as future "
                     "(default: the clock, in the network's time zone)")
    ing.add_argument("--demo", type=Path, metavar="DEMO_DIR",
                     help="ingest every table of a demo network directory, dealers first")
    ing.add_argument("--via-exports", action="store_true",
                     help="with --demo: write the tables as messy CSV/XLSX exports under "
                     "DIR/raw/demo-exports/ first and ingest those")
    ing.set_defaults(func=_ingest)

    cal = sub.add_parser(
        "calibrate", help="permutation nulls of the report's flags (false stars and zones)",
        description="Shuffle the answers of the store across dealers, months and touchpoints "
        "and count the flags the report month's tables still raise (false stars per report), "
        "the growth zones still found (per run, on each window) and the share of planted "
        "+10-point changes that are flagged (power). Defaults: calibration in "
        "params/flags.yaml.")
    cal.add_argument("--data", help="data directory (default $DEALER_VOICE_DATA or the demo)")
    cal.add_argument("--month", help="YYYY-MM; default: the latest complete month")
    cal.add_argument("--permutations", type=int, help="shuffles for the stars and the power")
    cal.add_argument("--growth-permutations", type=int, help="shuffles per growth window")
    cal.add_argument("--n-boot", type=int, help="bootstrap draws of each growth-zone run")
    cal.add_argument("--windows", type=int, nargs="+", default=[12, 1],
                     help="growth-zone windows in months")
    cal.add_argument("--seed", type=int, default=0)
    cal.set_defaults(func=_calibrate)
    _add_store_parser(sub)

    wb = sub.add_parser(
        "winback", help="the customer-care team's win-back list as an Excel file",
        description="Recent detractors who have not come back and lapsed customers (no "
        "visit for lapsed_after_months, params/loop.yaml) per dealer at the end of --month, "
        "as a workbook for the customer-care team. VINs, phones and e-mails are personal "
        "data: they are in the file only with --include-contacts; without it the file has "
        "none. The monthly report never shows the list, only how many there are.")
    wb.add_argument("--month", required=True, help="YYYY-MM: the list as of this month's end")
    wb.add_argument("--region", nargs="+", default=["all"],
                    help="'all' (default) or region names")
    wb.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    wb.add_argument("--include-contacts", action="store_true",
                    help="add VIN, phone and e-mail (the team's own export; keep it where "
                    "only the team can read it)")
    wb.add_argument("--data", help="data directory (default $DEALER_VOICE_DATA or data/demo)")
    wb.add_argument("--language", choices=("en", "ru"),
                    help="headers' language (default: params/labels.yaml)")
    wb.set_defaults(func=_win_back)
    return parser



def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from analysis.config import ParamsError
    from analysis.store import StoreError

    try:
        return args.func(args)
    except (StoreError, ParamsError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        import errno

        if not isinstance(err, PermissionError) and err.errno != errno.EROFS:
            raise
        # a folder this user may not write (or read), whatever the command: the file, not a
        # traceback
        print(f"error: {err.filename or ''}: {err.strerror} (read-only or not yours: ask for "
              "access, or work on a copy in a folder you may write)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
