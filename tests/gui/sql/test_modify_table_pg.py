"""Modify Table… on a real PostgreSQL server: ALTER TABLE statements in one transaction (TYPE … USING,
NOT NULL, defaults, constraints, renames), undo and redo, and refusals (reorder, a failing cast)."""

from __future__ import annotations

from pathlib import Path

from gui.sql.table_dialog import CHECK, DEFAULT, NAME, NOT_NULL, TYPE, UNIQUE
from tests.gui.sql.test_modify_table import finish, open_modify, row_of
from tests.gui.sql.test_pg import open_pg, run
from tests.gui.sql.test_schema import run_dialog, wait_pushed, wait_tree
from tests.gui.sql.test_schema_pg import columns, query


def fill(url: str) -> None:
    run(url, "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, age text, note text UNIQUE, "
             "score integer CHECK (score > 0))")
    run(url, "INSERT INTO people VALUES (1, 'Ann', '31', NULL, 5), (2, 'Bob', '7', NULL, NULL)")
    run(url, "CREATE INDEX people_age ON people (age)")
    run(url, "CREATE VIEW named AS SELECT id, name FROM people")


def test_modify_table_on_postgresql_with_undo(qtbot, pg_url: str, tmp_path: Path) -> None:
    fill(pg_url)
    document = open_pg(qtbot, pg_url)
    dialog = open_modify(qtbot, document)
    assert dialog.grid.item(row_of(dialog, "note"), UNIQUE).checkState().value == 2
    assert dialog.grid.item(row_of(dialog, "score"), CHECK).text() == "(score > 0)"
    dialog.set_cell(row_of(dialog, "age"), TYPE, "integer")
    dialog.set_cell(row_of(dialog, "age"), DEFAULT, "0")
    dialog.set_cell(row_of(dialog, "name"), NAME, "full name")
    dialog.set_cell(row_of(dialog, "note"), UNIQUE, False)
    dialog.set_cell(row_of(dialog, "score"), CHECK, "")
    dialog.grid.selectRow(row_of(dialog, "note"))
    dialog._on_remove()
    row = dialog.add_column()
    dialog.set_cell(row, NAME, "email")
    dialog.set_cell(row, TYPE, "text")
    dialog.set_cell(row, NOT_NULL, True)
    dialog.set_cell(row, DEFAULT, "'?'")
    dialog.name.setText("persons")
    preview = dialog.preview.toPlainText()
    for line in ["BEGIN;",
                 'ALTER TABLE public.people DROP COLUMN note;',
                 'ALTER TABLE public.people RENAME COLUMN name TO "full name";',
                 "ALTER TABLE public.people ALTER COLUMN age TYPE integer USING age::integer;",
                 "ALTER TABLE public.people ALTER COLUMN age SET DEFAULT 0;",
                 "ALTER TABLE public.people ADD COLUMN email text DEFAULT '?' NOT NULL;",
                 "ALTER TABLE public.people RENAME TO persons;", "COMMIT;"]:
        assert line in preview.splitlines(), line
    assert "DROP CONSTRAINT people_score_check" in preview
    dialog.grab().save(str(tmp_path / "pg_modify_table.png"))
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "modify table people")
    wait_tree(qtbot, document, present="persons")
    assert columns(pg_url, "public", "persons") == ["id", "full name", "age", "score", "email"]
    assert query(pg_url, 'SELECT id, "full name", age, email FROM persons ORDER BY id') == [
        (1, "Ann", 31, "?"), (2, "Bob", 7, "?")]
    assert query(pg_url, "SELECT * FROM named ORDER BY id") == [(1, "Ann"), (2, "Bob")]
    assert query(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'persons' ORDER BY 1") == [
        ("people_age",), ("people_pkey",)]

    document.undo_stack.undo()
    wait_tree(qtbot, document, present="people")
    assert columns(pg_url, "public", "people") == ["id", "name", "age", "score", "note"]
    rows = query(pg_url, "SELECT id, name, age FROM people ORDER BY id")
    assert rows == [(1, "Ann", "31"), (2, "Bob", "7")]
    kinds = query(pg_url, "SELECT contype FROM pg_constraint WHERE conrelid = 'people'::regclass ORDER BY 1")
    assert kinds == [("c",), ("p",), ("u",)]
    document.undo_stack.redo()
    wait_tree(qtbot, document, present="persons")
    assert columns(pg_url, "public", "persons") == ["id", "full name", "age", "score", "email"]
    finish(qtbot, document)


