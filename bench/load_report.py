"""Summarise Locust CSV output (``--csv PREFIX``) of the load test into one table.

    python bench/load_report.py runs/load/u10 runs/load/u20 runs/load/u50 [--json load.json]

Per run: requests, OCR successes, deliberate sheds (429/503 with Retry-After), real failures,
the error rate (real failures / all requests — the figure that must be 0), the shed rate, OCR
latency p50/p95 (successful OCR responses only; sheds are answered in milliseconds and would
flatter the percentiles), and throughput.  Exit status 1 if any real failure happened.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, write_json

OCR_NAME = "/api/v1/ocr"
SHED_NAME = "/api/v1/ocr [shed]"


def _num(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "", "N/A") else float("nan")
    except ValueError:
        return float("nan")


def read_run(prefix: str) -> dict[str, Any]:
    """Figures of one Locust run from ``PREFIX_stats.csv`` and ``PREFIX_failures.csv``."""
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        stats = {row["Name"]: row for row in csv.DictReader(fh)}
    failures: list[dict[str, str]] = []
    fail_path = Path(f"{prefix}_failures.csv")
    if fail_path.exists():
        with open(fail_path, newline="", encoding="utf-8") as fh:
            failures = list(csv.DictReader(fh))
    total = stats.get("Aggregated", {})
    ocr = stats.get(OCR_NAME, {})
    shed = stats.get(SHED_NAME, {})
    requests = int(_num(total.get("Request Count")) or 0)
    failed = int(_num(total.get("Failure Count")) or 0)
    shed_n = int(_num(shed.get("Request Count")) or 0) - int(_num(shed.get("Failure Count")) or 0) if shed else 0
    ocr_ok = int(_num(ocr.get("Request Count")) or 0) - int(_num(ocr.get("Failure Count")) or 0) if ocr else 0
    users = re.search(r"u(\d+)$", prefix)
    return {
        "run": Path(prefix).name,
        "users": int(users.group(1)) if users else None,
        "requests": requests,
        "ok": ocr_ok,
        "shed": shed_n,
        "failed": failed,
        "error_rate": failed / requests if requests else float("nan"),
        "shed_rate": shed_n / requests if requests else float("nan"),
        # Locust's per-name percentiles include that name's failures; with zero failures (the
        # requirement) they are exactly the successful OCR responses.
        "p50_ms": _num(ocr.get("50%")),
        "p95_ms": _num(ocr.get("95%")),
        "ok_per_s": _num(ocr.get("Requests/s")) - _num(ocr.get("Failures/s")) if ocr else float("nan"),
        "req_per_s": _num(total.get("Requests/s")),
        "failures": [{"name": f.get("Name"), "error": f.get("Error"), "count": f.get("Occurrences")} for f in failures],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefixes", nargs="+", help="the --csv prefixes given to locust")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    runs = [read_run(p) for p in args.prefixes]
    print(format_table(
        [[r["users"], r["requests"], r["ok"], r["shed"], r["failed"], r["error_rate"], r["shed_rate"],
          r["p50_ms"], r["p95_ms"], r["ok_per_s"]] for r in runs],
        ["users", "requests", "ok", "shed 429/503", "failed", "error rate", "shed rate", "OCR p50 ms", "OCR p95 ms",
         "ok/s"],
    ))  # fmt: skip
    for r in runs:
        for f in r["failures"]:
            print(f"  users={r['users']}: {f['count']} x {f['name']}: {f['error']}")
    if args.json:
        write_json(args.json, {"runs": runs})
    return 1 if any(r["failed"] for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
