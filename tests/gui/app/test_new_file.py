"""File ▸ New adds the chosen filter's extension when the name typed has none."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.support.gui_helpers import launch, wait_documents


def test_the_filters_extension_is_added_and_a_file_it_names_is_not_replaced_unasked(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    answers = iter([(str(tmp_path / "notes"), "Text file (*.txt)"),
                    (str(tmp_path / "notes"), "Text file (*.txt)"),
                    (str(tmp_path / "v1.2"), "SQLite database (*.db)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: next(answers))
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **_k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    window = launch(qtbot, tmp_path / "settings")
    window.actions.new.trigger()
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(tmp_path / "notes.txt") and not (tmp_path / "notes").exists()
    window.close_document(document)
    (tmp_path / "notes.txt").write_text("kept")
    window.actions.new.trigger()  # "notes" again: notes.txt exists, and the dialog never asked
    assert asked == ["notes.txt already exists. Replace it?"]
    assert (tmp_path / "notes.txt").read_text() == "kept" and window.all_documents() == []
    window.actions.new.trigger()  # a name with a dot of its own keeps it
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(tmp_path / "v1.2")
