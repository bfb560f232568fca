"""Launch to content on a real X screen, as the user sees it (issue 16).

The clock starts when the process is spawned and stops when the content is *on the screen*: an Xvfb
server writes its framebuffer to a memory-mapped file (``-fbdir``), polled every few milliseconds.
The content is made of full-block characters (█), so "content visible" is a count of dark pixels,
whatever the layout: each case first launches each tool twice unmeasured, once on an empty file and
once on the real one, and lets it settle; a run then ends when the dark pixels pass halfway from the
empty count to the settled one. DB Browser for SQLite (``sqlitebrowser -t TABLE FILE``) runs on the
same files in the same run, interleaved; the other formats are timed beside a bare PySide6 window
showing a label of █, and against the goal of 0.5 s.

Needs ``Xvfb`` (Debian ``xvfb``) and, for the SQLite rows, ``sqlitebrowser``; each row is skipped with
the reason when its tool is missing.
"""

from __future__ import annotations

import atexit
import compileall
import functools
import os
import pickle
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .harness import NotAvailable, Result, benchmark

screen_benchmark = functools.partial(benchmark, clock="screen")  # every case here times pixels

ROOT = Path(__file__).resolve().parent.parent
BLOCK = "█"
WIDTH, HEIGHT = 1280, 800
DARK = 80  # a pixel darker than this (0–255, all channels) is ink
TIMEOUT = 60.0  # seconds before a launch that never shows its content counts as failed
POLL = 0.004  # seconds between two looks at the framebuffer
SETTLE = 3.0  # seconds the dark count must stay put for a calibration launch to be settled ...
SETTLE_AFTER = 6.0  # ... and not before this long after the launch (a busy machine pauses)
WINDOW_PIXELS = WIDTH * HEIGHT // 4 // 10  # a tenth of the sampled screen: some window is mapped

BARE_WINDOW = f"""
import sys
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

app = QApplication(sys.argv)
window = QMainWindow()
label = QLabel("\\n".join([{BLOCK * 30!r}] * 20))
window.setCentralWidget(label)
window.resize(1000, 700)
window.show()
sys.exit(app.exec())
"""


