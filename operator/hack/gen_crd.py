#!/usr/bin/env python3
"""Write (or check) crds/ocrservices.ocr-crnn.io.yaml from the operator's pydantic models.

    python operator/hack/gen_crd.py          # rewrite the CRD after changing spec.py/status.py
    python operator/hack/gen_crd.py --check  # exit 1 if the file is stale (CI, tests)

Why a script and not a hand-written YAML: the CRD must agree field by field with the server's config
schema; generating it from the same models makes disagreement impossible instead of merely tested.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

from ocr_operator.crd import CRD_PATH, render_crd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail instead of writing when the file differs")
    args = parser.parse_args(argv)
    path = ROOT / CRD_PATH
    wanted = render_crd()
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == wanted:
        print(f"{CRD_PATH} is up to date")
        return 0
    if args.check:
        sys.stdout.writelines(
            difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), CRD_PATH, "generated")
        )
        print(f"\n{CRD_PATH} is stale: run python operator/hack/gen_crd.py", file=sys.stderr)
        return 1
    path.write_text(wanted, encoding="utf-8")
    print(f"wrote {CRD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
