"""Files tab: first screen of a 1 GB text file, a 100 MB file opened for editing, a 100k folder.

Everything runs in this process on an offscreen QApplication. Each case times the real widget
(the text page or the folder browser) until the user would see the content, beside a baseline
measured in the same run: plain Python reading (and decoding) the same bytes, or the issue's
absolute allowance where the issue gives one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .harness import Result, benchmark, interleave

CACHE = Path(os.environ.get("DATASHELF_BENCH_DIR", "/tmp/datashelf-bench"))
LINE = "The quick brown fox jumps over the lazy dog; naïve café, 0123456789.\n"


def _text_file(name: str, size: int) -> Path:
    path = CACHE / name
    if path.exists() and path.stat().st_size >= size:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    block = (LINE * (1 << 14)).encode("utf-8")
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            handle.write(block)
            written += len(block)
    return path


def _folder(count: int) -> Path:
    folder = CACHE / f"folder-{count}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    kinds = (b'{"a": 1}\n', b"plain text\n", b"\x80\x04K\x01.", b"\x00\x01\x02binary")
    for i in range(count):
        (folder / f"file{i:06d}.dat").write_bytes(kinds[i % len(kinds)])
    marker.write_text("ok")
    return folder


def _qt_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _wait(condition, timeout: float = 120.0) -> None:
    """Run the event loop until ``condition()``; it sleeps between events, as app.exec() would.

    Spinning processEvents instead would fight the worker threads for the GIL and time the
    spinning as much as the work.
    """
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    end = time.perf_counter() + timeout
    tick = QTimer()
    tick.start(5)  # wakes the loop to look at the condition and the time limit
    try:
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("the view never showed its content")
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        tick.stop()


def _open_text(path: Path, force_edit: bool) -> float:
    """Seconds from creating the text page to its first screen painted."""
    from PySide6.QtGui import QUndoStack

    from gui.files.text_page import TextPage

    app = _qt_app()
    stack = QUndoStack()
    start = time.perf_counter()
    page = TextPage(str(path), stack)
    done = []
    page.loaded.connect(lambda: done.append(True))
    page.resize(1000, 700)
    page.show()
    page.load(force_edit=force_edit)
    _wait(lambda: bool(done))
    page.views.currentWidget().repaint()  # the first screen is drawn, not just scheduled
    app.processEvents()
    elapsed = time.perf_counter() - start
    page.close_page()
    page.close()
    page.deleteLater()
    app.processEvents()
    return elapsed


@benchmark("files 1 GB text: first screen (vs 0.3 s)", target="≤ 1.0×")
def bench_first_screen(repeats: int) -> Result:
    path = _text_file("text-1g.txt", 1 << 30)
    runs = [_open_text(path, force_edit=False) for _ in range(repeats + 1)][1:]
    return Result(runs, [0.3] * len(runs), note="paged view over a memory map; baseline is the 0.3 s "
                  "the issue allows")


@benchmark("files 100 MB UTF-8 text: open for editing", target="≤ 2×")
def bench_edit_open(repeats: int) -> Result:
    path = _text_file("text-100m.txt", 100 * 10**6)

    def ours() -> float:
        return _open_text(path, force_edit=True)

    def baseline() -> float:
        start = time.perf_counter()
        with open(path, "rb") as handle:
            handle.read().decode("utf-8")
        return time.perf_counter() - start

    runs = interleave(ours, baseline, repeats)
    return Result(*runs, note=f"{path.stat().st_size / 1e6:.0f} MB; baseline: read + decode in Python")


@benchmark("files folder of 100k files: first rows (vs 0.5 s)", target="≤ 1.0×")
def bench_folder(repeats: int) -> Result:
    from gui.files.browser import FORMAT_COLUMN, FolderBrowser

    folder = _folder(100_000)
    app = _qt_app()
    runs, stalls = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        browser = FolderBrowser(str(folder))
        browser.resize(700, 600)
        browser.show()
        model, tree = browser.model, browser.tree
        _wait(lambda m=model, t=tree: m.rowCount(t.rootIndex()) > 0)
        tree.viewport().repaint()
        runs.append(time.perf_counter() - start)
        # Responsiveness while the visible rows are sniffed: the longest gap between events.
        first = model.index(0, FORMAT_COLUMN, tree.rootIndex())
        longest, last = 0.0, time.perf_counter()
        end = last + 3.0
        while time.perf_counter() < end and model.data(first) == "…":
            app.processEvents()
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        stalls.append(longest)
        browser.stop()
        browser.close()
        browser.deleteLater()
        _wait(lambda b=browser: b.model._worker is None, 30)
        app.processEvents()
    return Result(runs, [0.5] * len(runs),
                  note=f"longest event-loop stall while sniffing: {max(stalls) * 1000:.0f} ms; "
                       "baseline is the 0.5 s the issue allows")
