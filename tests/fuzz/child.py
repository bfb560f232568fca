"""The fuzzer's child process seen from the parent: send a job, wait with a deadline, restart.

Loaders run in a separate process so that a segfault in a library (h5py, sqlite) or a hang
is reported as a finding instead of taking the fuzzer down with it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 3 * 1024**3  # a loader asking for more than this on a small file is a bug


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


@dataclass
class JobResult:
    """What happened to one file: per-target outcomes, or how the child died."""

    results: list[list] = field(default_factory=list)  # [target, status, detail, seconds]
    sniffed: str = ""
    crash: str = ""  # how the child died, with the target it was in
    hang: str = ""  # the target that ran past the deadline
    last_target: str = ""


class Child:
    """One ``python -m tests.fuzz.targets`` process, restarted after it dies or hangs."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        self._jobs = 0

    def _start(self) -> subprocess.Popen:
        # MALLOC_ARENA_MAX: glibc reserves 64 MB of address space per thread arena, and DuckDB's and
        # Arrow's threads (the Tables formats) would spend a third of MEMORY_LIMIT on reservations alone.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1",
                   HDF5_USE_FILE_LOCKING="TRUE", MALLOC_ARENA_MAX="2")
        self._stderr.seek(0)
        self._stderr.truncate()
        self._buffer = b""
        kwargs = {"preexec_fn": _limit_memory} if os.name == "posix" else {}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.targets"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     **kwargs)
        return self.proc

    def _readline(self, deadline: float) -> bytes | None:
        """One line of the child's output; b'' when it closed; None at the deadline."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-3000:].decode("utf-8", "replace")

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            self.proc = None

    def run(self, path: str, formats: list[str]) -> JobResult:
        """Open ``path`` with every target for ``formats`` (and its sniffed format)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        self._jobs += 1
        job = {"id": self._jobs, "path": path, "formats": formats}
        result = JobResult()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        started = time.monotonic()
        deadline = started + self.timeout + 30  # the first job also pays for the child's imports
        while True:
            line = self._readline(deadline)
            if line is None:
                result.hang = result.last_target or "(start)"
                self._restart()
                return result
            if line == b"":
                code = self.proc.wait()
                how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                result.crash = f"child died ({how}) in target {result.last_target or '(start)'}\n" + \
                    self.stderr_tail()
                self._restart()
                return result
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict) or message.get("id") != self._jobs:
                continue
            if "start" in message:
                result.last_target = message["start"]
                deadline = time.monotonic() + self.timeout
                continue
            result.results, result.sniffed = message["results"], message["sniffed"]
            return result

    def _restart(self) -> None:
        self.kill()
        self.restarts += 1

    def close(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self._stderr.close()
