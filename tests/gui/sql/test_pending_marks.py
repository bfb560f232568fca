"""Pending edits (restored from the crash journal, or kept after a failed write) are marked in the
grid by row key: the cell of the row holding the key shows the pending value and the mark, whatever
the sort, filter or page; a row not loaded gets its mark when its page arrives (issue 19 leftovers).
On real PostgreSQL and MariaDB servers, and on an SQLite file whose write was locked out."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from storage.recovery.payload import pack_sql_edits
from tests.gui.sql.test_pg import open_pg, wait_cell, wait_total
from tests.storage.formats.sql.test_edits_server import table_t, values_of
from tests.support.gui_helpers import edit_while_locked

TOOLTIP = Qt.ItemDataRole.ToolTipRole


def _payload(schema: str | None, *edits: tuple[int, str]) -> bytes:
    """A crash journal's sql-edits: ``v`` of row ``id`` set to the text; the row numbers saved
    are the ones they had in the unsorted grid (id - 1)."""
    return pack_sql_edits([{"table": "t", "schema": schema, "key": {"id": ident}, "row": ident - 1,
                            "column": 1, "name": "v", "old": f"v{ident}", "new": new, "decl_type": "text",
                            "check_in_sql": True, "error": "kept"} for ident, new in edits])


def _marked(document) -> dict[int, str]:
    """Marked rows of the grid -> the id shown in that row."""
    model = document.model
    return {row: model.index(row, 0).data() for (row, column) in model.failed_edits if column == 1}


def test_restored_edits_are_marked_on_the_row_of_their_key(qtbot, qtmodeltester, server_url: str) -> None:
    table_t(server_url, 2000)
    document = open_pg(qtbot, server_url)
    wait_total(qtbot, document, 2000)
    wait_cell(qtbot, document, 0, 1)
    document.browse.sort_by("id")
    document.browse.sort_by("id")  # descending: id 2000 is row 0, id 1 the last row
    wait_total(qtbot, document, 2000)
    document.restore_from_journal(_payload(document.table.schema, (1, "pending one"), (3, "pending three")))
    qtmodeltester.check(document.model)
    assert document.pending_count() == 2
    assert wait_cell(qtbot, document, 0, 1) == "v2000"  # row 0 held id 1 when the edit was made
    assert (0, 1) not in document.model.failed_edits and (2, 1) not in document.model.failed_edits
    # the rows of ids 1 and 3 are on the last page, not loaded yet: marked as it arrives
    assert wait_cell(qtbot, document, 1999, 1) == "pending one"
    assert wait_cell(qtbot, document, 1997, 1) == "pending three"
    assert "Not written" in document.model.index(1999, 1).data(TOOLTIP)
    assert document.model.index(1998, 1).data() == "v2"
    qtmodeltester.check(document.model)

    # a filter: the rows move again, the marks follow their keys
    document.browse.set_filter("id", "between", "1", "5")
    wait_total(qtbot, document, 5)
    assert [wait_cell(qtbot, document, row, 1) for row in range(5)] == \
        ["v5", "v4", "pending three", "v2", "pending one"]
    assert sorted(_marked(document)) == [2, 4]
    qtmodeltester.check(document.model)
    document.browse.set_filter("id", "between", "2", "2")  # neither row shown: no mark anywhere
    wait_total(qtbot, document, 1)
    assert wait_cell(qtbot, document, 0, 1) == "v2" and not document.model.failed_edits
    document.browse.set_filter("id", "between", "1", "5")
    wait_total(qtbot, document, 5)
    wait_cell(qtbot, document, 4, 1)

    # Retry writes each by key; the grid shows the values unmarked, on their own rows
    assert values_of(server_url, 1, 3) == ["v1", "v3"]
    document.server_bar.retry_button.click()
    assert values_of(server_url, 1, 2, 3) == ["pending one", "v2", "pending three"]
    assert not document.pending.edits and not document.model.failed_edits
    assert [wait_cell(qtbot, document, row, 1) for row in range(5)] == \
        ["v5", "v4", "pending three", "v2", "pending one"]
    document.close_document()


def test_a_failed_edit_keeps_its_mark_on_its_row_through_a_sort(qtbot, qtmodeltester, tmp_path: Path) -> None:
    """An edit a lock kept out stays pending: after a sort its mark is on the row it belongs to."""
    from tests.gui.sql.test_sql import open_document, wait_rows

    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(1, 1001)])
    document = open_document(qtbot, path, read_only=False)
    wait_rows(qtbot, document, 1000)
    wait_cell(qtbot, document, 0, 1)
    edit_while_locked(document, path, 0, 1, "blocked")
    assert document.pending_count() == 1 and document.model.index(0, 1).data() == "blocked"
    document.browse.sort_by("id")
    document.browse.sort_by("id")  # descending
    wait_rows(qtbot, document, 1000)
    assert wait_cell(qtbot, document, 0, 1) == "v1000" and (0, 1) not in document.model.failed_edits
    assert wait_cell(qtbot, document, 999, 1) == "blocked"
    qtmodeltester.check(document.model)
    document.retry_pending_edits()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone()[0] == "blocked"
        assert conn.execute("SELECT v FROM t WHERE id = 1000").fetchone()[0] == "v1000"
    assert not document.model.failed_edits and document.model.index(999, 1).data() == "blocked"
    assert document.model.index(0, 1).data() == "v1000"
    document.close_document()
