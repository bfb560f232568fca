"""The first lines of a file opened at launch show before its tab's modules are imported and its
document is made (issue 16: content on screen at once), then the document takes their place."""

from __future__ import annotations

import json

from gui.common.tab_page import TabPage
from gui.json.document import JsonDocument
from tests.support.gui_helpers import launch, wait_documents


def _record_pages(page: TabPage) -> list[tuple[str, str]]:
    """Each page the tab shows, with the preview text it shows (if any)."""
    shown: list[tuple[str, str]] = []

    def on_changed(_index: int) -> None:
        widget = page.stack.currentWidget()
        preview = getattr(widget, "preview", None)
        shown.append((widget.objectName(), preview.toPlainText() if preview is not None else ""))

    page.stack.currentChanged.connect(on_changed)
    return shown


def test_first_lines_show_while_the_document_is_made(qtbot, tmp_path, monkeypatch) -> None:
    path = tmp_path / "records.json"
    path.write_text("[\n" + ",\n".join(json.dumps({"id": n}) for n in range(3000)) + "\n]\n")
    # As at launch: the JSON tab's modules are not imported yet (this test process has them).
    monkeypatch.setattr(TabPage, "document_imported", lambda self, fmt: False)
    window = launch(qtbot, tmp_path / "settings")
    page = window.page("json")
    shown = _record_pages(page)
    arrived: list[str] = []  # the document's preview at the moment it is added
    window.documentOpened.connect(lambda d: arrived.append(d.loading_page.preview.toPlainText()))
    window.open_paths([str(path)])
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, JsonDocument)
    assert window.tabs.currentWidget() is page
    name, text = shown[0]
    assert name == "openingPage"  # painted before the document was made
    assert text.splitlines()[:2] == ["[", '{"id": 0},']
    assert shown[-1][0] == page.documents.objectName()  # then the document, in its tab
    assert page.opening is None and page.stack.count() == 2  # the opening page is gone
    assert arrived == [text]  # the document's loading page had the same lines at once: no flash
    assert document.model.rowCount() > 0


def test_no_opening_page_for_files_restored_or_not_text(qtbot, tmp_path, monkeypatch) -> None:
    import sqlite3

    monkeypatch.setattr(TabPage, "document_imported", lambda self, fmt: False)
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as con:
        con.execute("create table t (x)")
    con.close()
    texts = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for text in texts:
        text.write_text("hello\n")
    window = launch(qtbot, tmp_path / "settings")
    shown = {p.tab_id: _record_pages(p) for p in window.pages}
    window.open_paths([str(db)])  # not text: no first lines to show
    window.open_paths([str(t) for t in texts])  # several at once: each just opens
    wait_documents(qtbot, window, 3)
    assert all(name != "openingPage" for pages in shown.values() for name, _ in pages)


def test_a_sniff_made_during_launch_is_taken_once_and_only_for_its_own_paths(qtbot, tmp_path) -> None:
    """The window takes a finished early sniff (gui/app/early_sniff.py) of exactly the files it
    opens: the tab is current before any event is processed. Other paths are sniffed as usual."""
    from gui.app.early_sniff import EarlySniff

    database = tmp_path / "people.db"
    import sqlite3

    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
    connection.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    window = launch(qtbot, tmp_path / "settings", show=False)
    early = EarlySniff([str(database)])
    qtbot.waitUntil(lambda: early.take([str(database)], True) is not None)
    window.opener.early = early
    window.open_paths([str(database)])
    assert window.tabs.currentWidget() is window.page("sqlite")  # no event processed yet
    assert [d.path for d in window.all_documents()] == [str(database)]
    assert window.opener.early is None  # used once
    window.show()
    qtbot.waitExposed(window)

    window.opener.early = EarlySniff([str(database)])  # a sniff of other paths is not used
    window.open_paths([str(notes)])
    assert len(window.all_documents()) == 1  # not opened yet: sniffed on a worker first
    wait_documents(qtbot, window, 2)
    assert window.current_document().path == str(notes)


def test_a_bug_making_an_early_sniffed_document_is_reported_not_raised(qtbot, tmp_path, monkeypatch) -> None:
    """At launch the document is made inside the window's building: a bug there must not stop the
    launch with a traceback, but say in the window that the file could not be opened."""
    from gui.app.early_sniff import EarlySniff

    notes = tmp_path / "notes.bin"
    notes.write_bytes(b"\x00\x01\x02 binary")
    window = launch(qtbot, tmp_path / "settings", show=False)
    early = EarlySniff([str(notes)])
    qtbot.waitUntil(lambda: early.take([str(notes)], True) is not None)

    def broken(self, path, fmt):
        raise RuntimeError("a bug")

    monkeypatch.setattr(TabPage, "create_document", broken)
    window.opener.early = early
    window.open_paths([str(notes)])
    assert window.all_documents() == []
    assert any(message.startswith(f"Could not open {notes}") for message in window.notices.messages())
    assert window.opener.pending_paths() == []
