"""Crash recovery through the real window: journal, crash, relaunch, restore, save."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from gui.json.document import JsonDocument
from storage.recovery.journal import Journal
from tests.conftest import ROOT
from tests.support.gui_helpers import close_window, forget_edits, launch, wait_documents


def make_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"text": folder / "notes.txt", "json": folder / "data.json", "pickle": folder / "obj.pkl"}
    files["text"].write_text("line one\nline two\n")
    files["json"].write_text(json.dumps({"name": "demo", "values": [1, 2]}, indent=2) + "\n")
    files["pickle"].write_bytes(pickle.dumps({"count": 3, "x": "y"}, 2))
    return files


def entries(settings_dir: Path, sub: str = "") -> list:
    """Entries of ``journal/<sub>``, or of every session folder when ``sub`` is empty."""
    if sub:
        return Journal(settings_dir / "journal" / sub).entries()
    return [e for folder in sorted((settings_dir / "journal").glob("session-*"))
            for e in Journal(folder).entries()]


def session_journal(window) -> Journal:
    return window.journal.journal


def restore_notice(window):
    return next((n for n in window.notices.notices() if n.objectName() == "restoreNotice"), None)


def crash_in_a_child(settings_dir: Path, files: dict[str, Path]) -> None:
    """Run the app in a subprocess, edit the three files there, and SIGKILL it once journaled."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "journal_crash_child.py"), str(settings_dir),
         str(files["text"]), str(files["json"]), str(files["pickle"])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "JOURNALED", line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()


def edit_and_journal(qtbot, window, document, edit) -> None:
    edit(document)
    assert document.is_modified()
    window.journal.flush_now()
    qtbot.waitUntil(window.journal.is_idle)


def discard_and_close(qtbot, window) -> None:
    """Close as a user answering Discard in the unsaved-changes box would."""
    forget_edits(window)
    close_window(qtbot, window)


def crash_in_process(qtbot, window, settings_dir: Path) -> None:
    """What a crash leaves: the journal as it is now, though the window then closes normally."""
    kept = settings_dir.parent / "journal-at-crash"
    shutil.copytree(settings_dir / "journal", kept)
    discard_and_close(qtbot, window)
    shutil.rmtree(settings_dir / "journal")
    shutil.copytree(kept, settings_dir / "journal")
    shutil.rmtree(kept)


def set_json_name(document: JsonDocument, value: str) -> None:
    index = document.model.index_for_path(["name"]).siblingAtColumn(1)
    assert document.model.setData(index, value)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL of a child process")
