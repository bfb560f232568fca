"""Test setup: offscreen Qt, a private settings folder per test, no leftover worker threads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Before anything imports Qt: render offscreen, never on the developer's screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own settings and XDG folders: never the user's."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DATASHELF_SETTINGS_DIR", str(base / "settings"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    return base / "settings"


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    """Fail a test that leaves a worker running (napari's conftest does the same)."""
    yield
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    assert pool.waitForDone(10_000), "a test left a worker thread running"


def corpus_dir(*parts: str) -> Path:
    """A folder of ../shared/corpus, or skip the test with the reason."""
    folder = CORPUS.joinpath(*parts)
    if not folder.is_dir():
        pytest.skip(f"test corpus {folder} is absent (it lives in ../shared/corpus beside the repo)")
    return folder
