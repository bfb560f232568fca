"""What an empty launch imports before its window is on screen (issue 16: every module imported
before the first paint is time the user waits). Run in a fresh process, as a user starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# The modules loaded once the window is shown (main.py's own wiring, with a timer queued first).
CHILD = """
import json, sys
import main
from PySide6.QtCore import QTimer

real_build = main.build

def build(*args):
    app, window = real_build(*args)
    QTimer.singleShot(0, lambda: print("MODULES " + json.dumps(sorted(sys.modules)), flush=True))
    return app, window

main.build = build
sys.exit(main.main(sys.argv[1:]))
"""

# Libraries a tab imports when a file of its own is opened, never for the empty window.
HEAVY = ("numpy", "h5py", "sqlalchemy", "duckdb", "pyarrow", "pandas", "msgspec", "charset_normalizer",
         "psycopg", "pymysql")
# The tabs' machinery: only their tab class (and the Files tab's folder browser) is on screen.
TAB_PACKAGES = ("gui.json", "gui.sql", "gui.hdf5", "gui.objects", "gui.tables", "gui.files", "gui.arrays",
                "gui.values", "storage.formats.json", "storage.formats.sql", "storage.formats.hdf5",
                "storage.formats.objects", "storage.formats.tables", "storage.formats.text")
ALLOWED = {"gui.json.tab", "gui.sql.tab", "gui.hdf5.tab", "gui.objects.tab", "gui.tables.tab",
           "gui.files.tab", "gui.files.browser"}
# Machinery for what happens later: opening a file, a dialog, a crash's edits, a second launch.
LATER = ("storage.sniff.detect", "storage.sniff.shelf", "gui.common.diff_dialog", "gui.common.convert_dialog",
         "gui.recovery.restore", "gui.recovery.hooks", "storage.formats.newfile", "storage.inspect",
         "uuid", "PySide6.QtNetwork")


def launched_modules(settings_dir: Path) -> set[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DATASHELF_EXIT_WHEN_SHOWN": "1"}
    env.pop("DATASHELF_SETTINGS_DIR", None)
    done = subprocess.run([sys.executable, "-c", CHILD, "--settings-dir", str(settings_dir)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def test_an_empty_launch_imports_only_what_its_window_shows(tmp_path: Path) -> None:
    modules = launched_modules(tmp_path / "settings")
    assert "gui.app.mainwindow" in modules and "PySide6.QtWidgets" in modules  # it did launch
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    inside = tuple(p + "." for p in TAB_PACKAGES)
    tabs = sorted(m for m in modules if m.startswith(inside) and m not in ALLOWED)
    assert tabs == []
    later = sorted(m for m in modules if m in LATER or m.startswith(tuple(p + "." for p in LATER)))
    if os.name == "nt":  # the single-instance server is a QLocalServer there
        later = [m for m in later if m != "PySide6.QtNetwork"]
    assert later == []


# What the window shows at its first paint, with files on the command line.
FIRST_PAINT_CHILD = """
import json, sys
import main
from PySide6.QtCore import QEvent, QObject, QTimer

real_build = main.build

class FirstPaint(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event):
        if watched is self.window and event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            page = self.window.tabs.currentWidget()
            opening = page.opening
            print("FIRST_PAINT " + json.dumps({
                "tab": page.tab_id,
                "documents": [type(d).__name__ for d in self.window.all_documents()],
                "preview": opening.preview.toPlainText() if opening is not None else None,
                "folder_browser": "gui.files.browser" in sys.modules}), flush=True)
            QTimer.singleShot(0, self.window.close)
        return False

def build(*args):
    app, window = real_build(*args)
    window.installEventFilter(FirstPaint(window))
    return app, window

main.build = build
sys.exit(main.main(sys.argv[1:]))
"""


def first_paint(settings_dir: Path, *files: Path) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DATASHELF_SETTINGS_DIR", None)
    done = subprocess.run([sys.executable, "-c", FIRST_PAINT_CHILD, "--settings-dir", str(settings_dir),
                           *map(str, files)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("FIRST_PAINT "))
    return json.loads(line.removeprefix("FIRST_PAINT "))


def test_a_file_on_the_command_line_is_in_its_tab_at_the_first_paint(tmp_path: Path) -> None:
    """Issue 16: the command line's file is sniffed while Qt starts, so the window's first paint
    shows that file's tab: a database with its document already made, a JSON file with its first
    lines (its document follows). Never the Files tab and its folder browser first."""
    import sqlite3

    database = tmp_path / "people.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
    connection.close()
    shown = first_paint(tmp_path / "settings", database)
    assert shown == {"tab": "sqlite", "documents": ["SqlDocument"], "preview": None, "folder_browser": False}

    records = tmp_path / "records.json"
    records.write_text('[{"id": 1},\n {"id": 2}]\n')
    shown = first_paint(tmp_path / "settings2", records)
    assert shown == {"tab": "json", "documents": [], "preview": '[{"id": 1},\n {"id": 2}]\n',
                     "folder_browser": False}


def test_an_empty_launch_and_a_missing_file_still_show_the_files_tab_first(tmp_path: Path) -> None:
    shown = first_paint(tmp_path / "settings")
    assert shown["tab"] == "files"
    assert shown["folder_browser"] is False  # built right after the first paint
    shown = first_paint(tmp_path / "settings2", tmp_path / "gone.db")  # sniffed as usual: it fails
    assert shown["tab"] == "files" and shown["documents"] == []


GC_CHILD = """
import gc, sys
import main
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

real_build = main.build

def build(*args):
    app, window = real_build(*args)
    print("DURING", gc.isenabled(), flush=True)
    def later():
        print("AFTER", gc.isenabled(), gc.get_freeze_count() > 10000, flush=True)
        window.close()
    QTimer.singleShot(main.COLLECT_AFTER_SHOW_MS + 500, later)
    return app, window

main.build = build
sys.exit(main.main(sys.argv[1:]))
"""


def test_the_collector_waits_for_the_window_then_runs_again(tmp_path: Path) -> None:
    """Startup runs without cyclic garbage collection (it only walks what startup made); once the
    window is up, what startup made is frozen out of the walks and collection resumes."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DATASHELF_SETTINGS_DIR", None)
    done = subprocess.run([sys.executable, "-c", GC_CHILD, "--settings-dir", str(tmp_path / "settings")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "DURING False" in lines and "AFTER True True" in lines
