"""Convert… in the JSON tab's table mode: an array of records becomes Parquet with its types."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from PySide6.QtCore import Qt

from gui.common.convert_dialog import ConvertDialog
from tests.gui.json.test_json import write_sample
from tests.support.gui_helpers import launch, wait_documents


def test_records_convert_to_parquet(qtbot, tmp_path, _private_dirs) -> None:
    value = {"meta": {"n": 2}, "rows": [{"id": 1, "name": "a", "price": 2.5, "tags": ["x"]},
                                        {"id": 2, "name": "b", "price": 3, "ok": True}]}
    path = write_sample(tmp_path, "shop.json", value)
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1)
    document.set_mode("table")
    panel = document.table_panel
    assert panel.convert_button.isEnabled()
    qtbot.mouseClick(panel.convert_button, Qt.MouseButton.LeftButton)
    dialog = panel.findChild(ConvertDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.set_format("parquet")
    assert dialog.path.text() == str(tmp_path / "shop.parquet")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Converted 2 rows" in document.message.text(), timeout=10_000)
    table = pq.read_table(tmp_path / "shop.parquet")
    assert table.schema.names == ["id", "name", "price", "tags", "ok"]
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("price").type == pa.float64()
    assert table.column("price").to_pylist() == [2.5, 3.0]
    assert table.column("ok").to_pylist() == [None, True]


def test_file_convert_opens_the_records_dialog(qtbot, tmp_path, _private_dirs) -> None:
    path = write_sample(tmp_path, "shop.json", [{"id": 1}, {"id": 2}])
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1)
    document.set_mode("table")
    window.menuBar().actions()[0].menu().aboutToShow.emit()  # File: Convert… follows the document
    assert document.can_convert() and window.actions.convert.isEnabled()
    window.actions.convert.trigger()
    dialog = document.table_panel.findChild(ConvertDialog)
    assert dialog is not None and dialog.isVisible() and dialog.path.text() == str(tmp_path / "shop.csv")
    dialog.reject()
