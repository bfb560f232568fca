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
