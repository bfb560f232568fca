"""A small benchmark harness: every case times our code beside a baseline in the same run.

A case is a function registered with :func:`benchmark`; it receives the number of repeats and
returns a :class:`Result` with the seconds of each run. The table compares medians. Cases
live in ``benchmarks/bench_*.py`` and are discovered by :func:`discover`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO


class NotAvailable(Exception):
    """The code a case measures does not exist yet; the table says so instead of failing."""


@dataclass
class Result:
    """Seconds per run for our code and the baseline; ``error`` when ours could not run."""

    ours: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    note: str = ""
    error: str = ""
    unit: str = "s"  # "s" for durations; anything else (e.g. "MB") is printed as is


@dataclass
class Case:
    name: str
    run: Callable[[int], Result]
    target: str = ""  # e.g. "≤ 1.5×": ratio ours/baseline the case should stay within
    clock: str = "in-process"  # where its clock starts and stops: a key of CLOCKS


@dataclass
class Row:
    name: str
    target: str
    status: str  # "ok", "failed" or "not available"
    clock: str = "in-process"
    unit: str = "s"
    ours: float | None = None
    baseline: float | None = None
    ratio: float | None = None
    passed: bool | None = None
    note: str = ""
    ours_runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)


REGISTRY: dict[str, Case] = {}
CLOCKS = {
    "screen": "from spawning the process to the content's pixels on an Xvfb screen (what a user waits for)",
    "process": "from spawning the process to its answer (a printed marker, or its exit)",
    "in-process": "inside a warm process: Python, Qt and the imports are already paid for",
}


def benchmark(name: str, target: str = "", clock: str = "in-process"
              ) -> Callable[[Callable[[int], Result]], Callable[[int], Result]]:
    """Register ``func(repeats) -> Result`` as the case ``name``; ``clock`` says what it times
    (a key of :data:`CLOCKS`)."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; one of {', '.join(CLOCKS)}")

    def register(func: Callable[[int], Result]) -> Callable[[int], Result]:
        REGISTRY[name] = Case(name, func, target, clock)
        return func
    return register


def interleave(ours: Callable[[], float], baseline: Callable[[], float], repeats: int,
               warmup: int = 1) -> tuple[list[float], list[float]]:
    """Call both ``repeats`` times, alternating, after ``warmup`` unmeasured rounds.

    Each callable returns the seconds it measured itself. Alternating spreads drift (a
    warming disk cache, a busy neighbour) over both columns instead of one.
    """
    for _ in range(warmup):
        ours()
        baseline()
    ours_runs, baseline_runs = [], []
    for _ in range(repeats):
        ours_runs.append(ours())
        baseline_runs.append(baseline())
    return ours_runs, baseline_runs


def timed(func: Callable[[], object]) -> Callable[[], float]:
    """Wrap ``func`` so calling it returns its wall time in seconds."""
    def run() -> float:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start
    return run


def discover() -> None:
    """Import every ``benchmarks/bench_*.py`` so its cases register themselves."""
    package = Path(__file__).resolve().parent
    for module in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if module.name.startswith("bench_"):
            importlib.import_module(f"{__package__}.{module.name}")


def _check(ratio: float, target: str, ours: float | None = None) -> bool | None:
    """Whether ``ratio`` meets ``target`` ("≤ 1.5×"); a target in seconds ("≤ 0.5 s") is met by
    the median of ours itself."""
    number = re.search(r"\d+(?:\.\d+)?", target)
    if number is None:
        return None
    limit = float(number.group())
    value = ours if target.rstrip().endswith(" s") and ours is not None else ratio
    return value >= limit if ("≥" in target or ">" in target) else value <= limit


def run_case(case: Case, repeats: int) -> Row:
    row = Row(case.name, case.target, "ok", clock=case.clock)
    try:
        result = case.run(repeats)
    except NotAvailable as exc:
        row.status, row.note = "not available", str(exc)
        return row
    except Exception as exc:
        row.status = "failed"
        row.note = "".join(traceback.format_exception_only(exc)).strip()
        return row
    row.ours_runs, row.baseline_runs, row.note = result.ours, result.baseline, result.note
    row.unit = result.unit
    if result.baseline:
        row.baseline = statistics.median(result.baseline)
    if result.error or not result.ours:
        row.status = "failed"
        row.note = "; ".join(filter(None, [result.note, result.error or "no runs of ours"]))
        return row
    row.ours = statistics.median(result.ours)
    if row.baseline:
        row.ratio = row.ours / row.baseline
        row.passed = _check(row.ratio, case.target, row.ours)
    return row


def format_seconds(seconds: float | None, unit: str = "s") -> str:
    if seconds is None:
        return "—"
    if unit != "s":
        return f"{seconds:.4g} {unit}"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def print_table(rows: list[Row], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    header = ["benchmark", "clock", "ours", "baseline", "ratio", "target", "met"]
    table = [header]
    for row in rows:
        ours = format_seconds(row.ours, row.unit) if row.status == "ok" else row.status.upper()
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        mark = {True: "✓", False: "✗", None: ""}[row.passed] if row.status != "failed" else "✗"
        table.append([row.name, row.clock, ours, format_seconds(row.baseline, row.unit), ratio,
                      row.target or "—", mark])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        print(" | ".join(cells).rstrip(), file=out)
        if index == 0:
            print("-+-".join("-" * w for w in widths), file=out)
    print(file=out)
    for clock in dict.fromkeys(row.clock for row in rows):
        print(f"clock {clock}: {CLOCKS[clock]}", file=out)
    notes = [row for row in rows if row.note]
    if notes:
        print(file=out)
    for row in notes:
        print(f"{row.name}: {row.note}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a fast look")
    parser.add_argument("--repeats", type=int, help="measured runs per side (default 5, 2 with --quick)")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only cases whose name contains NAME (repeatable)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a case fails or misses its target")
    args = parser.parse_args(argv)
    discover()
    cases = [case for name, case in REGISTRY.items()
             if not args.only or any(part.lower() in name.lower() for part in args.only)]
    if not cases:
        parser.error(f"no benchmark matches {args.only}; known: {', '.join(REGISTRY)}")
    repeats = args.repeats or (2 if args.quick else 5)
    rows = []
    for case in cases:
        print(f"running {case.name} ({repeats} runs each side)…", file=sys.stderr, flush=True)
        rows.append(run_case(case, repeats))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    missed = any(row.status == "failed" or row.passed is False for row in rows)
    return 1 if args.check and missed else 0
