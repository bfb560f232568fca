"""The Files tab driven as a user would: browse, open, edit text and bytes, undo, save, reload."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import shiboken6
from PySide6.QtCore import QDir, QModelIndex, QPoint, Qt

from gui.files.browser import FORMAT_COLUMN, FormatFileSystemModel
from gui.files.document import FileDocument
from gui.files.hex_page import HexPage
from gui.files.text_page import TextPage
from tests.support.gui_helpers import launch, wait_documents


def open_one(qtbot, tmp_path: Path, path: Path):
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, FileDocument)
    return window, document


def test_text_edit_undo_through_the_window_and_save(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    original = codecs.BOM_UTF8 + b"first\r\nsecond\r\nthird\r\n"
    path.write_bytes(original)
    window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    assert isinstance(page, TextPage)
    assert page.encoding_button.text() == "UTF-8 with BOM" and "CRLF" in page.facts.text()
    editor = page.editor
    editor.setFocus()
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "fourth")
    assert document.is_modified() and window.isWindowModified()
    window.actions.undo.trigger()  # Edit > Undo reaches the text editor
    assert editor.text() == "first\nsecond\nthird\n"
    assert not document.is_modified()
    window.actions.redo.trigger()
    assert editor.text().endswith("third\nfourth")
    assert window.save_current()
    assert path.read_bytes() == original + b"fourth"
    assert not document.is_modified()
    qtbot.keyClicks(editor, "!")  # after a save, the next keystroke is a new change
    assert document.is_modified()
    document.reload()  # Revert
    qtbot.waitUntil(lambda: editor.text().endswith("fourth"))
    assert not document.is_modified()


def test_find_replace_regex_and_go_to_line(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("alpha 1\nbeta 22\ngamma 333\n")
    window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    bar = page.find_bar
    bar.find_edit.setText(r"(\w+) (\d+)")
    bar.regex.setChecked(True)
    bar.replace_edit.setText(r"\2=\1")
    assert bar.replace_all() == 3
    assert page.editor.text() == "1=alpha\n22=beta\n333=gamma\n"
    window.actions.undo.trigger()  # one undo step for the whole replace
    assert page.editor.text() == "alpha 1\nbeta 22\ngamma 333\n"
    bar.regex.setChecked(False)
    bar.find_edit.setText("gamma")
    assert bar.find_next() and page.editor.textCursor().selectedText() == "gamma"
    page.editor.go_to_line(2)
    assert page.editor.textCursor().blockNumber() == 1


def test_undecodable_file_opens_read_only_and_is_not_modified(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    data = b"plain text line\n" * 20 + b"bad \xff\xfe\x81 here\n"
    path.write_bytes(data)
    window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    qtbot.waitUntil(lambda: page.content is not None)
    if not page.content.read_only:  # the guess found a code page that decodes it: force UTF-8
        page.load("utf-8")
        qtbot.waitUntil(lambda: page.content is not None and bool(page.content.read_only))
    assert page.editor.isReadOnly() and page.problem.isVisibleTo(page)
    assert "\\xff" in page.editor.text()
    assert not document.can_save() and not window.save_current()
    assert path.read_bytes() == data


def test_hex_overwrite_undo_and_save(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    original = b"\x00\x01\x02\x03" + bytes(range(4, 64))
    path.write_bytes(original)
    window, document = open_one(qtbot, tmp_path, path)
    assert document.mode == "hex"
    page = document.pages["hex"]
    assert isinstance(page, HexPage)
    view = page.view
    view.go_to(2)
    qtbot.keyClicks(view, "ab")  # two nibbles: one byte, one undo step
    assert page.buffer.read(2, 1) == b"\xab" and document.is_modified()
    assert document.undo_stack.count() == 1
    window.actions.undo.trigger()
    assert page.buffer.read(2, 1) == b"\x02" and not document.is_modified()
    window.actions.redo.trigger()
    assert path.read_bytes() == original  # nothing on disk before Save
    assert window.save_current()
    assert path.read_bytes() == original[:2] + b"\xab" + original[3:]
    assert not document.is_modified()
    page.search_mode.setCurrentText("Hex")
    page.search_edit.setText("05 06")
    page.find_next()
    qtbot.waitUntil(lambda: page.view.cursor == 5)


def test_modes_switch_and_info_hashes(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    _window, document = open_one(qtbot, tmp_path, path)
    assert document.set_mode("hex")
    assert document.pages["hex"].buffer.read(0, 5) == b"hello"
    assert document.set_mode("info")
    info = document.pages["info"]
    qtbot.waitUntil(lambda: info.labels["format"].text() == "text")
    info.compute_sha256()
    qtbot.waitUntil(lambda: len(info.sha_label.text()) == 64)
    assert info.sha_label.text() == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    document.set_mode("text")
    qtbot.keyClicks(document.pages["text"].editor, "x")
    assert not document.set_mode("hex")  # unsaved text edits: the view stays
    assert document.mode == "text"


def test_change_on_disk_reloads_when_nothing_is_edited(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "watched.txt"
    path.write_text("before\n")
    _window, document = open_one(qtbot, tmp_path, path)
    path.write_text("after, longer\n")
    qtbot.waitUntil(lambda: document.pages["text"].editor.text() == "after, longer\n", timeout=5000)
    assert not document.disk.bar.isVisibleTo(document)


def test_large_file_opens_paged_then_edit_anyway(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("gui.files.text_page.LARGE_TEXT", 1000)
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"entry %05d\n" % i for i in range(500)))
    _window, document = open_one(qtbot, tmp_path, path)
    page = document.pages["text"]
    shown = page.paged_view.shown()
    assert shown[0] == (0, "entry 00000")
    page.paged_view.scroll_lines(3)
    assert page.paged_view.shown()[0][1] == "entry 00003"
    assert not document.can_save()
    page.edit_anyway.click()
    qtbot.waitUntil(lambda: page.content is not None)
    assert page.editor.text().startswith("entry 00000\nentry 00001")
    assert document.can_save()


def test_browser_lists_formats_and_opens_on_activation(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("text\n")
    (folder / "b.json").write_text('{"x": 1}')
    (folder / ".hidden").write_text("secret")
    window = launch(qtbot, tmp_path / "settings")
    tab = window.page("files")
    browser = tab.browser
    browser.set_root(str(folder))
    model = browser.model
    root = browser.tree.rootIndex()
    qtbot.waitUntil(lambda: model.rowCount(root) == 2)
    # Rows move while QFileSystemModel sorts: look the index up afresh each time.
    def fmt() -> str:
        return model.data(model.index(str(folder / "b.json"), FORMAT_COLUMN))

    fmt()
    qtbot.waitUntil(lambda: fmt() == "json")
    browser.hidden_box.setChecked(True)
    qtbot.waitUntil(lambda: model.rowCount(root) == 3)
    assert window.settings["files.show_hidden"] and window.settings["files.root_folder"] == str(folder)
    browser.filter_edit.setText("*.txt")
    qtbot.waitUntil(lambda: model.rowCount(root) == 1)
    browser.tree.activated.emit(model.index(str(folder / "a.txt")))
    (document,) = wait_documents(qtbot, window, 1)
    assert document.path == str(folder / "a.txt") and isinstance(document, FileDocument)


def test_format_model_passes_the_tester(qtmodeltester, qtbot, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}\n")
    model = FormatFileSystemModel()
    # Files only: otherwise the tester walks (and the model sniffs) every folder from "/" down.
    model.setFilter(QDir.Filter.Files | QDir.Filter.NoDotAndDotDot)
    model.setRootPath(str(tmp_path))

    def root() -> QModelIndex:  # asked afresh: QFileSystemModel may move the folder's node under a kept index
        return model.index(str(tmp_path))

    qtbot.waitUntil(lambda: model.rowCount(root()) == 5)
    for row in range(5):
        model.data(model.index(row, FORMAT_COLUMN, root()))
    # The tester stays connected, so it checks the model again on every change while formats
    # arrive. A second check() would connect it twice, and the fixture disconnects only once:
    # the model then kept calling a freed tester in later tests (a crash).
    qtmodeltester.check(model, force_py=True)
    qtbot.waitUntil(lambda: model.data(model.index(0, FORMAT_COLUMN, root())) == "text")
    assert model.columnCount(QModelIndex()) == FORMAT_COLUMN + 1
    assert model.headerData(FORMAT_COLUMN, Qt.Orientation.Horizontal) == "Format"
    model.stop()
    qtbot.waitUntil(lambda: model._worker is None)
    # QFileSystemModel keeps watching and signalling after the test: delete it while the
    # tester's connections are still valid, or a later test hears from it.
    qtmodeltester._cleanup()
    shiboken6.delete(model)


def test_unreadable_and_special_files_never_hang(qtbot, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    good = tmp_path / "ok.bin"
    good.write_bytes(b"\x00\x01")
    window = launch(qtbot, tmp_path / "settings")
    failed = []
    window.openFailed.connect(lambda p, m: failed.append(p))
    window.open_paths([str(fifo), "/dev/zero", str(good)])
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: len(failed) == 2)
    # The file vanishes while open: the view stays, the bar says so, nothing crashes.
    good.unlink()
    assert document.check_disk() and document.disk.bar.reload_button.isHidden()
    assert document.pages["hex"].buffer.read(0, 2) == b"\x00\x01"


def test_odd_names_open_and_closing_leaves_files_untouched(qtbot, tmp_path: Path) -> None:
    """Names with a newline or invalid UTF-8 open; open → view every mode → close changes nothing."""
    folder = os.fsencode(tmp_path)
    names = [b"line\nbreak.txt", b"latin-\xe9.bin"]
    paths = []
    for name, data in zip(names, (b"text\r\nmore\r\n", b"\x00\xff\x10"), strict=True):
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        paths.append(os.fsdecode(path))
    before = {p: (Path(p).read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    window = launch(qtbot, tmp_path / "settings", *paths)
    documents = wait_documents(qtbot, window, 2)
    for document in documents:
        for mode in ("text", "hex", "info"):
            document.set_mode(mode)
        assert document.title() == os.path.basename(document.path)
        window.close_document(document)
    assert not window.all_documents()
    assert {p: (Path(p).read_bytes(), os.stat(p).st_mtime_ns) for p in paths} == before


def test_browser_lists_by_name_and_a_header_click_reverses_it(qtbot, tmp_path: Path) -> None:
    """Names ascending from the first paint (the header says so), and the header sorts on click."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("b.txt", "c.txt", "a.txt"):
        (folder / name).write_text("text\n")
    window = launch(qtbot, tmp_path / "settings")
    browser = window.page("files").browser
    browser.set_root(str(folder))
    model, tree = browser.model, browser.tree
    header = tree.header()
    assert header.isSortIndicatorShown() and header.sortIndicatorSection() == 0
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder

    def names() -> list[str]:
        root = tree.rootIndex()
        return [model.index(row, 0, root).data() for row in range(model.rowCount(root))]

    qtbot.waitUntil(lambda: names() == ["a.txt", "b.txt", "c.txt"])
    qtbot.waitUntil(tree.isSortingEnabled)  # once painted
    rect = header.rect()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.topLeft() + QPoint(header.sectionViewportPosition(0) + 20, rect.height() // 2))
    qtbot.waitUntil(lambda: names() == ["c.txt", "b.txt", "a.txt"])
