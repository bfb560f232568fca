"""Fuzz every format: mutate seed files and open each through ``inspect`` and every tab's loader.

The oracle: only ``storage.core.errors.KnownError`` may escape a loader; no crash of the process, no
hang past the deadline, and the mutated file (bytes and mtime) and its folder unchanged.
Findings are shrunk and saved with their bytes (``--findings``). A short fixed-seed run is in
the test suite (tests/test_fuzz.py); a long one runs on demand:

    python -m tests.fuzz.run --minutes 30 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.child import ROOT, Child, JobResult
from tests.fuzz.mutate import mutate
from tests.fuzz.seeds import Seed, corpus_seeds, make_seeds

OLD_MTIME = 1_000_000_000  # every mutated file gets this mtime: any write shows as a change
COUNTERS = {"crash": "crashes", "hang": "hangs", "uncaught": "uncaught", "changed": "changed"}


@dataclass
class Finding:
    kind: str  # crash, hang, uncaught, changed, stray, cli
    target: str
    detail: str
    trial: int
    seed: str
    mutation: str
    saved: str = ""

    def signature(self) -> str:
        last = [line for line in self.detail.strip().splitlines() if line.strip()][-1:] or [""]
        where = [line for line in self.detail.splitlines() if line.strip().startswith('File "')][-1:]
        if self.kind in ("hang", "crash", "changed"):  # no traceback: tell them apart by seed
            return f"{self.kind}|{self.target}|{self.seed}"
        return f"{self.kind}|{self.target}|{(where or [''])[0].strip()}|{last[0].split(':')[0]}"


@dataclass
class Stats:
    trials: int = 0
    target_runs: int = 0
    rejected: int = 0  # KnownError: the loader refused the file cleanly
    crashes: int = 0
    hangs: int = 0
    uncaught: int = 0
    changed: int = 0  # the mutated file's bytes or mtime changed, or files appeared beside it
    cli_runs: int = 0
    cli_failures: int = 0
    restarts: int = 0
    seconds: float = 0.0
    slowest: tuple[float, str, int] = (0.0, "", -1)  # seconds, target, trial
    by_target: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def line(self) -> str:
        return (f"trials {self.trials}, target runs {self.target_runs} (rejected with KnownError "
                f"{self.rejected}), crashes {self.crashes}, hangs {self.hangs}, uncaught exceptions "
                f"{self.uncaught}, changed files {self.changed}, CLI runs {self.cli_runs} (bad "
                f"{self.cli_failures}), child restarts {self.restarts}, {self.seconds:.1f} s; slowest target "
                f"{self.slowest[1] or '-'} {self.slowest[0]:.2f} s (trial {self.slowest[2]})")


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of ``folder``: its SHA-256 and mtime."""
    state = {}
    for entry in sorted(folder.iterdir()):
        info = entry.stat()
        state[entry.name] = (hashlib.sha256(entry.read_bytes()).hexdigest(), info.st_mtime_ns)
    return state


def compare(before: dict, after: dict) -> str:
    notes = [f"{name} appeared" for name in after if name not in before]
    notes += [f"{name} vanished" for name in before if name not in after]
    notes += [f"{name} changed" for name in before if name in after and before[name] != after[name]]
    return ", ".join(notes)


def lay_out(folder: Path, seed: Seed, which: int, data: bytes) -> Path:
    """The seed's files in an empty ``folder``, file ``which`` replaced by ``data``."""
    for entry in folder.iterdir():
        entry.unlink()
    target = folder
    for number, source in enumerate(seed.files):
        dest = folder / os.path.basename(source)
        if number == which:
            dest.write_bytes(data)
            target = dest
        else:
            shutil.copyfile(source, dest)
        os.utime(dest, ns=(OLD_MTIME * 10**9, OLD_MTIME * 10**9))
    return target


