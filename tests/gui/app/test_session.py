"""Session state through the real window: change things, close, relaunch, all restored."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication

from storage.settings.store import SCHEMA_VERSION, encode_bytes
from tests.support.gui_helpers import close_window, launch, make_samples, wait_documents


def test_session_survives_a_restart(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir, samples["json"], samples["sqlite"], samples["text"])
    documents = wait_documents(qtbot, window, 3)
    # Within the offscreen platform's 800×600 screen, so nothing is clamped, and above the window's
    # minimum height with every bar the three documents may show while they load (about 490 px).
    window.setGeometry(QRect(40, 50, 700, 520))
    qtbot.waitUntil(lambda: window.geometry().size().width() == 700)
    json_doc = next(d for d in documents if d.path == str(samples["json"]))
    window.activate_document(json_doc)
    json_doc.splitter.setSizes([300, 600])
    wanted_sizes = json_doc.splitter.sizes()
    json_doc.summary_view.header().resizeSection(0, 177)
    index = json_doc.summary_model.index_for_path(["size"])
    json_doc.summary_view.setCurrentIndex(index)
    window.tabs.setCurrentWidget(window.page("json"))
    geometry = window.geometry()
    close_window(qtbot, window)

    saved = json.loads((settings_dir / "settings.json").read_text())
    assert saved["state"]["window.active_tab"] == "json"
    assert [d["path"] for d in saved["state"]["session.documents"]] == [
        str(samples["text"]), str(samples["json"]), str(samples["sqlite"])]

    again = launch(qtbot, settings_dir)
    restored = wait_documents(qtbot, again, 3)
    assert again.geometry() == geometry
    assert again.tabs.currentWidget() is again.page("json")
    assert {d.path for d in restored} == {str(p) for p in
                                          (samples["json"], samples["sqlite"], samples["text"])}
    assert again.settings.recent_files()[:3] == [str(samples["text"]), str(samples["sqlite"]),
                                                 str(samples["json"])]
    json_again = again.find_document(str(samples["json"]))
    assert json_again.splitter.sizes() == wanted_sizes
    assert json_again.summary_view.header().sectionSize(0) == 177
    current = json_again.summary_view.currentIndex()
    assert json_again.summary_model.node(current).path() == ["size"]
    assert again.current_document() is json_again


def test_missing_documents_are_skipped_with_a_note(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir, samples["json"], samples["text"])
    wait_documents(qtbot, window, 2)
    close_window(qtbot, window)
    samples["text"].unlink()
    again = launch(qtbot, settings_dir)
    [document] = wait_documents(qtbot, again, 1)
    assert document.path == str(samples["json"])
    assert "notes.md" in again.statusBar().currentMessage()
    assert "no longer exist" in again.statusBar().currentMessage()


def test_settings_are_saved_soon_after_a_change(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    window._autosave.setInterval(50)
    window.tabs.setCurrentWidget(window.page("sqlite"))
    path = settings_dir / "settings.json"
    qtbot.waitUntil(lambda: path.exists()
                    and json.loads(path.read_text())["state"]["window.active_tab"] == "sqlite")


def test_corrupt_settings_start_with_defaults_and_say_so(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    (settings_dir / "settings.json").write_text('{"schema_version": 1, "state": {')
    window = launch(qtbot, settings_dir)
    [message] = window.notices.messages()
    assert "corrupt" in message and "starting with defaults" in message
    assert list(settings_dir.glob("settings.json.*.bad"))
    assert window.tabs.currentWidget() is window.page("files")
    close_window(qtbot, window)
    again = launch(qtbot, settings_dir)
    assert again.notices.messages() == []  # said once, then a good file was written


def test_newer_settings_are_kept_aside(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    newer = {"schema_version": SCHEMA_VERSION + 5, "state": {"window.active_tab": "json"}}
    (settings_dir / "settings.json").write_text(json.dumps(newer))
    window = launch(qtbot, settings_dir)
    assert "newer Datashelf" in window.notices.messages()[0]
    assert window.tabs.currentWidget() is window.page("files")
    [aside] = settings_dir.glob("settings.json.*.bad")
    assert json.loads(aside.read_text()) == newer


def test_unwritable_settings_folder_never_stops_the_app(qtbot, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, so no folder can be made here")
    window = launch(qtbot, blocker / "settings")
    window.tabs.setCurrentWidget(window.page("json"))
    window.save_settings()
    assert any("cannot be saved" in m for m in window.notices.messages())
    close_window(qtbot, window)  # closing still works


def test_geometry_off_every_screen_falls_back_to_default(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    close_window(qtbot, window)
    # Pretend the last session ran on a monitor that is gone: a geometry far off-screen.
    probe = launch(qtbot, tmp_path / "probe", show=False)
    probe.setGeometry(QRect(20000, 15000, 800, 600))
    data = json.loads((settings_dir / "settings.json").read_text())
    data["state"]["window.geometry"] = encode_bytes(probe.saveGeometry().data())
    (settings_dir / "settings.json").write_text(json.dumps(data))
    again = launch(qtbot, settings_dir)
    screen = QGuiApplication.primaryScreen().availableGeometry()
    assert screen.intersects(again.frameGeometry())
    assert screen.contains(again.geometry().center())


def test_garbage_geometry_falls_back_to_default(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    raw = {"schema_version": SCHEMA_VERSION,
           "state": {"window.geometry": encode_bytes(b"garbage"), "window.state": "%%%"}}
    (settings_dir / "settings.json").write_text(json.dumps(raw))
    window = launch(qtbot, settings_dir)
    assert window.width() > 300 and window.height() > 200
