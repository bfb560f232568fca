"""kill -9 in the middle of a save leaves the old or the new version, never a mix (issue 9, item 4).

For each format a child process (``python -c``, see ``tests/support/kill_savers.py``) imports the real
saver and, per trial, forks a process that saves the ~1-2 MB document over and over, alternating
two versions. After a random delay (0 to ~2.5 saves long, so kills land in every phase: building
the bytes, writing the temporary file, fsync, rename, the .dir after the .dat of a shelf, an
SQLite transaction) the test sends SIGKILL, waits until the process is gone, and checks the file:
byte-identical to one version (text, JSON, pickle), readable by ``shelve`` with one whole version
(dbm.dumb shelf), ``integrity_check`` ok with the row old or new (SQLite).

TRIALS kills per format run by default (``DATASHELF_KILL_TRIALS`` changes it); the counts are
printed (``pytest -s``). On this 2-core machine the five formats take about 30 s together.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.core.atomic import remove_stale_temporaries
from tests.support import kill_savers

ROOT = Path(__file__).resolve().parents[1]
TRIALS = int(os.environ.get("DATASHELF_KILL_TRIALS", "100"))
FORMATS = ("text", "json", "pickle", "shelf", "sqlite")
SHELF_RESET_BYTES = 24_000_000  # the dbm.dumb saver appends: start afresh when .dat gets big
REPLY_TIMEOUT = 60.0

CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from tests.support.kill_savers import serve; serve(*sys.argv[2:])")


class _Child:
    """The serving child process and its line protocol."""

    def __init__(self, fmt: str, folder: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), fmt, str(folder)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, cwd=ROOT)

    def reply(self, word: str) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith(word + " "):
            self.close()
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            pytest.fail(f"the saving child said {line!r} instead of {word!r}:\n{stderr[-3000:]}")
        return line.split(maxsplit=1)[1].strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_kill_during_save_leaves_old_or_new(fmt: str, tmp_path: Path) -> None:
    rng = random.Random(f"kill-{fmt}")  # fixed seed: a failure can be rerun with the same delays
    child = _Child(fmt, tmp_path)
    saver = 0  # the pid of the saving process while it runs
    counts = {"trials": 0, "old": 0, "new": 0, "changed": 0, "temporaries_left": 0, "hot_journals": 0,
              "corrupt": 0}
    try:
        save_seconds = float(child.reply("ready"))
        expected = kill_savers.expected_bytes(fmt, tmp_path)
        on_disk = kill_savers.check(fmt, tmp_path, expected)
        assert on_disk == "old"
        for _ in range(TRIALS):
            first = kill_savers.other(on_disk)
            child.send(f"go {first}")
            saver = int(child.reply("pid"))
            time.sleep(rng.uniform(0, 2.5 * save_seconds))
            with contextlib.suppress(ProcessLookupError):  # it may have failed on its own
                os.kill(saver, signal.SIGKILL)
            status = int(child.reply("dead"))
            saver = 0
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
                f"the saver ended by itself (status {status}) before it was killed"
            counts["trials"] += 1
            counts["hot_journals"] += (tmp_path / "doc.db-journal").exists()
            try:
                found = kill_savers.check(fmt, tmp_path, expected)
            except AssertionError:
                counts["corrupt"] += 1
                raise
            counts[found] += 1
            counts["changed"] += found != on_disk
            on_disk = found
            leftovers = _temporaries(tmp_path)  # a killed atomic save cannot remove its temporary
            counts["temporaries_left"] += len(leftovers)
            # ... and the next open of a file there removes exactly those (their process is gone).
            assert sorted(remove_stale_temporaries(tmp_path)) == sorted(p.name for p in leftovers)
            assert _temporaries(tmp_path) == []
            if fmt == "shelf" and (tmp_path / "doc.dat").stat().st_size > SHELF_RESET_BYTES:
                kill_savers.reset_shelf(tmp_path / "doc", on_disk)
    finally:
        if saver:  # the test failed while a saver ran: it must not outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(saver, signal.SIGKILL)
        child.close()
        print(f"\nkill -9 during {fmt} saves: {counts}")
    assert counts["trials"] == TRIALS and counts["corrupt"] == 0
    if TRIALS >= 50:  # the kills really landed mid-save: some saves completed, some were cut short
        assert counts["changed"] > 0 and counts["changed"] < TRIALS
        assert fmt == "sqlite" or counts["temporaries_left"] > 0
