"""The Files browser follows the files named on the command line (and handed over later)."""

from __future__ import annotations

import json
from pathlib import Path

from gui.app.single_instance import open_in
from tests.support.gui_helpers import launch, wait_documents


def test_browser_shows_the_folder_of_a_file_from_the_command_line(qtbot, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    data = project / "data.json"
    data.write_text(json.dumps({"a": 1}))
    window = launch(qtbot, tmp_path / "settings", data)
    wait_documents(qtbot, window, 1)
    browser = window.page("files").browser
    assert browser.root == str(project)
    assert browser.model.filePath(browser.tree.rootIndex()) == str(project)
    assert browser.folder_button.text() == "project"

    # A second launch hands a file over: the browser goes to its folder too.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("hello\n")
    open_in(window, [str(other / "notes.txt")])
    wait_documents(qtbot, window, 2)
    assert browser.root == str(other)
    window.tabs.setCurrentWidget(window.page("files"))
    window.grab().save(str(tmp_path / "files.png"))
