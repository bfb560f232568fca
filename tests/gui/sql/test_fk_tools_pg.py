"""Foreign keys and SQL tools in a PostgreSQL document (a real server, see tests/support/pg_server.py)."""

from __future__ import annotations

import sqlalchemy as sa
from PySide6.QtCore import Qt

from gui.sql.document import SqlDocument
from gui.sql.fk_editor import FkEditor
from tests.gui.sql.test_sql import wait_cell, wait_rows

SETUP = """
CREATE TABLE artist (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE album (id integer PRIMARY KEY, title text, artist_id integer REFERENCES artist(id));
INSERT INTO artist SELECT i, 'Artist ' || lpad(i::text, 4, '0') FROM generate_series(1, 300) i;
UPDATE artist SET name = 'Led Zeppelin' WHERE id = 77;
INSERT INTO album VALUES (1, 'IV', 77), (2, 'Back in Black', 3), (3, 'Orphan', NULL);
"""


def scalar(url: str, sql: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def open_pg(qtbot, pg_url: str) -> SqlDocument:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        for statement in SETUP.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()
    document = SqlDocument(None, "sqlite", url=pg_url)
    qtbot.addWidget(document)
    document.resize(1000, 600)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded and document.schema is not None, timeout=20_000)
    assert document.db_kind() == "postgresql"
    document.tree.setCurrentItem(document.tree.table_item("album"))
    wait_rows(qtbot, document, 3)
    qtbot.waitUntil(lambda: "album" in document.fks.cache, timeout=10_000)
    return document


def test_pg_choose_a_referenced_row_jump_and_back(qtbot, pg_url: str) -> None:
    document = open_pg(qtbot, pg_url)
    column = [c.name for c in document.table.columns].index("artist_id")
    wait_cell(qtbot, document, 1, column)
    index = document.model.index(1, column)
    document.grid.setCurrentIndex(index)
    document.grid.edit(index)
    editor = document.grid.findChild(FkEditor)
    qtbot.waitUntil(lambda: len(editor.choices_model.items) > 0, timeout=10_000)
    assert editor.choices_model.labels[0] == "1 — Artist 0001"
    with qtbot.waitSignal(editor.searched, timeout=10_000):
        editor.clear()
        qtbot.keyClicks(editor, "ZEPP")
    assert editor.choices_model.labels == ["77 — Led Zeppelin"]
    editor.choose(0)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: scalar(pg_url, "SELECT artist_id FROM album WHERE id = 2") == 77, timeout=10_000)
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: scalar(pg_url, "SELECT artist_id FROM album WHERE id = 2") == 3, timeout=10_000)
    wait_cell(qtbot, document, 0, column)
    assert document.fks.go_to_referenced(document.model.index(0, column))
    qtbot.waitUntil(lambda: document.table.name == "artist" and document.model.rowCount() == 1,
                    timeout=10_000)
    assert wait_cell(qtbot, document, 0, 1) == "Led Zeppelin"
    qtbot.waitUntil(lambda: document.grid.currentIndex().row() == 0, timeout=10_000)
    document.fks.go_back()
    qtbot.waitUntil(lambda: document.table.name == "album" and document.model.rowCount() == 3,
                    timeout=10_000)
    document.close_document()


def test_pg_explain_tree_and_analyze(qtbot, qtmodeltester, pg_url: str) -> None:
    document = open_pg(qtbot, pg_url)
    document.tools.menu().aboutToShow.emit()
    assert not document.tools.tool_actions["integrity"].isEnabled()  # SQLite's own checks
    assert document.tools.tool_actions["explain_analyze"].isEnabled()
    dialog = document.tools.analyze(table_only=False)
    qtbot.waitUntil(lambda: dialog.finished_ok, timeout=20_000)
    assert "statistics updated" in dialog.status.text()
    dialog = document.tools.analyze(table_only=True)
    qtbot.waitUntil(lambda: dialog.finished_ok, timeout=20_000)
    assert "ANALYZE album" in dialog.status.text()
    sql = "SELECT b.title, a.name FROM album b JOIN artist a ON a.id = b.artist_id ORDER BY b.title"
    plan = document.tools.explain_query(sql=sql)
    qtbot.waitUntil(lambda: plan.finished_ok, timeout=20_000)
    qtmodeltester.check(plan.plan_model, force_py=True)
    model = plan.plan_model
    top = model.index(0, 0)
    assert top.isValid() and model.rowCount(top) >= 1
    assert model.index(0, 2).data()  # a cost
    assert not plan.tree.isColumnHidden(2) and plan.tree.isColumnHidden(4)  # no times without ANALYZE
    analyzed = document.tools.explain_query(analyze=True, sql=sql, ask=False)
    qtbot.waitUntil(lambda: analyzed.finished_ok, timeout=20_000)
    assert "EXPLAIN ANALYZE" in analyzed.status.text() and "execution" in analyzed.status.text()
    assert analyzed.plan_model.index(0, 4).data().endswith("ms")
    document.close_document()