def test_killed_session_is_restored_as_undoable_edits_and_saved(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    before = {k: p.read_bytes() for k, p in files.items()}
    crash_in_a_child(settings_dir, files)
    assert len(entries(settings_dir)) == 3
    assert {k: p.read_bytes() for k, p in files.items()} == before  # nothing saved by the crash

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    notice = restore_notice(window)
    assert "did not close properly" in notice.text()
    assert all(p.name in notice.text() for p in files.values())
    window.grab().save(str(tmp_path / "restore-offer.png"))
    shutil.copy(tmp_path / "restore-offer.png", "/tmp/journal-restore-offer.png")
    assert entries(settings_dir) == [] and len(entries(settings_dir, "recovered")) == 3

    qtbot.mouseClick(notice.findChild(QPushButton, "restoreButton"), Qt.MouseButton.LeftButton)
    documents = wait_documents(qtbot, window, 3)
    qtbot.waitUntil(lambda: all(d.is_modified() for d in documents))
    qtbot.waitUntil(lambda: entries(settings_dir, "recovered") == [])
    by_name = {os.path.basename(d.path): d for d in documents}
    text_doc = by_name["notes.txt"]
    assert text_doc.pages["text"].editor.text() == "line one\nline two\ntyped before the crash"
    assert by_name["data.json"].doc.root["name"] == "crashed edit"
    obj = by_name["obj.pkl"]
    assert obj.view.model.index_for_path([0, "count"]).siblingAtColumn(1).data() == "41"

    window.activate_document(by_name["data.json"])
    window.grab().save(str(tmp_path / "restored.png"))
    shutil.copy(tmp_path / "restored.png", "/tmp/journal-restored.png")
    assert window.windowTitle().startswith("data.json") and window.isWindowModified()

    # The restore is one undo step: undo shows the file as it is, redo brings the edits back.
    assert text_doc.undo_stack.count() == 1
    text_doc.undo_stack.undo()
    assert text_doc.pages["text"].editor.text() == "line one\nline two\n" and not text_doc.is_modified()
    text_doc.undo_stack.redo()
    assert text_doc.is_modified()

    for document in documents:
        window.activate_document(document)
        assert window.save_current()
    assert files["text"].read_text() == "line one\nline two\ntyped before the crash"
    assert json.loads(files["json"].read_text())["name"] == "crashed edit"
    assert pickle.loads(files["pickle"].read_bytes()) == {"count": 41, "x": "y"}
    qtbot.waitUntil(lambda: window.journal.is_idle() and entries(settings_dir) == [])
    close_window(qtbot, window)
    assert entries(settings_dir) == [] and entries(settings_dir, "recovered") == []


def test_changed_file_is_restored_as_a_copy_and_original_untouched(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"])
    (document,) = wait_documents(qtbot, window, 1)
    edit_and_journal(qtbot, window, document, lambda d: set_json_name(d, "my edit"))
    assert len(entries(settings_dir)) == 1
    crash_in_process(qtbot, window, settings_dir)

    files["json"].write_text('{"name": "changed by someone else"}\n')
    changed = files["json"].read_bytes()
    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    copy = files["json"].with_name("data (recovered).json")
    qtbot.waitUntil(copy.exists)
    assert json.loads(copy.read_text()) == {"name": "my edit", "values": [1, 2]}
    assert files["json"].read_bytes() == changed
    qtbot.waitUntil(lambda: window.find_document(str(copy)) is not None)
    assert any("restored as a copy" in m for m in window.notices.messages())
    assert entries(settings_dir, "recovered") == []


def test_missing_file_is_restored_as_a_copy_and_hex_edits_cannot_be(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["text"], files["pickle"])
    text_doc, pickle_doc = sorted(wait_documents(qtbot, window, 2), key=lambda d: d.path)
    assert text_doc.path.endswith("notes.txt")
    assert text_doc.set_mode("hex")
    edit_and_journal(qtbot, window, text_doc, lambda d: qtbot.keyClicks(d.pages["hex"].view, "41"))
    edit_and_journal(qtbot, window, pickle_doc, lambda d: d.view.model.setData(
        d.view.model.index_for_path([0, "x"]).siblingAtColumn(1), "zz"))
    crash_in_process(qtbot, window, settings_dir)

    files["pickle"].unlink()
    files["text"].write_text("other\n")
    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    copy = files["pickle"].with_name("obj (recovered).pkl")
    qtbot.waitUntil(copy.exists)
    assert pickle.loads(copy.read_bytes()) == {"count": 3, "x": "zz"}
    qtbot.waitUntil(lambda: any("cannot be restored as a copy" in m for m in window.notices.messages()))
    assert files["text"].read_text() == "other\n"
    qtbot.waitUntil(lambda: entries(settings_dir, "recovered") == [])


def test_hex_edits_restore_over_an_unchanged_file(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["text"])
    (document,) = wait_documents(qtbot, window, 1)
    assert document.set_mode("hex")
    edit_and_journal(qtbot, window, document, lambda d: qtbot.keyClicks(d.pages["hex"].view, "4a"))
    crash_in_process(qtbot, window, settings_dir)

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    qtbot.waitUntil(lambda: bool(window.all_documents()) and window.all_documents()[0].is_modified())
    document = window.all_documents()[0]
    assert document.mode == "hex" and document.pages["hex"].buffer.overlay == {0: 0x4A}
    assert window.save_current()
    assert files["text"].read_text() == "Jine one\nline two\n"


def test_save_discard_and_clean_exit_drop_the_entries(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"], files["text"])
    json_doc, text_doc = sorted(wait_documents(qtbot, window, 2), key=lambda d: d.path)
    edit_and_journal(qtbot, window, json_doc, lambda d: set_json_name(d, "one"))
    edit_and_journal(qtbot, window, text_doc, lambda d: qtbot.keyClicks(d.pages["text"].editor, "x"))
    assert len(entries(settings_dir)) == 2

    window.activate_document(json_doc)
    assert window.save_current()  # saved: its entry goes
    qtbot.waitUntil(lambda: window.journal.is_idle() and len(entries(settings_dir)) == 1)
    json_doc.undo_stack.undo()  # modified again (the file now says "one"): journaled again
    qtbot.waitUntil(lambda: len(entries(settings_dir)) == 2, timeout=10_000)
    json_doc.undo_stack.redo()  # back to what is on disk: dropped
    qtbot.waitUntil(lambda: window.journal.is_idle() and len(entries(settings_dir)) == 1)

    text_doc.undo_stack.setClean()  # "Discard" in the unsaved-changes box, then close
    window.close_document(text_doc)
    qtbot.waitUntil(lambda: window.journal.is_idle() and entries(settings_dir) == [])

    edit_and_journal(qtbot, window, json_doc, lambda d: set_json_name(d, "two"))
    assert len(entries(settings_dir)) == 1
    discard_and_close(qtbot, window)  # a clean exit
    assert entries(settings_dir) == []
    assert files["text"].read_text() == "line one\nline two\n"


def test_discarding_the_offer_forgets_the_edits(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"])
    (document,) = wait_documents(qtbot, window, 1)
    edit_and_journal(qtbot, window, document, lambda d: set_json_name(d, "lost"))
    crash_in_process(qtbot, window, settings_dir)

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "discardRecoveredButton").click()
    assert restore_notice(window) is None or not restore_notice(window).isVisible()
    assert entries(settings_dir, "recovered") == []
    assert json.loads(files["json"].read_text())["name"] == "demo"


def test_big_trees_serialise_on_the_worker_and_a_racing_edit_is_retried(qtbot, tmp_path,
                                                                        monkeypatch) -> None:
    from gui.recovery import hooks as journal_hooks
    from gui.recovery.manager import STALE, write_entry
    from storage.recovery.journal import JournalEntry

    monkeypatch.setattr(journal_hooks, "SERIALISE_HERE", 0)  # every file counts as big
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"])
    (document,) = wait_documents(qtbot, window, 1)
    make, racy = journal_hooks.snapshot_job(document)
    assert make is None or racy
    edit_and_journal(qtbot, window, document, lambda d: set_json_name(d, "from the worker"))
    [entry] = entries(settings_dir)
    payload = session_journal(window).load(entry)
    assert b'"from the worker"' in payload

    journal = Journal(tmp_path / "j")
    blank = JournalEntry(path=str(files["json"]), format="json", kind="", title="t", saved_at=0,
                         stamp=None)

    def racing() -> bytes:
        raise RuntimeError("dictionary changed size during iteration")

    assert write_entry(journal, blank, racing, lambda: True) == STALE
    assert write_entry(journal, blank, lambda: b'{"kind":"json"}\n{}', lambda: False) == STALE
    assert journal.entries() == []
    discard_and_close(qtbot, window)


def test_a_running_session_is_never_taken_for_a_crash(qtbot, tmp_path) -> None:
    from storage.recovery.journal import JournalEntry, SessionLock
    from storage.recovery.payload import pack_text

    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    other = settings_dir / "journal" / "session-1-other"
    Journal(other).write(JournalEntry(path=str(files["text"]), format="text", kind="text",
                                      title="notes.txt", saved_at=0, stamp=None),
                         pack_text("edited elsewhere", "utf-8", False, None, "\n"))
    lock = SessionLock(other / "lock")
    assert lock.acquire()  # another Datashelf, alive
    window = launch(qtbot, settings_dir)
    assert restore_notice(window) is None and len(Journal(other).entries()) == 1
    discard_and_close(qtbot, window)
    lock.release()  # it died

    window = launch(qtbot, settings_dir)
    assert restore_notice(window) is not None
    assert not other.exists() and len(entries(settings_dir, "recovered")) == 1
    discard_and_close(qtbot, window)
    assert [p.name for p in (settings_dir / "journal").iterdir()] == ["recovered"]


def test_files_over_the_limit_are_not_journaled(qtbot, tmp_path, monkeypatch, caplog) -> None:
    from storage.recovery import journal as journal_module

    monkeypatch.setattr(journal_module, "MAX_PAYLOAD", 10)
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"])
    (document,) = wait_documents(qtbot, window, 1)
    edit_and_journal(qtbot, window, document, lambda d: set_json_name(d, "big"))
    assert entries(settings_dir) == []
    assert "Not journaling" in caplog.text
    discard_and_close(qtbot, window)


def type_json(qtbot, document: JsonDocument, text: str) -> None:
    """Replace the text view's text by typing, and wait for its reparse."""
    editor = document.text_view.editor
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.waitUntil(lambda: not document.text_view.pending())


def test_unparsed_json_text_is_journaled_and_restored_with_its_error(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    broken = files["json"].with_name("broken.json")
    broken.write_text('{"a": [1,, 2]}\n')
    window = launch(qtbot, settings_dir, files["json"], broken)
    broken_doc, good_doc = sorted(wait_documents(qtbot, window, 2), key=lambda d: d.path)
    assert broken_doc.doc is None and not broken_doc.is_modified()
    edit_and_journal(qtbot, window, broken_doc, lambda d: type_json(qtbot, d, '{"a": [1, 2,'))
    good_doc.set_mode("text")
    edit_and_journal(qtbot, window, good_doc, lambda d: type_json(qtbot, d, '{"name": "half'))
    assert good_doc.doc.root["name"] == "demo" and good_doc.text_view.error is not None
    assert sorted(e.kind for e in entries(settings_dir)) == ["json-text", "json-text"]
    crash_in_process(qtbot, window, settings_dir)

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    documents = wait_documents(qtbot, window, 2)
    qtbot.waitUntil(lambda: all(d.is_modified() for d in documents))
    qtbot.waitUntil(lambda: entries(settings_dir, "recovered") == [])
    broken_doc, good_doc = sorted(documents, key=lambda d: d.path)
    for document, text in ((broken_doc, '{"a": [1, 2,'), (good_doc, '{"name": "half')):
        assert document.mode() == "text" and document.text_view.text() == text
        assert document.text_view.error is not None  # the located parse error is shown
        assert document.text_view.status.text()
    assert good_doc.doc.root["name"] == "demo"  # the tree keeps the last valid value
    window.activate_document(good_doc)
    assert window.isWindowModified()
    window.grab().save("/tmp/journal-json-text-restored.png")
    assert good_doc.undo_stack.count() == 0  # typing in the text view is not on the stack

    type_json(qtbot, broken_doc, '{"a": [1, 2, 3]}')  # fixed: it parses and saves
    window.activate_document(broken_doc)
    assert window.save_current()
    assert json.loads(broken.read_text()) == {"a": [1, 2, 3]}
    assert json.loads(files["json"].read_text())["name"] == "demo"
    discard_and_close(qtbot, window)


def test_unparsed_json_text_of_a_changed_file_is_restored_as_a_copy(qtbot, tmp_path) -> None:
    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"])
    (document,) = wait_documents(qtbot, window, 1)
    document.set_mode("text")
    edit_and_journal(qtbot, window, document, lambda d: type_json(qtbot, d, '[1, 2'))
    crash_in_process(qtbot, window, settings_dir)

    files["json"].write_text("[]\n")
    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    copy = files["json"].with_name("data (recovered).json")
    qtbot.waitUntil(copy.exists)
    assert copy.read_text() == "[1, 2" and files["json"].read_text() == "[]\n"
    qtbot.waitUntil(lambda: window.find_document(str(copy)) is not None)
    copied = window.find_document(str(copy))
    qtbot.waitUntil(lambda: copied.is_loaded)
    assert copied.doc is None and copied.text_view.text() == "[1, 2"
    discard_and_close(qtbot, window)
