"""File ▸ Convert… of a pickled DataFrame (and a NumPy 2-D array) shown as a grid in the Objects
tab: the real window, the shared Convert dialog, the result read back with pyarrow, pandas and
sqlite3 and compared cell by cell and type by type with the real frame."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.common.convert_dialog import ConvertDialog
from storage.core.convert import Target
from tests.gui.objects.test_objects import open_one
from tests.storage.formats.objects.pickle.test_frame_rows import ARROW, SQLITE, columns_of, frame, same_cell
from tests.support.gui_helpers import wait_documents

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")


def open_dialog(qtbot, window, document, through_menu: bool = True) -> ConvertDialog:
    """Convert… from the File menu (or the grid's button), and the dialog it opens."""
    if through_menu:
        window.actions.convert.trigger()
    else:
        qtbot.mouseClick(document.view.frame_pane.convert_button, Qt.MouseButton.LeftButton)
    def shown() -> list[ConvertDialog]:
        return [d for d in document.findChildren(ConvertDialog) if d.isVisible()]

    qtbot.waitUntil(lambda: len(shown()) == 1)
    return shown()[0]


def run(qtbot, document, dialog: ConvertDialog, fmt: str, path: Path, table: str = "") -> str:
    dialog.set_format(fmt)
    dialog.path.setText(str(path))
    dialog.path.editingFinished.emit()
    if table:
        dialog.table.setText(table)
    dialog.open_after.setChecked(False)
    document.message.hide()  # the last conversion's outcome
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(document.message.isVisible, timeout=20_000)
    return document.message.text()


def test_a_pickled_dataframe_converts_to_parquet_and_sqlite_keeping_its_types(qtbot, tmp_path: Path) -> None:
    f = frame()
    path = tmp_path / "weather.pkl"
    f.to_pickle(path)
    window, document = open_one(qtbot, tmp_path, path)
    assert window.actions.convert.isEnabled()  # the grid shows a table

    dialog = open_dialog(qtbot, window, document)
    assert dialog.path.text() == str(tmp_path / "weather.csv")  # beside the pickle
    assert dialog.table.text() == "weather" and not dialog.warning.isVisible()
    if shot := os.environ.get("DFCONVERT_SHOT"):
        save_with_dialog(qtbot, window, dialog, shot)
    text = run(qtbot, document, dialog, "parquet", tmp_path / "weather.parquet")
    assert f"Converted {len(f)} rows" in text
    read = pq.read_table(tmp_path / "weather.parquet")
    expected = columns_of(f)
    assert read.column_names == [name for name, _ in expected]
    for name, values in expected:
        assert str(read.schema.field(name).type) == ARROW[name], name
        if name != "object":
            for row, (a, b) in enumerate(zip(read.column(name).to_pylist(), values, strict=True)):
                assert same_cell(a, b), f"{name}[{row}]: {a!r} != {b!r}"
    assert str(pd.read_parquet(tmp_path / "weather.parquet")["tz_paris"].dt.tz) == "Europe/Paris"

    dialog = open_dialog(qtbot, window, document, through_menu=False)  # the grid's own Convert…
    run(qtbot, document, dialog, "sqlite", tmp_path / "records.sqlite", table="weather")
    conn = sqlite3.connect(tmp_path / "records.sqlite")
    declared = {row[1]: row[2] for row in conn.execute('PRAGMA table_info("weather")')}
    rows = conn.execute('SELECT * FROM "weather"').fetchall()
    conn.close()
    assert declared == {name: SQLITE[name] for name, _ in expected}
    names = [name for name, _ in expected]
    by_name = dict(expected)
    for name in ("int", "Int64", "float", "str", "category", "ordered"):
        column = [row[names.index(name)] for row in rows]
        assert all(same_cell(a, b) for a, b in zip(column, by_name[name], strict=True)), name
    assert [row[names.index("boolean")] for row in rows][:3] == [1, None, 0]
    assert rows[0][names.index("tz_paris")] == "2024-03-30 00:00:00+01:00"
    assert rows[0][names.index("date")] == "2024-01-01"
    assert pd.to_timedelta(rows[1][names.index("timedelta")]) == pd.Timedelta(seconds=-1)
    if shot := os.environ.get("DFCONVERT_RESULTS_SHOT"):  # the outcome, then the results in their tabs
        window.resize(1200, 520)
        qtbot.wait(300)
        window.grab().save(shot.replace(".png", "-message.png"))
        window.open_paths([str(tmp_path / "weather.parquet"), str(tmp_path / "records.sqlite")])
        qtbot.waitUntil(lambda: len(window.all_documents()) == 3 and all(
            d.is_loaded for d in window.all_documents()), timeout=10_000)
        window.resize(1300, 520)
        window.tabs.setCurrentWidget(window.page("tables"))
        qtbot.wait(600)
        window.grab().save(shot.replace(".png", "-parquet.png"))
        [sql] = window.page("sqlite").all_documents()
        qtbot.waitUntil(lambda: sql.schema is not None and "weather" in sql.tree.items, timeout=10_000)
        sql.tree.setCurrentItem(sql.tree.items["weather"])
        window.tabs.setCurrentWidget(window.page("sqlite"))
        qtbot.wait(600)
        window.grab().save(shot.replace(".png", "-sqlite.png"))


def save_with_dialog(qtbot, window, dialog: ConvertDialog, shot: str) -> None:
    """The window with the (separate, top-level) dialog painted where it sits."""
    from PySide6.QtGui import QPainter

    window.resize(1200, 620)
    dialog.set_format("sqlite")
    qtbot.wait(200)
    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(window.mapFromGlobal(dialog.frameGeometry().topLeft()), dialog.grab())
    painter.end()
    picture.save(shot)


def test_csv_and_json_lines_of_a_multiindex_frame(qtbot, tmp_path: Path) -> None:
    index = pd.MultiIndex.from_tuples([("north", 2023), ("north", 2024), ("south", 2024)],
                                      names=["region", "year"])
    when = pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01 00:00"]).tz_localize("UTC")
    f = pd.DataFrame({"sales": pd.array([10, None, 30], dtype="Int64"), "when": when}, index=index)
    path = tmp_path / "sales.pkl"
    f.to_pickle(path)
    window, document = open_one(qtbot, tmp_path, path)
    run(qtbot, document, open_dialog(qtbot, window, document), "csv", tmp_path / "sales.csv")
    back = pd.read_csv(tmp_path / "sales.csv", dtype_backend="numpy_nullable")
    assert list(back.columns) == ["region", "year", "sales", "when"]
    assert back["region"].tolist() == ["north", "north", "south"]
    assert back["year"].tolist() == [2023, 2024, 2024]
    assert str(back["sales"].dtype) == "Int64" and back["sales"].isna().tolist() == [False, True, False]
    assert pd.to_datetime(back["when"], utc=True, format="ISO8601").equals(f["when"].reset_index(drop=True))
    run(qtbot, document, open_dialog(qtbot, window, document), "jsonl", tmp_path / "sales.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "sales.jsonl").read_text().splitlines()]
    assert lines[1] == {"region": "north", "year": 2024, "sales": None, "when": None}
    assert lines[0]["when"] == "2024-01-01 10:00:00+00:00"


def test_convert_is_enabled_only_while_a_table_is_shown(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "run.pkl"
    grid = np.arange(6, dtype=np.int16).reshape(3, 2)
    path.write_bytes(pickle.dumps({"name": "run 1", "table": pd.DataFrame({"a": [1, 2]}), "grid": grid,
                                   "flat": np.arange(4)}, protocol=4))
    window, document = open_one(qtbot, tmp_path, path)
    view = document.view
    for key, shown in (("name", False), ("table", True), ("flat", False), ("grid", True)):
        assert view.select_path([0, key])
        assert window.actions.convert.isEnabled() is shown, key
        assert document.can_convert() is shown, key
    assert view.select_path([0, "flat"])
    assert not view.array_pane.convert_button.isVisibleTo(view)  # a 1-D array is no table
    assert view.select_path([0, "grid"])
    assert view.array_pane.convert_button.isVisibleTo(view)
    qtbot.mouseClick(view.array_pane.convert_button, Qt.MouseButton.LeftButton)  # the array's own button
    dialog = document.findChild(ConvertDialog)
    assert dialog is not None and dialog.table.text() == "grid"  # its columns, 0 and 1, keep their type
    run(qtbot, document, dialog, "parquet", tmp_path / "grid.parquet")
    read = pq.read_table(tmp_path / "grid.parquet")
    assert read.column_names == ["0", "1"] and [str(t) for t in read.schema.types] == ["int64", "int64"]
    assert [list(r.values()) for r in read.to_pylist()] == grid.tolist()
    assert view.select_path([0, "name"])
    assert document.ask_convert() is None  # nothing to convert: no dialog


def test_a_column_not_rebuilt_is_announced_before_running_and_written_as_text(qtbot, tmp_path: Path) -> None:
    f = pd.DataFrame({"month": pd.period_range("2024-01", periods=3, freq="M"), "n": [1, 2, 3]})
    path = tmp_path / "periods.pkl"
    f.to_pickle(path)
    window, document = open_one(qtbot, tmp_path, path)
    dialog = open_dialog(qtbot, window, document)
    assert dialog.warning.isVisible() and "'month'" in dialog.warning.text()
    assert "written as the text" in dialog.warning.text()
    if shot := os.environ.get("DFCONVERT_RAW_SHOT"):
        save_with_dialog(qtbot, window, dialog, shot)
    run(qtbot, document, dialog, "sqlite", tmp_path / "periods.sqlite", table="periods")
    conn = sqlite3.connect(tmp_path / "periods.sqlite")
    kinds = conn.execute("SELECT typeof(month), typeof(n) FROM periods").fetchall()
    assert kinds == [("text", "integer")] * 3
    conn.close()


def test_an_sqlite_target_opens_in_the_sql_tab_when_asked(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "people.pkl"
    people = pd.DataFrame({"name": ["Ada", "Bob"], "age": [36, 41]}, index=pd.Index(["a", "b"], name="id"))
    people.to_pickle(path)
    window, document = open_one(qtbot, tmp_path, path)
    dialog = open_dialog(qtbot, window, document)
    dialog.set_format("sqlite")
    assert dialog.path.text() == str(tmp_path / "people.sqlite") and dialog.open_after.isChecked()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.page("sqlite").all_documents()) == 1, timeout=10_000)
    assert window.tabs.currentWidget() is window.page("sqlite")
    assert len(wait_documents(qtbot, window, 2)) == 2
    conn = sqlite3.connect(tmp_path / "people.sqlite")
    assert conn.execute("SELECT * FROM people").fetchall() == [("a", "Ada", 36), ("b", "Bob", 41)]
    conn.close()
    if shot := os.environ.get("DFCONVERT_SQL_SHOT"):
        [sql] = window.page("sqlite").all_documents()
        qtbot.waitUntil(lambda: sql.schema is not None and "people" in sql.tree.items, timeout=10_000)
        sql.tree.setCurrentItem(sql.tree.items["people"])
        window.resize(1000, 500)
        qtbot.wait(500)
        window.grab().save(shot)


def test_cancel_leaves_no_file(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    pd.DataFrame({"v": np.arange(300_000), "w": np.arange(300_000) * 0.5}).to_pickle(path)
    _window, document = open_one(qtbot, tmp_path, path)
    target = tmp_path / "big.csv"
    conversion = document.converter.convert_to(Target("csv", str(target)))
    assert conversion is not None
    conversion.progress.canceled.emit()  # what the progress dialog's Cancel button sends
    qtbot.waitUntil(lambda: "cancelled" in document.message.text(), timeout=20_000)
    assert "nothing was written" in document.message.text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["big.pkl"]


def test_a_failure_leaves_an_existing_target_unchanged(qtbot, tmp_path: Path) -> None:
    # the first 1,000 values are integers, a later one text: Parquet keeps one type per column
    values = list(range(3000))
    values[2500] = "three"
    path = tmp_path / "mixed.pkl"
    pd.DataFrame({"v": pd.Series(values, dtype=object)}).to_pickle(path)
    target = tmp_path / "mixed.parquet"
    target.write_bytes(b"the old file")
    records = tmp_path / "records.sqlite"
    conn = sqlite3.connect(records)
    conn.execute("CREATE TABLE mixed (other TEXT)")
    conn.execute("INSERT INTO mixed VALUES ('kept')")
    conn.commit()
    conn.close()
    before = records.read_bytes()
    window, document = open_one(qtbot, tmp_path, path)
    text = run(qtbot, document, open_dialog(qtbot, window, document), "parquet", target)
    assert "Row 2,501" in text and "'three'" in text
    assert target.read_bytes() == b"the old file"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    dialog = open_dialog(qtbot, window, document)
    dialog.set_format("sqlite")
    dialog.path.setText(str(records))
    dialog.path.editingFinished.emit()
    assert dialog.append.isChecked()  # the file has a table named mixed
    dialog.open_after.setChecked(False)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "has no column" in document.message.text(), timeout=20_000)
    assert records.read_bytes() == before
