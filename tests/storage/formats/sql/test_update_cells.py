"""update_cells: many cells in one transaction, each checked as update_cell checks one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.core.errors import KnownError
from storage.formats.sql.edit import CellWrite, Conflict, update_cells


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM t ORDER BY id").fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, "x", 1), (2, "y", 2)])
    return path


def test_all_cells_or_none(db: Path) -> None:
    update_cells(str(db), "t", [CellWrite({"id": 1}, "a", "p", "x"), CellWrite({"id": 2}, "b", 5, 2)])
    assert rows(db) == [(1, "p", 1), (2, "y", 5)]
    with pytest.raises(KnownError, match="NOT NULL"):
        update_cells(str(db), "t", [CellWrite({"id": 1}, "b", 9, 1), CellWrite({"id": 2}, "a", None, "y")])
    assert rows(db) == [(1, "p", 1), (2, "y", 5)]  # the first cell was rolled back too


def test_a_changed_cell_is_a_conflict_at_its_position(db: Path) -> None:
    with pytest.raises(Conflict) as caught:
        update_cells(str(db), "t", [CellWrite({"id": 1}, "b", 7, 1), CellWrite({"id": 2}, "b", 8, 3)])
    assert caught.value.items == [(1, 2)]  # the second cell holds 2, not the 3 we read
    assert rows(db) == [(1, "x", 1), (2, "y", 2)]
    update_cells(str(db), "t", [CellWrite({"id": 2}, "b", 2, 3)])  # holds the new value already: fine


def test_all_or_none_on_postgres(pg_url: str) -> None:
    from storage.formats.sql.url import open_database_url
    from tests.gui.sql.test_pg import run, scalar

    run(pg_url, "DROP TABLE IF EXISTS cells; CREATE TABLE cells (id integer PRIMARY KEY, "
                "a text NOT NULL, b integer); INSERT INTO cells VALUES (1, 'x', 1), (2, 'y', 2)")
    db = open_database_url(pg_url)
    try:
        update_cells(db, "cells", [CellWrite({"id": 1}, "a", "p", "x"), CellWrite({"id": 2}, "b", "5", 2)])
        assert scalar(pg_url, "SELECT a || b FROM cells WHERE id = 1") == "p1"
        assert scalar(pg_url, "SELECT b FROM cells WHERE id = 2") == 5  # text read as the column's type
        with pytest.raises(Conflict) as caught:
            update_cells(db, "cells", [CellWrite({"id": 1}, "b", "9", 1), CellWrite({"id": 2}, "b", "8", 3)])
        assert caught.value.items == [(1, 5)]
        with pytest.raises(KnownError):
            update_cells(db, "cells", [CellWrite({"id": 1}, "b", "9", 1),
                                       CellWrite({"id": 2}, "a", None, "y")])
        assert scalar(pg_url, "SELECT b FROM cells WHERE id = 1") == 1  # rolled back both times
    finally:
        db.close()
