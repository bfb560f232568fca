"""Live refresh: the file watcher sees other programs' writes; the document's own writes are not
taken for external changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.gui.sql.test_sql import close, make_db, open_document, wait_cell, wait_rows


@pytest.mark.parametrize("wal", [False, True])
def test_the_file_watcher_sees_an_external_write(qtbot, tmp_path: Path, wal: bool) -> None:
    path = make_db(tmp_path / "t.db", rows=200, wal=wal)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 200)
    wait_cell(qtbot, document, 150, 1)
    document.live_refresh.poll_timer.stop()  # no polling: only the watcher can notice
    assert str(path) in document.live_refresh.file_watcher.files()
    other = sqlite3.connect(path)
    other.execute("UPDATE \"order\" SET \"na me\" = 'from elsewhere' WHERE id = 151")
    other.execute("INSERT INTO \"order\" (id) VALUES (1000)")
    other.commit()
    other.close()
    qtbot.waitUntil(lambda: document.model.index(150, 1).data() == "from elsewhere", timeout=10_000)
    wait_rows(qtbot, document, 201)
    assert document.live_refresh.external_reloads == 1  # a burst of writes reloads once (debounced)
    close(document)


def test_own_writes_are_not_external_changes(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=50)
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 50)
    wait_cell(qtbot, document, 3, 1)
    document.edits.edit_cell(3, 1, "mine")
    document.edits.insert_row()
    wait_rows(qtbot, document, 51)
    qtbot.wait(400)  # let the watcher's debounce run: it must find nothing new
    document.live_refresh.tick()  # and the polling fallback agrees
    assert document.live_refresh.external_reloads == 0
    close(document)
