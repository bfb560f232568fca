"""The Files browser follows the files named on the command line (and handed over later)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QWidget

from gui.app.single_instance import open_in
from storage.settings.store import Settings
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


def test_the_folder_browser_is_built_when_the_files_tab_first_shows(qtbot, tmp_path: Path) -> None:
    from gui.files.tab import FilesTab

    project = tmp_path / "project"
    project.mkdir()
    (project / "data.json").write_text(json.dumps({"a": 1}))
    (project / "notes.txt").write_text("hello\n")
    settings = Settings(tmp_path / "settings")
    holder = QWidget()
    holder.settings = settings  # as the window gives it
    qtbot.addWidget(holder)
    files = FilesTab(QIcon(), holder)
    files.show_folder_of(str(project / "data.json"))
    assert files._browser is None  # issue 16: not built until shown (or asked for)
    assert settings["files.root_folder"] == str(project)  # remembered all the same

    holder.show()
    qtbot.waitExposed(holder)
    browser = files.browser
    assert files._browser is browser and browser.isVisible()
    assert browser.root == str(project) and browser.folder_button.text() == "project"
    assert files.splitter.widget(0) is browser and files.splitter.count() == 2
    qtbot.waitUntil(lambda: browser.model.index(str(project / "notes.txt")).isValid())
    opened = []
    files.pathsRequested.connect(opened.append)
    browser.tree.setFocus()
    browser.tree.setCurrentIndex(browser.model.index(str(project / "notes.txt")))
    qtbot.keyClick(browser.tree, Qt.Key.Key_Return)
    assert opened == [[str(project / "notes.txt")]]  # Enter asks to open the file, as before
