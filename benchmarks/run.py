"""Run every benchmark module and print a table of ratios.

    python -m benchmarks.run [--quick] [--only NAME] [--out reports/bench.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback
from pathlib import Path

import benchmarks


def _modules(only: str | None) -> list[str]:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    return [n for n in names if only is None or only in n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke")
    parser.add_argument("--only", help="run only modules whose name contains this")
    parser.add_argument("--out", default="reports/bench.json")
    args = parser.parse_args(argv)

    rows: list[dict] = []
    failed: list[str] = []
    for name in _modules(args.only):
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            new = module.run(quick=args.quick)
        except Exception:  # a broken benchmark must not hide the others' ratios
            traceback.print_exc()
            failed.append(name)
            continue
        for row in new:
            row["module"] = name
            print(f"   {row['name']}: ratio {row['ratio']:.3f} ({row['target'] or 'no target'})",
                  flush=True)
        rows.extend(new)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"quick": args.quick, "rows": rows, "failed": failed}, indent=2))

    width = max((len(r["name"]) for r in rows), default=10)
    print()
    print(f"{'benchmark':<{width}}  {'seconds':>9}  {'baseline':<34} {'base s':>9}  "
          f"{'ratio':>7}  target   ok")
    for r in rows:
        ok = "-" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print(f"{r['name']:<{width}}  {r['seconds']:>9.3f}  {r['baseline'][:34]:<34} "
              f"{r['baseline_seconds']:>9.3f}  {r['ratio']:>7.3f}  {r['target'] or '-':<7}  {ok}")
        if r.get("note"):
            print(f"{'':<{width}}  {r['note']}")
    print(f"\nwritten {out}")
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
