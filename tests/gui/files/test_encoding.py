"""The Files tab's encoding indicator and Reopen with Encoding…, as VS Code offers them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from gui.files.encoding import ReopenEncodingDialog
from tests.gui.files.test_files import open_one


def test_a_short_latin1_file_reads_as_windows_1252_and_says_it_is_a_guess(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    path = tmp_path / "menu.txt"
    path.write_bytes("café crème\n".encode("latin-1"))
    _window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    qtbot.waitUntil(lambda: page.content is not None)
    assert page.editor.text() == "café crème\n"
    button = page.encoding_button
    assert button.isVisible() and button.text() == "CP1252 (guessed)"
    assert "guessed" in button.toolTip() and "reopen" in button.toolTip().lower()
    page.resize(900, 200)
    page.grab().save("/tmp/vals-files-encoding.png")


def test_reopen_with_encoding_previews_then_reads_the_file_again(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    path = tmp_path / "cyrillic.txt"
    original = "Moscow = Москва, capital\n".encode("cp1251")
    path.write_bytes(original)
    _window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    qtbot.waitUntil(lambda: page.content is not None)
    assert page.content.guessed and page.editor.text() != "Moscow = Москва, capital\n"  # too short to tell
    qtbot.keyClicks(page.editor, "x")
    assert document.is_modified()
    assert page.encoding_button.menu().actions()[0].text() == "Reopen with Encoding…"
    page.encoding_button.menu().actions()[0].trigger()
    dialog = page.reopen_dialog
    assert isinstance(dialog, ReopenEncodingDialog) and dialog.isVisible()
    assert "guessed from content" in dialog.list.currentItem().text()  # the guess is preselected
    dialog.select("cp1251")
    assert dialog.preview.toPlainText() == "Moscow = Москва, capital\n"
    dialog.grab().save("/tmp/vals-reopen-dialog.png")
    qtbot.mouseClick(dialog.reopen_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.content is not None and page.content.encoding == "cp1251")
    assert page.editor.text() == "Moscow = Москва, capital\n" and not page.content.guessed
    assert page.encoding_button.text() == "CP1251"
    assert "chosen by the user" in page.encoding_button.toolTip()
    assert not document.is_modified()  # reopening drops the edit, as VS Code does
    assert path.read_bytes() == original


def test_cancel_keeps_the_text_as_it_was(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("plain ascii\n")
    _window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    qtbot.waitUntil(lambda: page.content is not None)
    assert page.encoding_button.text() == "UTF-8"
    page.encoding_button.reopenRequested.emit()
    dialog = page.reopen_dialog
    assert "current" in dialog.list.currentItem().text()
    dialog.select("utf-16-le")
    dialog.reject()
    assert page.reopen_dialog is None and page.content.encoding == "utf-8"