# -- the screen ----------------------------------------------------------------------------------
class Screen:
    """An Xvfb server whose framebuffer is a file this process reads directly (no X requests)."""

    def __init__(self) -> None:
        if shutil.which("Xvfb") is None:
            raise NotAvailable("Xvfb is not installed (Debian: apt install xvfb)")
        import numpy as np

        self._np = np
        self.folder = Path(tempfile.mkdtemp(prefix="datashelf-screen-"))
        self.display = self._free_display()
        self.server = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-wr", "-fbdir", str(self.folder),
             "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        frame = self.folder / "Xvfb_screen0"
        deadline = time.monotonic() + 10
        while not frame.exists() or frame.stat().st_size < WIDTH * HEIGHT * 4:
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise NotAvailable(f"Xvfb did not start on {self.display}")
            time.sleep(0.05)
        time.sleep(0.2)
        header = frame.read_bytes()[:100]
        fields = struct.unpack(">25I", header)
        header_size, bits, line, colors = fields[0], fields[11], fields[12], fields[19]
        if bits != 32:
            raise NotAvailable(f"Xvfb framebuffer has {bits} bits per pixel, expected 32")
        data = np.memmap(frame, dtype=np.uint8, mode="r", offset=header_size + colors * 12,
                         shape=(HEIGHT, line))
        self.pixels = data[::2, : WIDTH * 4].reshape(HEIGHT // 2, WIDTH, 4)[:, ::2, :3]  # every 4th pixel
        self.blank = self.count(250)

    @staticmethod
    def _free_display() -> str:
        for number in range(91, 140):
            if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
                return f":{number}"
        raise NotAvailable("no free X display number")

    def count(self, level: int = DARK) -> int:
        """Pixels (of the sampled quarter) darker than ``level`` in every channel."""
        return int((self.pixels.max(axis=2) < level).sum())

    def wait_blank(self) -> None:
        deadline = time.monotonic() + 10
        while self.count(250) > self.blank and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(5)
        except subprocess.TimeoutExpired:
            self.server.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_SCREEN: list[Screen] = []


def screen() -> Screen:
    """One Xvfb for the whole run, stopped at exit."""
    if not _SCREEN:
        _SCREEN.append(Screen())
        atexit.register(_SCREEN[0].close)
    return _SCREEN[0]


# -- launching ----------------------------------------------------------------------------------
@dataclass
class Tool:
    """How to start one program on a file, each run in a fresh settings folder."""

    name: str
    command: Callable[[Path | None, Path], list[str]]  # (file or None, scratch folder) -> argv
    env: Callable[[Path], dict[str, str]] = lambda scratch: {}


def _spawn(tool: Tool, file: Path | None, display: str,
           scratch: Path | None = None) -> tuple[subprocess.Popen, Path]:
    scratch = scratch or Path(tempfile.mkdtemp(prefix="datashelf-screen-run-"))
    env = {**os.environ, "DISPLAY": display, **tool.env(scratch)}
    env.pop("QT_QPA_PLATFORM", None)  # the real screen, not offscreen
    child = subprocess.Popen(tool.command(file, scratch), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return child, scratch


def _stop(child: subprocess.Popen, scratch: Path) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
    shutil.rmtree(scratch, ignore_errors=True)
    from gui.app.single_instance_client import server_name

    Path(server_name(scratch)).unlink(missing_ok=True)  # the socket a killed Datashelf leaves


def settled_count(tool: Tool, file: Path | None, level: int) -> int:
    """The pixel count of ``tool`` on ``file`` once it stops changing (an unmeasured launch)."""
    shown = screen()
    shown.wait_blank()
    child, scratch = _spawn(tool, file, shown.display)
    try:
        return _settle(child, f"{tool.name} never settled on {file}", level)
    finally:
        _stop(child, scratch)


def _settle(child: subprocess.Popen, failure: str, level: int) -> int:
    """The pixel count once the window of ``child`` is up and the count stops changing."""
    shown = screen()
    start = time.monotonic()
    last, since = -1, time.monotonic()
    while time.monotonic() - start < TIMEOUT:
        now = shown.count(level)
        if abs(now - last) > max(20, last // 100):  # a blinking cursor is not a change
            last, since = now, time.monotonic()
        elif (time.monotonic() - since >= SETTLE and time.monotonic() - start >= SETTLE_AFTER
              and child.poll() is None
              and shown.count(250) - shown.blank > WINDOW_PIXELS):  # a window is up
            return now
        time.sleep(0.02)
    raise RuntimeError(failure)


def time_to_content(tool: Tool, file: Path | None, threshold: int, level: int) -> float:
    """Seconds from spawning ``tool`` on ``file`` until ``threshold`` pixels darker than ``level``."""
    shown = screen()
    shown.wait_blank()
    start = time.perf_counter()
    child, scratch = _spawn(tool, file, shown.display)
    try:
        while time.perf_counter() - start < TIMEOUT:
            if shown.count(level) >= threshold:
                return time.perf_counter() - start
            if child.poll() is not None:
                raise RuntimeError(f"{tool.name} exited with status {child.returncode} before showing {file}")
            time.sleep(POLL)
        raise RuntimeError(f"{tool.name} did not show {file} within {TIMEOUT:.0f} s")
    finally:
        _stop(child, scratch)


Side = tuple[Tool, "Path | None", "Path | None", bool]  # tool, empty file, real file, has an empty variant


def precompile() -> None:
    """Compile Datashelf's bytecode once, as an install does (pip compiles what it installs; a checkout
    writes it on the first launch). Without it, a launch under ``PYTHONDONTWRITEBYTECODE=1`` compiles
    every module from source each time, a cost no user pays twice."""
    if not _PRECOMPILED:
        for folder in ("gui", "storage"):
            compileall.compile_dir(ROOT / folder, quiet=2)
        compileall.compile_file(ROOT / "main.py", quiet=2)
        _PRECOMPILED.append(True)


_PRECOMPILED: list[bool] = []


def compare(ours: Side, baseline: Side, repeats: int,
            level: int = DARK) -> tuple[list[float], list[float], str]:
    """Calibrate both (the empty variant, or the blank screen; then the real file), then time them
    interleaved."""
    precompile()
    thresholds, notes = [], []
    for tool, empty, full, has_empty in (ours, baseline):
        screen().wait_blank()
        low = settled_count(tool, empty, level) if has_empty else screen().count(level)
        high = settled_count(tool, full, level)
        if high - low < 200:
            raise RuntimeError(f"{tool.name}: the content is not visible ({low} → {high} px)")
        thresholds.append(low + (high - low) // 2)
        notes.append(f"{tool.name} {low:,}→{high:,} px")
    ours_runs, baseline_runs = [], []
    for _ in range(repeats):
        ours_runs.append(time_to_content(ours[0], ours[2], thresholds[0], level))
        baseline_runs.append(time_to_content(baseline[0], baseline[2], thresholds[1], level))
    return ours_runs, baseline_runs, ", ".join(notes)


DATASHELF = Tool("Datashelf", lambda file, scratch: [sys.executable, str(ROOT / "main.py"), "--settings-dir",
                                                     str(scratch), *([str(file)] if file else [])])
DB4S = Tool("DB4S", lambda file, scratch: ["sqlitebrowser", "-t", "t", str(file)],
            env=lambda scratch: {"HOME": str(scratch), "XDG_CONFIG_HOME": str(scratch)})
BARE = Tool("bare PySide6 window", lambda file, scratch: [sys.executable, "-c", BARE_WINDOW])


# -- files --------------------------------------------------------------------------------------
_FILES: dict[str, Path] = {}
_FOLDER: list[Path] = []


def scratch_file(name: str, make: Callable[[Path], None]) -> Path:
    """A file written once per run in a temporary folder removed at exit."""
    if not _FOLDER:
        _FOLDER.append(Path(tempfile.mkdtemp(prefix="datashelf-screen-files-")))
        atexit.register(shutil.rmtree, _FOLDER[0], True)
    if name not in _FILES:
        _FILES[name] = _FOLDER[0] / name
        make(_FILES[name])
    return _FILES[name]


def table(rows: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (a TEXT, b TEXT, c TEXT, d TEXT)")
            cell = BLOCK * 12
            step = 100_000
            for start in range(0, rows, step):
                conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                                 ((cell, cell, cell, cell) for _ in range(min(step, rows - start))))
        conn.close()
    return make


def _sqlite_case(rows: int, repeats: int) -> Result:
    if shutil.which("sqlitebrowser") is None:
        raise NotAvailable("DB Browser for SQLite is not installed (Debian: apt install sqlitebrowser)")
    empty = scratch_file("empty.db", table(0))
    full = scratch_file(f"t{rows}.db", table(rows))
    ours, baseline, note = compare((DATASHELF, empty, full, True), (DB4S, empty, full, True), repeats)
    return Result(ours, baseline, note=f"{rows:,} rows of █, {full.stat().st_size / 1e6:,.0f} MB; {note}")


@screen_benchmark("screen: launch → first rows of a 100k-row SQLite table vs DB Browser for SQLite",
                  target="≤ 0.6×")
def screen_sqlite_100k(repeats: int) -> Result:
    return _sqlite_case(100_000, repeats)


@screen_benchmark("screen: launch → first rows of a 10M-row SQLite table vs DB Browser for SQLite",
                  target="≤ 0.6×")
def screen_sqlite_10m(repeats: int) -> Result:
    return _sqlite_case(10_000_000, repeats)


@screen_benchmark("screen: empty launch → window vs a bare PySide6 window", target="≤ 1.5×")
def screen_empty_launch(repeats: int) -> Result:
    ours, baseline, note = compare((DATASHELF, None, None, False), (BARE, None, None, False), repeats,
                                   level=250)
    return Result(ours, baseline, note=f"any pixel of the window; {note}")


def _text(path: Path) -> None:
    line = (BLOCK * 60 + "\n").encode()
    with path.open("wb") as out:
        out.write(line * (100 * 2**20 // len(line)))


def _json(path: Path) -> None:
    record = ('{"name": "' + BLOCK * 20 + '", "note": "' + BLOCK * 20 + '"}').encode()
    with path.open("wb") as out:
        out.write(b"[")
        count = 100 * 2**20 // (len(record) + 2)
        for number in range(count):
            out.write(record + (b",\n" if number < count - 1 else b"]\n"))


def _pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({BLOCK * 20 + f" {i}": BLOCK * 20 for i in range(300_000)}, protocol=4))


def _hdf5(path: Path) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        for number in range(200):
            f.create_dataset(f"{BLOCK * 16} {number}", data=np.arange(50_000.0))


FORMATS = {  # name: (file name, maker, empty file name, empty maker)
    "text (100 MB)": ("blocks.txt", _text, "empty.txt", lambda p: p.write_bytes(b"\n")),
    "JSON (100 MB)": ("blocks.json", _json, "empty.json", lambda p: p.write_bytes(b"[]\n")),
    "pickle (300k-key dict)": ("blocks.pkl", _pickle, "empty.pkl", lambda p: p.write_bytes(pickle.dumps({}))),
    "HDF5 (200 datasets)": ("blocks.h5", _hdf5, "empty.h5",
                            lambda p: __import__("h5py").File(p, "w").close()),
}


def _format_case(name: str, repeats: int) -> Result:
    file_name, make, empty_name, make_empty = FORMATS[name]
    full = scratch_file(file_name, make)
    empty = scratch_file(empty_name, make_empty)
    ours, baseline, note = compare((DATASHELF, empty, full, True), (BARE, None, None, False), repeats)
    return Result(ours, baseline, note=f"{full.stat().st_size / 1e6:,.0f} MB; {note}; goal: ours ≤ 0.5 s")


for _name in FORMATS:
    screen_benchmark(f"screen: launch → first content of {_name} vs a bare PySide6 window of █",
                     target="≤ 0.5 s")(
        lambda repeats, _name=_name: _format_case(_name, repeats))


# -- single instance: a second launch hands its file to the running window --------------------------
def _handed(first_file: Path, file: Path, threshold: int | None) -> tuple[int, int, float]:
    """Start Datashelf on ``first_file`` and let it settle, then spawn ``main.py FILE`` on the same
    settings folder. Returns the settled counts before and after the hand-off, and the seconds
    from the spawn until ``threshold`` dark pixels (when given; else until settled)."""
    shown = screen()
    shown.wait_blank()
    first, scratch = _spawn(DATASHELF, first_file, shown.display)
    second = None
    try:
        low = _settle(first, f"Datashelf never settled on {first_file}", DARK)
        start = time.perf_counter()
        second, _ = _spawn(DATASHELF, file, shown.display, scratch)  # same settings folder
        seconds = 0.0
        if threshold is not None:
            while shown.count(DARK) < threshold:
                if time.perf_counter() - start > TIMEOUT:
                    raise RuntimeError(f"the running window did not show {file} within {TIMEOUT:.0f} s")
                time.sleep(POLL)
            seconds = time.perf_counter() - start
        try:
            status = second.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        if status != 0:
            raise RuntimeError(f"the second launch did not hand its file over (status {status})")
        if threshold is not None:
            return low, 0, seconds
        return low, _settle(first, f"Datashelf never settled on {file} after the hand-off", DARK), seconds
    finally:
        if second is not None and second.poll() is None:
            second.kill()
            second.wait()
        _stop(first, scratch)


def _handoff_file(path: Path) -> None:
    path.write_text((BLOCK * 60 + "\n") * 200, encoding="utf-8")


@screen_benchmark("screen: second file handed to the running window vs the first launch of that file",
           target="≤ 0.3 s")
def screen_second_file(repeats: int) -> Result:
    precompile()
    full = scratch_file("handed.txt", _handoff_file)
    empty = scratch_file("empty.txt", lambda p: p.write_bytes(b"\n"))
    # The running window shows a first text file (almost no ink), as after a first double-click.
    first_file = scratch_file("first.txt", lambda p: p.write_text("first\n", encoding="utf-8"))
    low, high, _ = _handed(first_file, full, None)
    if high - low < 200:
        raise RuntimeError(f"the handed file is not visible ({low} → {high} px)")
    threshold = low + (high - low) // 2
    first_low = settled_count(DATASHELF, empty, DARK)
    first_high = settled_count(DATASHELF, full, DARK)
    first_threshold = first_low + (first_high - first_low) // 2
    ours, baseline = [], []
    for _ in range(repeats):
        ours.append(_handed(first_file, full, threshold)[2])
        baseline.append(time_to_content(DATASHELF, full, first_threshold, DARK))
    return Result(ours, baseline, note=f"12k █ of text, handed to a window showing another text file "
                                       f"{low:,}→{high:,} px; first launch "
                                       f"{first_low:,}→{first_high:,} px; goal: ours ≤ 0.3 s")
