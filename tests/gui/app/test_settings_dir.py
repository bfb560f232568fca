"""The settings folder missing, read-only or on a full disk never stops the window (issue 9, item 6).

As root, chmod does not stop writes, so a read-only file system and a full disk are made by the
atomic writer's own system calls failing with EROFS and ENOSPC; the writer's real error handling
runs. Each time: the window launches, says so once in the notice bar, and closes.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from storage.core import atomic
from tests.support.gui_helpers import close_window, launch


def settings_notices(window) -> list[str]:
    return [m for m in window.notices.messages() if "Settings cannot be saved" in m]


def autosave(qtbot, window) -> None:
    """What the timer does a few seconds after a change: write the settings in a worker."""
    window._autosave_settings()
    qtbot.waitUntil(lambda: window._settings_write is None)


def test_missing_folder_is_created(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "not" / "there" / "yet"
    window = launch(qtbot, folder)
    assert window.notices.messages() == []
    window.tabs.setCurrentWidget(window.page("json"))
    autosave(qtbot, window)
    data = json.loads((folder / "settings.json").read_text())
    assert data["state"]["window.active_tab"] == "json" and window.notices.messages() == []
    close_window(qtbot, window)


@pytest.mark.parametrize(("code", "why"), [(errno.EROFS, "read-only"), (errno.ENOSPC, "disk is full")])
def test_unwritable_folder_says_so_once(qtbot, tmp_path: Path, monkeypatch, code: int, why: str) -> None:
    folder = tmp_path / "settings"
    folder.mkdir()
    before = json.dumps({"schema_version": 1, "state": {"window.active_tab": "sqlite"}})
    (folder / "settings.json").write_text(before)

    def fail(*_args, **_kwargs):
        raise OSError(code, "refused")

    if code == errno.EROFS:  # no temporary file can even be made
        monkeypatch.setattr(atomic.tempfile, "mkstemp", fail)
    else:  # the temporary file is written, then the disk is full
        monkeypatch.setattr(atomic.os, "fsync", fail)
    window = launch(qtbot, folder)
    assert window.tabs.currentWidget() is window.page("sqlite")  # what could be read was read
    window.tabs.setCurrentWidget(window.page("json"))
    autosave(qtbot, window)
    [notice] = settings_notices(window)
    assert why in notice
    window.tabs.setCurrentWidget(window.page("files"))  # more changes: no second notice
    autosave(qtbot, window)
    window.save_settings()
    assert len(settings_notices(window)) == 1
    close_window(qtbot, window)
    assert (folder / "settings.json").read_text() == before  # untouched, and no leftovers
    leftovers = [p for p in folder.rglob("*") if p.is_file() and p.name != "settings.json"]
    # The crash journal's folder may stay, holding at most its session lock: no entries, no temps.
    assert all(p.name.endswith(".lock") for p in leftovers), leftovers
