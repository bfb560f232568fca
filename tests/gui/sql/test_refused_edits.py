"""An edit the database refuses (a constraint, a malformed value, no permission) fails at once on
both backends: the reason is shown, the cell shows the stored value again, the undo stack has no
entry and nothing is left pending. Only a lost connection (tests/storage/formats/sql/test_pg_failures.py) or a
locked file (tests/gui/sql/test_sql.py) keeps an edit pending with Retry and Discard."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.sql.errors import ConnectionLost, PermissionDenied, ServerUnreachable, worth_retrying
from storage.formats.sql.sqlite_db import LockedError
from tests.gui.sql.test_pg import open_pg, run, scalar, wait_cell, wait_total
from tests.gui.sql.test_sql import open_document, wait_rows
from tests.storage.formats.sql.test_pg_failures import login_role

SCHEMA = ("CREATE TABLE item (id integer PRIMARY KEY, code text UNIQUE, qty integer CHECK (qty > 0), "
          "must text NOT NULL)")
ROWS = "INSERT INTO item VALUES (1, 'A', 1, 'a'), (2, 'B', 2, 'b')"


def sqlite_item(tmp_path: Path) -> tuple[object, object]:
    path = tmp_path / "item.db"
    conn = sqlite3.connect(path)
    conn.execute(SCHEMA)
    conn.execute(ROWS)
    conn.commit()
    conn.close()

    def stored(sql: str):
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchone()[0]

    return path, stored


@pytest.fixture(params=["sqlite", "postgresql"])
def item_document(request, qtbot, tmp_path: Path):
    """(document showing table item, a function reading one stored value)."""
    if request.param == "sqlite":
        path, stored = sqlite_item(tmp_path)
        document = open_document(qtbot, path, read_only=False)
        document.tree.setCurrentItem(document.tree.items["item"])
        wait_rows(qtbot, document, 2)
    else:
        url = request.getfixturevalue("pg_url")
        run(url, SCHEMA + "; " + ROWS)
        document = open_pg(qtbot, url)
        wait_total(qtbot, document, 2)

        def stored(sql: str):
            return scalar(url, sql)

    yield document, stored
    document.close_document()


def assert_refused(document, row: int, column: int, shown: object, words: str) -> None:
    assert words.lower() in document.message.text().lower(), document.message.text()
    assert "Not written" in document.message.text()
    assert document.model.index(row, column).data() == shown  # the stored value, not the typed one
    assert (row, column) not in document.model.failed_edits
    assert document.undo_stack.count() == 0
    assert not document.pending.edits
    assert not document.server_bar.retry_button.isVisibleTo(document)
    assert not document.server_bar.isVisibleTo(document)


def test_constraint_violations_fail_at_once_on_both_backends(qtbot, item_document) -> None:
    document, stored = item_document
    assert wait_cell(qtbot, document, 1, 1) == "B"
    document.edits.edit_cell(1, 1, "A")  # UNIQUE
    assert_refused(document, 1, 1, "B", "unique")  # "UNIQUE constraint failed" / "violates unique"
    document.edits.edit_cell(1, 2, "-5")  # CHECK
    assert_refused(document, 1, 2, "2", "check")
    document.edits.edit_cell(1, 3, None)  # NOT NULL
    assert_refused(document, 1, 3, "b", "null")
    assert stored("SELECT code || qty || must FROM item WHERE id = 2") == "B2b"
    # a good edit after the refusals is written and undoable as usual
    document.edits.edit_cell(1, 2, "7")
    assert stored("SELECT qty FROM item WHERE id = 2") == 7
    assert document.undo_stack.count() == 1 and document.model.index(1, 2).data() == "7"
    document.undo_stack.undo()
    assert stored("SELECT qty FROM item WHERE id = 2") == 2


def test_a_malformed_value_fails_at_once_on_a_server(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE arr (id int PRIMARY KEY, nums int[], at date)")
    run(pg_url, "INSERT INTO arr VALUES (1, '{1,2}', '2024-01-02')")
    document = open_pg(qtbot, pg_url)
    wait_total(qtbot, document, 1)
    assert wait_cell(qtbot, document, 0, 1) == "{1,2}"
    document.edits.edit_cell(0, 1, "not an array")
    assert_refused(document, 0, 1, "{1,2}", "malformed array literal")
    document.edits.edit_cell(0, 2, "the 40th of May")
    assert_refused(document, 0, 2, "2024-01-02", "date")
    assert scalar(pg_url, "SELECT nums FROM arr") == [1, 2]
    document.close_document()


def test_permission_denied_on_update_fails_at_once(qtbot, pg_url: str) -> None:
    with login_role(pg_url, "CREATE TABLE ro (id int PRIMARY KEY, v text); "
                            "INSERT INTO ro VALUES (1, 'kept'); GRANT SELECT ON ro TO {role}") as url:
        document = open_pg(qtbot, url)
        wait_total(qtbot, document, 1)
        assert wait_cell(qtbot, document, 0, 1) == "kept"
        document.edits.edit_cell(0, 1, "changed")
        assert_refused(document, 0, 1, "kept", "permission")
        assert "GRANT" in document.message.text()
        document.close_document()
        assert scalar(pg_url, "SELECT v FROM ro") == "kept"


def test_which_failures_are_worth_retrying() -> None:
    assert worth_retrying(ConnectionLost("gone")) and worth_retrying(ServerUnreachable("down"))
    assert worth_retrying(LockedError("locked"))
    assert not worth_retrying(PermissionDenied("no"))
    assert not worth_retrying(KnownError("duplicate key value violates unique constraint"))


def test_an_edit_to_a_row_read_again_meanwhile_is_refused_aloud(qtbot, tmp_path: Path) -> None:
    """A cell committed while its row's page was dropped (the table changed and is being read
    again) cannot be matched to its row: it is said, not dropped in silence."""
    path, stored = sqlite_item(tmp_path)
    document = open_document(qtbot, path, read_only=False)
    document.tree.setCurrentItem(document.tree.items["item"])
    wait_rows(qtbot, document, 2)
    wait_cell(qtbot, document, 0, 1)
    document.model.cached_row = lambda row: None  # as while a refresh reads the page again
    document.edits.edit_cell(0, 1, "Z")
    assert "Not written" in document.message.text() and "read again" in document.message.text()
    assert stored("SELECT code FROM item WHERE id = 1") == "A"
    assert document.undo_stack.count() == 0
    document.close_document()
