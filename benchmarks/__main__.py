"""Run every ``benchmarks/bench_*.py`` module, print one table, write the rows as JSON.

Each module has ``run(quick: bool = False) -> list[dict]``, one row per figure:
``{"group", "name", "value", "unit", "target", "ok"}`` (``target`` and ``ok`` are ``None``
for figures without a target), and for a figure compared with a floor measured in the same
run, ``"floor"`` (the floor's figure, same unit) and ``"ratio"`` (ours over the floor); a row
without them prints with those columns empty. Usage::

    python -m benchmarks [--quick] [--output PATH] [NAME ...]

``NAME`` keeps the modules whose name (without ``bench_``) contains it. The table starts with
the machine (CPU model, cores). The rows go to ``PATH`` (default
``benchmarks/results/latest.json``, ignored by git: a run changes no tracked file; the
committed ``benchmarks/results/reference.json`` changes only when it is named with
``--output``). The exit status is 1 when a module fails or a target is missed, and the
message names each missed row.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "latest.json"
COLUMNS = ("group", "name", "value", "floor", "ratio", "unit", "target", "ok")
NUMBERS = ("value", "floor", "ratio")


def discover(names: list[str]) -> list[str]:
    """The ``bench_*`` module names of this package, sorted, filtered by ``names``."""
    found = sorted(
        info.name
        for info in pkgutil.iter_modules([str(HERE)])
        if info.name.startswith("bench_") and not info.ispkg
    )
    if names:
        found = [m for m in found if any(n in m.removeprefix("bench_") for n in names)]
    return found


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if column == "ok":
        return {True: "ok", False: "MISSED", None: ""}[value]
    if column in NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        size = abs(value)
        return (
            f"{value:,.0f}" if size >= 1_000 else f"{value:.1f}" if size >= 10 else f"{value:.3f}"
        )
    return "" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table (numbers right-aligned)."""
    cells = [list(COLUMNS)] + [[_cell(row, c) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for line in cells:
        parts = [
            text.rjust(width) if COLUMNS[i] in NUMBERS else text.ljust(width)
            for i, (text, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """The CPU model and the number of cores of this machine, with the OS and Python."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def describe(host: dict[str, Any]) -> str:
    """One line naming the machine the figures come from."""
    return f"machine: {host['cpu']}, {host['cores']} cores; {host['platform']}"


def missed(rows: list[dict[str, Any]]) -> list[str]:
    """``group: name (figure[, floor, ratio]; target)`` of each row whose target is missed."""
    out = []
    for row in rows:
        if row.get("ok") is False:
            figure = _cell(row, "value")
            if row.get("floor") is not None:
                figure += f", floor {_cell(row, 'floor')}, ratio {_cell(row, 'ratio')}"
            out.append(f"{row['group']}: {row['name']} ({figure}; target {row.get('target')})")
    return out


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    parser.add_argument("names", nargs="*", help="only the modules whose name contains these")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name in discover(args.names):
        try:
            module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
            rows.extend(module.run(quick=args.quick))
        except Exception:
            failed.append(name)
            print(f"benchmark {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
    return report(rows, failed, args.output, args.quick, time.perf_counter() - started)


def report(
    rows: list[dict[str, Any]], failed: list[str], output: Path, quick: bool, seconds: float
) -> int:
    """Print the machine and the table, write the JSON, name each failure and miss on
    stderr; returns the exit status (1 when a module failed or a target was missed)."""
    host = machine()
    print(describe(host))
    print(table(rows))
    misses = missed(rows)
    write_json(
        output,
        {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "machine": host,
            "python": host["python"],
            "platform": host["platform"],
            "seconds": round(seconds, 3),
            "failed": failed,
            "rows": rows,
        },
    )
    for name in failed:
        print(f"failed: {name}", file=sys.stderr)
    for line in misses:
        print(f"target missed: {line}", file=sys.stderr)
    if failed or misses:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
