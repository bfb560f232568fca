"""Launch to window shown: ``main.py`` against a bare PySide6 window, each a fresh process.

Both children run offscreen and print ``DATASHELF_SHOWN`` once their window is shown and the
event loop has turned once; the time is wall time from spawning the child to reading that line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .harness import Result, benchmark, interleave

ROOT = Path(__file__).resolve().parent.parent
MARKER = "DATASHELF_SHOWN"
TIMEOUT = 60.0  # seconds before a child that never shows its window is killed

BARE_WINDOW = f"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

app = QApplication(sys.argv)
window = QMainWindow()
window.setCentralWidget(QLabel("Hello"))
window.show()

def shown():
    print({MARKER!r}, flush=True)
    app.quit()

QTimer.singleShot(0, shown)
sys.exit(app.exec())
"""


class LaunchFailed(Exception):
    pass


def time_to_marker(command: list[str], extra_env: dict[str, str] | None = None) -> float:
    """Seconds from spawning ``command`` until it prints MARKER; LaunchFailed if it never does."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(extra_env or {})}
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr,
                                 stdin=subprocess.DEVNULL, text=True)
        killer = threading.Timer(TIMEOUT, child.kill)  # unblocks readline below if the child hangs
        killer.start()
        try:
            elapsed = None
            for line in child.stdout:  # type: ignore[union-attr]
                if line.strip() == MARKER:
                    elapsed = time.perf_counter() - start
                    break
            try:
                returncode = child.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                returncode = child.wait()
        finally:
            killer.cancel()
            child.stdout.close()  # type: ignore[union-attr]
        if elapsed is not None:
            return elapsed
        stderr.seek(0)
        tail = " | ".join(line.strip() for line in stderr.read().strip().splitlines()[-3:])
        tail = tail or "no error output"
        raise LaunchFailed(f"exit status {returncode} before printing {MARKER}: {tail}")


def launch_bare() -> float:
    return time_to_marker([sys.executable, "-c", BARE_WINDOW])


def launch_datashelf() -> float:
    main_py = ROOT / "main.py"
    if not main_py.is_file():
        raise LaunchFailed(f"{main_py} does not exist yet")
    with tempfile.TemporaryDirectory(prefix="datashelf-bench-") as settings_dir:
        return time_to_marker([sys.executable, str(main_py), "--settings-dir", settings_dir],
                              {"DATASHELF_EXIT_WHEN_SHOWN": "1"})


@benchmark("launch to window shown", target="", clock="process")
def launch(repeats: int) -> Result:
    failures: list[str] = []

    def ours() -> float:
        if failures:
            return 0.0  # keep timing the bare window so the table still shows the baseline
        try:
            return launch_datashelf()
        except LaunchFailed as exc:
            failures.append(str(exc))
            return 0.0

    ours_runs, baseline = interleave(ours, launch_bare, repeats)
    if failures:
        return Result(baseline=baseline, error=f"main.py: {failures[0]}")
    return Result(ours_runs, baseline,
                  note=f"fresh offscreen process per run; python {sys.version.split()[0]}")
