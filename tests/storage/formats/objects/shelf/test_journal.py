"""Crash recovery, continued: shelves, choosing which files to restore, and the temporary files
a killed save leaves behind."""

from __future__ import annotations

import json
import os
import shelve
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from storage.core.atomic import atomic_write, remove_stale_temporaries, stale_temporaries
from storage.formats.objects.shelf.io import open_shelf
from storage.formats.objects.shelf.journal import apply_state, pack_shelf, state_of, write_shelf_copy
from tests.gui.recovery.test_journal import (
    crash_in_process,
    discard_and_close,
    edit_and_journal,
    entries,
    make_files,
    restore_notice,
    set_json_name,
)
from tests.support.gui_helpers import close_window, launch, wait_documents


def make_shelf(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "prefs"
    with shelve.open(str(base), protocol=2) as shelf:
        shelf["colour"] = "blue"
        shelf["sizes"] = [1, 2, 3]
        shelf["old"] = "to delete"
    return base


def read_shelf(base: Path) -> dict:
    with shelve.open(str(base), flag="r") as shelf:
        return dict(shelf)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- storage ----------------------------------------------------------------------------------------

def test_shelf_payload_replays_key_edits_and_values(tmp_path: Path) -> None:
    base = make_shelf(tmp_path)
    shelf = open_shelf(str(base) + ".dat")
    shelf.rename("colour", "color")
    shelf.delete("old")
    shelf.set("new", b"\x80\x02K\x07.")  # pickle of 7
    payload = pack_shelf(shelf, {"sizes": b"\x80\x02]q\x00(K\x01K\x14K\x03e."})  # [1, 20, 3]
    order, changes = state_of(payload)

    fresh = open_shelf(str(base) + ".dat")  # the same unchanged files, as after a crash
    apply_state(fresh, order, changes)
    assert fresh.keys() == ["color", "sizes", "new"]
    fresh.save()
    assert read_shelf(base) == {"color": "blue", "sizes": [1, 20, 3], "new": 7}


def test_changed_shelf_gets_a_recovered_copy_and_the_original_is_untouched(tmp_path: Path) -> None:
    base = make_shelf(tmp_path)
    shelf = open_shelf(str(base) + ".dat")
    shelf.delete("old")
    shelf.set("colour", b"\x80\x02X\x03\x00\x00\x00redq\x00.")
    payload = pack_shelf(shelf, {})
    with shelve.open(str(base), protocol=2) as other:  # someone else changed it meanwhile
        other["theirs"] = 1
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    opened = write_shelf_copy(str(base) + ".dat", payload)
    assert os.path.basename(opened).startswith("prefs (recovered)")
    assert read_shelf(tmp_path / "prefs (recovered)") == {"colour": "red", "sizes": [1, 2, 3]}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before} == before


def test_only_temporaries_of_dead_writers_are_stale(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    atomic_write(target, b"{}")
    dead = tmp_path / f".data.json.ds{dead_pid()}-abc123de.tmp"
    dead_bak = tmp_path / f".data.json.bak.ds{dead_pid()}-x_9abcde.tmp"
    mine = tmp_path / f".data.json.ds{os.getpid()}-zzzzzzzz.tmp"  # a save running in this process
    foreign = tmp_path / ".data.json.tmp"  # not ours: never touched
    for path in (dead, dead_bak, mine, foreign):
        path.write_bytes(b"partial")
    assert sorted(p.name for p in stale_temporaries(tmp_path)) == sorted([dead.name, dead_bak.name])
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead.name, dead_bak.name])
    assert mine.exists() and foreign.exists() and target.read_bytes() == b"{}"
    assert remove_stale_temporaries(tmp_path / "missing-folder") == []


# -- through the window -----------------------------------------------------------------------------