def test_postgresql_refuses_reorder_and_rolls_back_a_failing_cast(qtbot, pg_url: str) -> None:
    fill(pg_url)
    run(pg_url, "UPDATE people SET age = 'old' WHERE id = 2")
    document = open_pg(qtbot, pg_url)
    dialog = open_modify(qtbot, document)
    assert not dialog.up.isEnabled() and "cannot reorder" in dialog.up.toolTip()
    dialog.move_row(row_of(dialog, "age"), -1)  # (as a program could): the plan refuses it too
    assert "cannot reorder" in dialog.error.text() and not dialog.run_button.isEnabled()
    dialog.move_row(row_of(dialog, "age"), 1)
    dialog.set_cell(row_of(dialog, "name"), NAME, "label")
    dialog.set_cell(row_of(dialog, "age"), TYPE, "integer")
    run_dialog(qtbot, document, dialog)
    qtbot.waitUntil(lambda: "Not changed" in document.message.text(), timeout=10_000)
    wait_tree(qtbot, document, present="people")
    assert columns(pg_url, "public", "people") == ["id", "name", "age", "note", "score"]  # nothing ran
    assert document.undo_stack.count() == 0
    finish(qtbot, document)


def test_drop_empty_table_on_postgresql_is_undone_with_its_definition(qtbot, pg_url: str) -> None:
    run(pg_url, "CREATE TABLE owners (id serial PRIMARY KEY, name text)")
    run(pg_url, "INSERT INTO owners (name) VALUES ('a'), ('b')")
    run(pg_url, 'CREATE TABLE "my pets" (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                "owner integer REFERENCES owners(id) ON DELETE CASCADE, name text NOT NULL DEFAULT '?' "
                "CHECK (name <> ''), tag varchar(20) UNIQUE, n serial)")
    run(pg_url, 'CREATE INDEX pets_name ON "my pets" (lower(name)) WHERE tag IS NOT NULL')
    run(pg_url, "CREATE FUNCTION nop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
    run(pg_url, 'CREATE TRIGGER pets_nop BEFORE INSERT ON "my pets" FOR EACH ROW EXECUTE FUNCTION nop()')
    run(pg_url, "SELECT nextval('\"my pets_n_seq\"'), nextval('\"my pets_n_seq\"')")
    definition = """SELECT (SELECT string_agg(pg_get_constraintdef(oid), '; ' ORDER BY conname)
                            FROM pg_constraint WHERE conrelid = '"my pets"'::regclass),
                           (SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes
                            WHERE tablename = 'my pets'),
                           (SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable || ' '
                                   || coalesce(column_default, '') || is_identity, '; '
                                   ORDER BY ordinal_position)
                            FROM information_schema.columns WHERE table_name = 'my pets'),
                           (SELECT tgname FROM pg_trigger WHERE tgrelid = '"my pets"'::regclass
                            AND NOT tgisinternal)"""
    before = query(pg_url, definition)
    document = open_pg(qtbot, pg_url)
    wait_tree(qtbot, document, present="my pets")
    document.schema_edit.drop_table("my pets")
    qtbot.waitUntil(lambda: document.schema_edit.schema_dialog is not None, timeout=20_000)
    dialog = document.schema_edit.schema_dialog
    assert "Cannot be undone" not in dialog.preview.toPlainText()
    assert "grants and comments are not kept" in dialog.preview.toPlainText()
    run_dialog(qtbot, document, dialog)
    wait_pushed(qtbot, document, "drop table my pets")
    wait_tree(qtbot, document, absent="my pets")
    document.undo_stack.undo()
    wait_tree(qtbot, document, present="my pets")
    assert query(pg_url, definition) == before
    assert query(pg_url, "SELECT nextval('\"my pets_n_seq\"')") == [(3,)]
    document.undo_stack.redo()
    wait_tree(qtbot, document, absent="my pets")
    assert query(pg_url, "SELECT to_regclass('\"my pets\"')") == [(None,)]
    finish(qtbot, document)
