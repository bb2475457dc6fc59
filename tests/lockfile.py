"""Read uv.lock: which packages an environment with given extras gets, and how much it downloads.

Why not ask uv: the tests check properties of the lock (no torch for serving, one OpenCV per
environment) on any machine, uv installed or not, and the same walk gives the download sizes the
README quotes.  ``python -m tests.lockfile server operator`` prints the wheels for those extras.
Markers are evaluated for the running interpreter and platform (the lock is universal).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"
PROJECT = "ocr-crnn"


@dataclass(frozen=True)
class Locked:
    """One package the environment would hold, with the wheel uv would pick here (``None``: sdist or editable)."""

    name: str
    version: str
    wheel: str | None
    size: int


def _load(lock: Path) -> dict[str, list[dict[str, Any]]]:
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for pkg in data["package"]:
        by_name.setdefault(canonicalize_name(pkg["name"]), []).append(pkg)
    return by_name


def _applies(dep: dict[str, Any], extras: Iterable[str]) -> bool:
    marker = dep.get("marker")
    if not marker:
        return True
    m = Marker(marker)
    return any(m.evaluate({"extra": e}) for e in (*extras, "")) if "extra" in marker else m.evaluate()


def _pick(candidates: list[dict[str, Any]], dep: dict[str, Any]) -> dict[str, Any]:
    if len(candidates) == 1 or "version" not in dep:
        return candidates[0]
    return next(c for c in candidates if c["version"] == dep["version"])


def _wheel(pkg: dict[str, Any]) -> tuple[str | None, int]:
    """The best wheel for this interpreter, in the order pip and uv prefer tags."""
    wheels = {}
    for w in pkg.get("wheels", []):
        filename = w["url"].rsplit("/", 1)[-1]
        for tag in parse_wheel_filename(filename)[3]:
            wheels.setdefault(tag, (filename, int(w.get("size", 0))))
    for tag in sys_tags():
        if tag in wheels:
            return wheels[tag]
    sdist = pkg.get("sdist")
    return None, int(sdist.get("size", 0)) if sdist else 0


def closure(extras: Iterable[str], lock: Path = LOCK) -> dict[str, Locked]:
    """Every package ``uv sync --extra …`` installs on this platform, by canonical name."""
    extras = tuple(extras)
    packages = _load(lock)
    root = packages[PROJECT][0]
    todo: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    deps = list(root.get("dependencies", []))
    for extra in extras:
        deps += root.get("optional-dependencies", {}).get(extra, [])
    todo.append(({"name": PROJECT, "dependencies": deps, "version": root.get("version", "")}, ()))
    seen: dict[str, Locked] = {}
    expanded: set[tuple[str, str]] = set()
    while todo:
        pkg, pkg_extras = todo.pop()
        for dep in pkg.get("dependencies", []):
            if not _applies(dep, pkg_extras):
                continue
            name = canonicalize_name(dep["name"])
            target = _pick(packages[name], dep)
            wanted = tuple(dep.get("extra", ()))
            if name not in seen:
                wheel, size = _wheel(target)
                seen[name] = Locked(name, target["version"], wheel, size)
            for key in ("", *wanted):
                if (name, key) in expanded:
                    continue
                expanded.add((name, key))
                if key:
                    todo.append(({"dependencies": target.get("optional-dependencies", {}).get(key, [])}, (key,)))
                else:
                    todo.append((target, ()))
    seen.pop(PROJECT, None)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", help="extras of the environment, e.g. server operator train dev")
    parser.add_argument("--top", type=int, default=10, help="list the largest N wheels")
    args = parser.parse_args(argv)
    env = closure(args.extras)
    total = sum(p.size for p in env.values())
    cuda = sum(p.size for p in env.values() if p.name.startswith(("nvidia-", "cuda-", "triton")))
    print(f"extras {' '.join(args.extras) or '(none)'}: {len(env)} packages, {total / 1e6:,.0f} MB of wheels")
    print(f"  of which CUDA (nvidia-*, cuda-*, triton): {cuda / 1e6:,.0f} MB")
    for p in sorted(env.values(), key=lambda p: -p.size)[: args.top]:
        print(f"  {p.size / 1e6:9,.1f} MB  {p.name} {p.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
