"""One size format everywhere: the Files browser, the file's info, the status bar and inspect."""

from __future__ import annotations

from pathlib import Path

from gui.files.browser import SIZE_COLUMN
from storage.core.sizes import size_text
from storage.inspect.report import inspect_path, render_text
from tests.gui.files.test_files import open_one


def test_size_text_is_one_format() -> None:
    assert [size_text(n) for n in (0, 1, 900, 1024, 1536, 984 * 1024, 3 * 2**30)] == [
        "0 bytes", "1 byte", "900 bytes", "1 KB", "1.5 KB", "984 KB", "3 GB"]


def test_a_984_kb_file_reads_the_same_in_the_browser_info_status_bar_and_inspect(
        qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    path = folder / "big.txt"
    path.write_bytes(b"x" * (984 * 1024 - 1) + b"\n")
    window, document = open_one(qtbot, tmp_path, path)
    browser = window.page("files").browser
    browser.set_root(str(folder))
    model = browser.model
    qtbot.waitUntil(lambda: model.index(str(path), SIZE_COLUMN).data() == "984 KB")  # not "984.00 KiB"
    assert window.size_label.text() == "984 KB"
    document.set_mode("info")
    info = document.pages["info"]
    qtbot.waitUntil(lambda: info.labels["size"].text() == "984 KB (1,007,616 bytes)")
    assert "size:    984 KB (1,007,616 bytes)" in render_text(inspect_path(path))
