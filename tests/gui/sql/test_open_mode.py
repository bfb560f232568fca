"""Read-only is offered for every open: a choice strip in the document, a remembered preference."""

from __future__ import annotations

import shutil
from pathlib import Path

from gui.sql.document import SqlDocument
from storage.formats.newfile import create_empty
from tests.gui.sql.test_sql import close, fingerprint, make_db, open_document, wait_rows
from tests.support.gui_helpers import launch, wait_documents


def test_an_existing_database_opens_read_only_and_offers_edit(qtbot, tmp_path: Path) -> None:
    path = make_db(tmp_path / "t.db", rows=30)
    before = fingerprint(path)
    document = open_document(qtbot, path)
    assert document.read_only and document.read_only_box.isChecked()
    assert document.open_choice.isVisible()
    wait_rows(qtbot, document, 30)
    assert fingerprint(path) == before
    document.open_choice.edit_button.click()
    qtbot.waitUntil(lambda: not document.read_only and document.model.editable, timeout=10_000)
    assert not document.open_choice.isVisible() and not document.read_only_box.isChecked()
    document.read_only_box.setChecked(True)  # the box still switches both ways
    qtbot.waitUntil(lambda: document.table is not None and not document.model.editable, timeout=10_000)
    close(document)


def test_a_new_database_opens_for_editing_without_asking(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    create_empty(path, "sqlite")
    document = open_document(qtbot, path)
    assert not document.read_only and not document.open_choice.isVisible()
    close(document)


def test_the_choice_is_remembered_in_the_preferences(qtbot, tmp_path: Path) -> None:
    first = make_db(tmp_path / "a.db", rows=5)
    second = tmp_path / "b.db"
    shutil.copy(first, second)
    window = launch(qtbot, tmp_path / "settings", first)
    [document] = wait_documents(qtbot, window, 1)
    assert isinstance(document, SqlDocument) and document.open_choice.isVisible()
    document.open_choice.remember.setChecked(True)
    document.open_choice.read_only_button.click()
    assert window.settings["sqlite.open_mode"] == "read_only"
    assert document.read_only and not document.open_choice.isVisible()
    window.open_paths([str(second)])
    documents = wait_documents(qtbot, window, 2)
    assert all(d.read_only for d in documents) and not documents[1].open_choice.isVisible()
    window.settings["sqlite.open_mode"] = "edit"
    window.close_document(documents[1])
    window.open_paths([str(second)])
    documents = wait_documents(qtbot, window, 2)
    assert not documents[1].read_only and not documents[1].open_choice.isVisible()
    for document in documents:
        window.close_document(document)


def test_the_choice_for_one_file_is_remembered_for_that_file(qtbot, tmp_path: Path) -> None:
    """Edit chosen for a.db (without "Remember for every database"): a.db reopens editable
    after a relaunch, b.db still asks; ticking Read-only again is remembered too."""
    first = make_db(tmp_path / "a.db", rows=5)
    second = tmp_path / "b.db"
    shutil.copy(first, second)
    settings = tmp_path / "settings"
    window = launch(qtbot, settings, first)
    [document] = wait_documents(qtbot, window, 1)
    document.open_choice.edit_button.click()
    qtbot.waitUntil(lambda: not document.read_only and document.model.editable, timeout=10_000)
    assert window.settings["sqlite.open_mode"] == "ask"
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible())

    window = launch(qtbot, settings)
    [document] = wait_documents(qtbot, window, 1)  # the session reopens a.db: editable, not asking
    assert document.path == str(first)
    assert not document.read_only and not document.open_choice.isVisible()
    window.open_paths([str(second)])
    documents = wait_documents(qtbot, window, 2)
    assert documents[1].read_only and documents[1].open_choice.isVisible()
    document.read_only_box.setChecked(True)
    qtbot.waitUntil(lambda: document.table is not None and not document.model.editable, timeout=10_000)
    for each in documents:
        window.close_document(each)
    window.open_paths([str(first)])
    [document] = wait_documents(qtbot, window, 1)
    assert document.read_only and not document.open_choice.isVisible()
    window.close_document(document)


def test_an_unfinished_transaction_offers_its_choices_and_shows_it_as_on_disk(qtbot, tmp_path: Path) -> None:
    """The choices of a hot journal (built only when a file has one) sit under the page's text;
    Show As on Disk opens the file read-only as it is, the journal left alone."""
    from PySide6.QtCore import Qt

    from tests.storage.formats.sql.test_sqlite_safety import _killed_mid_edit

    path = _killed_mid_edit(tmp_path)
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.resize(900, 500)
    document.show()
    page = document.status_page
    qtbot.waitUntil(lambda: page.unfinished.isVisibleTo(page), timeout=10_000)
    assert "unfinished transaction" in page.status.text()
    box = page.layout()
    assert box.indexOf(page.status) < box.indexOf(page.unfinished) < box.indexOf(page.retry_open)
    qtbot.mouseClick(page.unfinished.on_disk_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.is_loaded and document.table is not None, timeout=10_000)
    assert document.on_disk and document.read_only and not page.unfinished.isVisibleTo(page)
    assert Path(str(path) + "-journal").exists()  # nothing was rolled back
    close(document)
