"""PySide asks of every module imported after it whether it uses PySide; ours answers the same,
from the file's bytes, at a fraction of the cost (issue 16)."""

from __future__ import annotations

import sys
import types

from gui.common import import_hook


def test_the_same_answer_as_pyside_for_every_loaded_module(tmp_path) -> None:
    from shibokensupport import feature

    theirs = feature._mod_uses_pyside
    if theirs is import_hook.uses_pyside:  # lightened already (a launch in this process)
        import inspect

        def theirs(module):
            try:
                return "PySide6" in inspect.getsource(module)
            except (TypeError, OSError, SyntaxError):
                return False

    modules = [m for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)]
    answers = [import_hook.uses_pyside(m) for m in modules]
    assert answers == [theirs(m) for m in modules]
    assert any(answers) and not all(answers)  # the gui modules do, the standard library does not
    gone = types.ModuleType("gone")
    gone.__file__ = str(tmp_path / "gone.py")  # its file was removed since
    assert import_hook.uses_pyside(gone) is False


def test_a_launch_installs_it(qtbot, tmp_path) -> None:
    from shibokensupport import feature

    from tests.support.gui_helpers import launch

    launch(qtbot, tmp_path / "settings", show=False)
    assert feature._mod_uses_pyside is import_hook.uses_pyside
