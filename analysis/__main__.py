"""Command line: ``python -m analysis <command> ...``.

Commands
--------
demo-data   write the synthetic demo network (Parquet + truth.json)
report      render monthly reports (network and regions) with papermill
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo_data(args: argparse.Namespace) -> int:
    from analysis.synthetic import make_network

    net = make_network(n_dealers=args.dealers, n_regions=args.regions, months=args.months,
                       responses_per_month=args.responses_per_month, seed=args.seed)
    out = net.write(args.out)
    print(f"demo network written to {out}: {len(net.dealers)} dealers, "
          f"{len(net.responses)} responses, {len(net.repair_orders)} repair orders")
    return 0


def _report(args: argparse.Namespace) -> int:
    from analysis import reports, store

    data_dir = args.data
    month = args.month
    if month in (None, "", "latest"):
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        month = store.latest_complete_month(times)
    regions = None if args.region in (None, ["all"]) else args.region
    results = reports.run_batch(month, regions, data_dir=data_dir, out_dir=args.out,
                                timeout=args.timeout)
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok:
            print(f"ok      {r.region:<16} {r.html}")
        else:
            print(f"FAILED  {r.region:<16} {r.ename}: {r.evalue.strip().splitlines()[-1:]} "
                  f"(cell {r.cell_index}; executed notebook {r.notebook})")
    print(f"{len(results) - len(failed)} of {len(results)} reports for {month} written")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
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
    demo.set_defaults(func=_demo_data)

    rep = sub.add_parser("report", help="render monthly reports with papermill")
    rep.add_argument("--month", help="YYYY-MM; default: the latest complete month in the data")
    rep.add_argument("--region", nargs="+", default=["all"],
                     help="'all' (network + every region) or region names")
    rep.add_argument("--data", help="data directory (default $DEALER_VOICE_DATA or data/demo)")
    rep.add_argument("--out", help="output directory (default reports/YYYY-MM)")
    rep.add_argument("--timeout", type=int, default=900, help="seconds per notebook cell")
    rep.set_defaults(func=_report)
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


if __name__ == "__main__":
    sys.exit(main())