def test_shelf_edits_are_journaled_and_restored_as_one_undo_step(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    base = make_shelf(tmp_path / "files")
    window = launch(qtbot, settings_dir, Path(str(base) + ".dat"))
    (document,) = wait_documents(qtbot, window, 1)
    panel = document.shelf_panel
    with qtbot.waitSignal(document.valueShown):
        assert panel.select_key("sizes")

    def edit(d) -> None:
        model = d.view.model
        assert model.setData(model.index_for_path([0, 1]).siblingAtColumn(1), "20")
        assert panel.rename_key("colour", "color") and panel.delete_key("old") and panel.add_key("new")

    edit_and_journal(qtbot, window, document, edit)
    (entry,) = entries(settings_dir)
    assert entry.title.startswith("prefs") and entry.stamp_path.endswith("prefs.dir")
    crash_in_process(qtbot, window, settings_dir)
    assert read_shelf(base) == {"colour": "blue", "sizes": [1, 2, 3], "old": "to delete"}

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    restore_notice(window).findChild(QPushButton, "restoreButton").click()
    qtbot.waitUntil(lambda: bool(window.all_documents()) and window.all_documents()[0].is_modified())
    document = window.all_documents()[0]
    keys = document.shelf_panel.keys
    assert [keys.item(i).text() for i in range(keys.count())] == ["color", "sizes", "new"]
    document.undo_stack.undo()  # one step takes the whole restore back
    assert [keys.item(i).text() for i in range(keys.count())] == ["colour", "sizes", "old"]
    document.undo_stack.redo()
    with qtbot.waitSignal(document.valueShown):
        assert document.shelf_panel.select_key("sizes")
    assert document.view.model.index_for_path([0, 1]).siblingAtColumn(1).data() == "20"
    assert window.save_current()
    assert read_shelf(base) == {"color": "blue", "sizes": [1, 20, 3], "new": None}
    discard_and_close(qtbot, window)


def test_choose_restores_the_checked_files_and_discards_the_others(qtbot, tmp_path: Path,
                                                                    monkeypatch) -> None:
    from gui.recovery import restore as journal_restore

    settings_dir = tmp_path / "settings"
    files = make_files(tmp_path / "files")
    window = launch(qtbot, settings_dir, files["json"], files["text"])
    json_doc, text_doc = sorted(wait_documents(qtbot, window, 2), key=lambda d: d.path)
    edit_and_journal(qtbot, window, json_doc, lambda d: set_json_name(d, "keep me"))
    edit_and_journal(qtbot, window, text_doc, lambda d: qtbot.keyClicks(d.pages["text"].editor, "drop me "))
    crash_in_process(qtbot, window, settings_dir)

    window = launch(qtbot, settings_dir)
    qtbot.waitUntil(lambda: restore_notice(window) is not None)
    shown = {}

    def answer(dialog) -> int:  # the user unticks the text file and presses Restore Checked
        shown["rows"] = [dialog.list.item(i).text() for i in range(dialog.list.count())]
        dialog.grab().save(str(tmp_path / "choose.png"))
        dialog.set_checked(str(files["text"]), False)
        return journal_restore.QDialog.DialogCode.Accepted

    monkeypatch.setattr(journal_restore.ChooseDialog, "exec", answer)
    qtbot.mouseClick(restore_notice(window).findChild(QPushButton, "chooseRecoveredButton"),
                     Qt.MouseButton.LeftButton)
    assert len(shown["rows"]) == 2 and all("edited" in row for row in shown["rows"])
    qtbot.waitUntil(lambda: any(d.is_modified() for d in window.all_documents()))
    (restored,) = [d for d in window.all_documents() if d.is_modified()]
    assert restored.path == str(files["json"]) and restored.doc.root["name"] == "keep me"
    qtbot.waitUntil(lambda: entries(settings_dir, "recovered") == [])  # the text edits are gone
    text_doc = window.find_document(str(files["text"]))  # reopened by the session, unedited
    assert text_doc is None or not text_doc.is_modified()
    assert files["text"].read_text() == "line one\nline two\n"
    discard_and_close(qtbot, window)


def test_opening_a_file_removes_temporaries_of_a_killed_save(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    files = make_files(folder)
    leftover = folder / f".data.json.ds{dead_pid()}-k1ll3dxx.tmp"
    leftover.write_text('{"name": "half')
    window = launch(qtbot, tmp_path / "settings", files["json"])
    wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: not leftover.exists())
    assert json.loads(files["json"].read_text())["name"] == "demo"
    close_window(qtbot, window)
