"""A tab's empty state is built when its tab is first shown (a launch paints one of six), and
then looks and works as if it had been built at launch."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from tests.support.gui_helpers import launch


def test_hidden_tabs_build_their_empty_state_when_first_shown(qtbot, tmp_path, monkeypatch) -> None:
    window = launch(qtbot, tmp_path / "settings")
    asked: list[object] = []
    monkeypatch.setattr(window.opener, "open_dialog", lambda page=None: asked.append(page))
    shown = window.tabs.currentWidget()
    assert shown.empty.findChildren(QPushButton)  # the visible tab's, built for the first paint
    hidden = window.page("hdf5")
    assert hidden is not shown
    assert hidden.empty.findChildren(QLabel) == []  # nothing made for a tab nobody looked at
    hidden.empty.set_recent(["/data/run 1.h5"])  # remembered until the labels exist

    window.actions.tab_actions[window.pages.index(hidden)].trigger()  # View ▸ Show HDF5
    assert window.tabs.currentWidget() is hidden
    button = hidden.empty.open_button
    qtbot.waitUntil(button.isVisible)
    assert button.text() == "Open…"
    labels = [label.text() for label in hidden.empty.findChildren(QLabel) if label.isVisible()]
    assert any("HDF5" in text for text in labels)
    assert "run 1.h5" in hidden.empty.recent_label.text() and hidden.empty.recent_label.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert asked == [hidden]  # Open… asks for this tab's files, as before