def check_cli(path: Path) -> str:
    """``python main.py inspect PATH --json``: '' when it exits 0/1/2 printing exactly one JSON object."""
    try:
        done = subprocess.run([sys.executable, "main.py", "inspect", str(path), "--json"], cwd=ROOT,
                              capture_output=True, timeout=60, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    except subprocess.TimeoutExpired:
        return "inspect did not finish in 60 s"
    out = done.stdout.decode("utf-8", "replace")
    if done.returncode not in (0, 1, 2):
        return f"exit code {done.returncode}: {done.stderr.decode('utf-8', 'replace')[-2000:]}"
    lines = out.splitlines()
    try:
        report = json.loads(out)
    except ValueError as exc:
        return f"stdout is not one JSON object ({exc}): {out[:500]!r}"
    if len(lines) != 1 or not isinstance(report, dict):
        return f"stdout is not exactly one JSON object on one line: {out[:500]!r}"
    return ""


class Fuzzer:
    """Runs trials against one child process and keeps the counts and the findings."""

    def __init__(self, seed: int, seeds: list[Seed], work: Path, findings_dir: Path | None = None,
                 timeout: float = 15.0, cli_every: int = 0, shrink: bool = True) -> None:
        self.seed, self.seeds, self.work = seed, seeds, work
        self.findings_dir = findings_dir
        self.child = Child(timeout)
        self.cli_every = cli_every
        self.shrink = shrink
        self.stats = Stats()
        self._signatures: set[str] = set()
        self._by_format: dict[str, list[Seed]] = {}
        for s in seeds:
            self._by_format.setdefault(s.fmt, []).append(s)
        self._blobs = {path: Path(path).read_bytes() for s in seeds for path in s.files}

    def case(self, trial: int) -> tuple[Seed, int, bytes, str]:
        """Trial ``trial``'s seed, the file mutated and its bytes: a function of (seed, trial)."""
        rng = random.Random(f"{self.seed}:{trial}")
        seed = rng.choice(self._by_format[rng.choice(sorted(self._by_format))])  # each format as often
        which = rng.randrange(len(seed.files))
        donor = rng.choice(self.seeds)
        donor_bytes = self._blobs[rng.choice(donor.files)]
        data, note = mutate(rng, self._blobs[seed.files[which]], donor_bytes)
        return seed, which, data, note

    def check(self, seed: Seed, which: int, data: bytes) -> tuple[JobResult, str]:
        """Run the targets on one laid-out case: (the child's result, what changed on disk)."""
        folder = self.work / "case"
        folder.mkdir(parents=True, exist_ok=True)
        path = lay_out(folder, seed, which, data)
        before = snapshot(folder)
        result = self.child.run(str(path), [seed.fmt])
        return result, compare(before, snapshot(folder))

    def problems(self, result: JobResult, changes: str) -> list[tuple[str, str, str]]:
        found = []
        if result.crash:
            found.append(("crash", result.last_target, result.crash))
        if result.hang:
            found.append(("hang", result.hang, f"no answer in {self.child.timeout} s"))
        found += [("uncaught", name, detail) for name, status, detail, _s in result.results
                  if status == "bug"]
        if changes:
            found.append(("changed", "", changes))
        return found

    def trial(self, number: int) -> None:
        seed, which, data, note = self.case(number)
        result, changes = self.check(seed, which, data)
        stats = self.stats
        stats.trials += 1
        for name, status, _detail, seconds in result.results:
            stats.target_runs += 1
            stats.slowest = max(stats.slowest, (seconds, name, number))
            stats.by_target[name] = stats.by_target.get(name, 0) + 1
            stats.rejected += status == "known"
        for kind, target, detail in self.problems(result, changes):
            counter = COUNTERS[kind]
            setattr(stats, counter, getattr(stats, counter) + 1)
            self.record(Finding(kind, target, detail, number, seed.name, note), seed, which, data)
        if self.cli_every and number % self.cli_every == 0:
            stats.cli_runs += 1
            path = lay_out(self.work / "case", seed, which, data)
            before = snapshot(path.parent)
            problem = check_cli(path) or compare(before, snapshot(path.parent))
            if problem:
                stats.cli_failures += 1
                self.record(Finding("cli", "inspect", problem, number, seed.name, note), seed, which, data)

    def record(self, finding: Finding, seed: Seed, which: int, data: bytes) -> None:
        self.stats.findings.append(finding)
        signature = finding.signature()
        if signature in self._signatures or self.findings_dir is None:
            return
        self._signatures.add(signature)
        if self.shrink and finding.kind in ("uncaught", "crash", "hang"):
            from tests.fuzz.shrink import shrink

            data = shrink(self, seed, which, data, finding)
        folder = self.findings_dir / f"{finding.kind}-{finding.target or 'any'}-{finding.trial}"
        folder.mkdir(parents=True, exist_ok=True)
        lay_out(folder, seed, which, data)
        finding.saved = str(folder)
        (folder / "finding.json").write_text(json.dumps(
            {"kind": finding.kind, "target": finding.target, "seed": finding.seed, "run_seed": self.seed,
             "trial": finding.trial, "mutation": finding.mutation, "size": len(data),
             "file": os.path.basename(seed.files[which]), "detail": finding.detail}, indent=2))

    def run(self, trials: int | None = None, minutes: float | None = None, start: int = 0,
            progress: bool = False, only: list[int] | None = None) -> Stats:
        began = time.monotonic()
        end = began + minutes * 60 if minutes else None
        numbers = iter(only) if only else itertools.count(start)
        try:
            for number in numbers:
                if (trials is not None and self.stats.trials >= trials) or (end and time.monotonic() >= end):
                    break
                self.trial(number)
                if progress and self.stats.trials % 200 == 0:
                    self.stats.seconds = time.monotonic() - began
                    print(f"[{time.monotonic() - began:6.0f} s] {self.stats.line()}", flush=True)
        finally:
            self.stats.seconds = time.monotonic() - began
            self.stats.restarts = self.child.restarts
            self.child.close()
        return self.stats


def fuzz(seed: int, trials: int | None = None, minutes: float | None = None, corpus: int | None = 40,
         findings_dir: Path | None = None, cli_every: int = 0, timeout: float = 15.0,
         progress: bool = False, only: list[int] | None = None) -> Stats:
    """One fuzzing run over fresh seeds (and ``corpus`` corpus files; None for all of them)."""
    with tempfile.TemporaryDirectory(prefix="datashelf-fuzz-") as tmp:
        seeds = make_seeds(Path(tmp) / "seeds") + (corpus_seeds(corpus) if corpus != 0 else [])
        fuzzer = Fuzzer(seed, seeds, Path(tmp) / "work", findings_dir, timeout, cli_every)
        return fuzzer.run(trials, minutes, progress=progress, only=only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(time.time()), help="run seed (default: the time)")
    parser.add_argument("--minutes", type=float, help="stop after this long")
    parser.add_argument("--trials", type=int, help="stop after this many trials")
    parser.add_argument("--corpus", type=int, default=-1,
                        help="corpus files used as seeds (default all; 0 for none)")
    parser.add_argument("--findings", default="fuzz-findings", help="where findings are saved")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds before a target counts as hung")
    parser.add_argument("--cli-every", type=int, default=100, help="run `main.py inspect` every N trials")
    parser.add_argument("--replay", help="only these trial numbers (comma-separated) of --seed's run")
    args = parser.parse_args(argv)
    only = [int(n) for n in args.replay.split(",")] if args.replay else None
    if args.minutes is None and args.trials is None and not only:
        args.minutes = 10
    print(f"fuzzing with seed {args.seed}", flush=True)
    stats = fuzz(args.seed, args.trials, args.minutes, None if args.corpus < 0 else args.corpus,
                 Path(args.findings), args.cli_every, args.timeout, progress=True, only=only)
    print(stats.line())
    for target, count in sorted(stats.by_target.items()):
        print(f"  {target:8} {count}")
    for finding in stats.findings:
        print(f"FINDING {finding.kind} {finding.target} trial {finding.trial} ({finding.seed}: "
              f"{finding.mutation}) {finding.saved}\n{finding.detail[-1500:]}")
    return 1 if stats.findings else 0


if __name__ == "__main__":
    sys.exit(main())
