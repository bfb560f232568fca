"""File dialogs start where the user works: Open in the current document's folder with every
format at once, Export beside the document with a name suggested (one helper for all)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from gui.common.file_dialogs import ALL_SUPPORTED, open_filters, safe_file_name, start_folder, suggested_path
from tests.support.gui_helpers import close_window, launch, wait_documents


def record_open(monkeypatch) -> list[tuple]:
    asked: list[tuple] = []

    def fake(parent, caption, folder, filters, selected="", *rest):
        asked.append((caption, folder, filters, selected))
        return [], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", fake)
    return asked


def test_open_starts_in_the_documents_folder_with_all_supported_files(qtbot, tmp_path: Path,
                                                                     monkeypatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    data = folder / "data.json"
    data.write_text(json.dumps({"a": 1}))
    window = launch(qtbot, tmp_path / "settings", data)
    wait_documents(qtbot, window, 1)
    asked = record_open(monkeypatch)
    window.open_dialog()
    (_caption, start, filters, selected), = asked
    assert start == str(folder)
    entries = filters.split(";;")
    assert selected == entries[0] and entries[0].startswith(ALL_SUPPORTED)
    for pattern in ("*.json", "*.pkl", "*.db", "*.h5"):
        assert pattern in entries[0]
    assert entries[-1] == "All files (*)" and entries.count("All files (*)") == 1
    close_window(qtbot, window)

    # No document open: the folder the dialog used last.
    other = tmp_path / "elsewhere"
    other.mkdir()
    window = launch(qtbot, tmp_path / "settings2")
    window.settings.set_last_dir("open", other)
    asked.clear()
    window.open_dialog()
    assert asked[0][1] == str(other) and asked[0][3].startswith(ALL_SUPPORTED)
    close_window(qtbot, window)


def test_start_folder_and_suggested_names(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"")
    assert start_folder(str(path), "/nowhere") == str(tmp_path)
    assert start_folder(None, str(tmp_path)) == str(tmp_path)
    assert start_folder("postgresql://u@h/db", str(tmp_path)) == str(tmp_path)  # a server: no folder
    assert start_folder(None, "/does/not/exist") == str(Path.home())
    assert suggested_path(str(path), "a/b: c?.csv") == str(tmp_path / "a_b_ c_.csv")
    assert safe_file_name("..") == "export"
    assert open_filters(["JSON (*.json);;All files (*)", "All files (*)"]) == (
        f"{ALL_SUPPORTED} (*.json);;JSON (*.json);;All files (*)")
