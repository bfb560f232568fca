"""Child process for tests/gui/recovery/test_journal.py: open files, edit them, wait for the journal, hang.

The test kills this process with SIGKILL once it prints JOURNALED: a real crash, with no
closeEvent, no settings save and no journal cleanup.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    settings_dir, text_path, json_path, pickle_path = sys.argv[1:5]
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtTest import QTest

    import main as app_main

    _app, window = app_main.build(["--settings-dir", settings_dir, text_path, json_path, pickle_path])
    window.show()
    deadline = time.monotonic() + 30

    def pump(until) -> None:
        while not until():
            if time.monotonic() > deadline:
                print("TIMEOUT", flush=True)
                sys.exit(3)
            QCoreApplication.processEvents()
            time.sleep(0.01)

    pump(lambda: len(window.all_documents()) == 3 and all(d.is_loaded for d in window.all_documents()))
    for document in window.all_documents():
        if document.path == str(Path(text_path).resolve()):
            editor = document.pages["text"].editor
            editor.moveCursor(editor.textCursor().MoveOperation.End)
            QTest.keyClicks(editor, "typed before the crash")
        elif document.path == str(Path(json_path).resolve()):
            index = document.model.index_for_path(["name"]).siblingAtColumn(1)
            assert document.model.setData(index, "crashed edit")
        else:
            index = document.view.model.index_for_path([0, "count"]).siblingAtColumn(1)
            assert document.view.model.setData(index, "41")
    journal = Path(settings_dir) / "journal"
    pump(lambda: journal.is_dir() and len(list(journal.glob("session-*/*.json"))) == 3
         and window.journal.is_idle())
    print("JOURNALED", flush=True)
    while True:  # wait to be killed
        QCoreApplication.processEvents()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
