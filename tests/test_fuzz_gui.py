"""Mutated files of every format opened in the real window: each ends loaded or with its error
shown, no exception reaches Qt (pytest-qt fails the test on one) and no file changes."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.run import Fuzzer, lay_out, snapshot
from tests.fuzz.seeds import make_seeds
from tests.support.gui_helpers import launch

GUI_SEED = 7
PER_FORMAT = 2


def _cases(tmp_path: Path) -> list[tuple[Path, Path]]:
    """(folder, file) for PER_FORMAT mutated files of each seed format, each in its own folder."""
    fuzzer = Fuzzer(GUI_SEED, make_seeds(tmp_path / "seeds"), tmp_path / "work")
    fuzzer.child.close()
    wanted: dict[str, int] = {}
    cases = []
    trial = 0
    while len(cases) < PER_FORMAT * len(fuzzer._by_format):
        seed, which, data, _note = fuzzer.case(trial)
        trial += 1
        if wanted.get(seed.fmt, 0) >= PER_FORMAT or not data:
            continue
        wanted[seed.fmt] = wanted.get(seed.fmt, 0) + 1
        folder = tmp_path / "cases" / f"{trial}"
        folder.mkdir(parents=True)
        cases.append((folder, lay_out(folder, seed, which, data)))
    return cases


def test_mutated_files_open_in_the_window_without_errors_or_changes(qtbot, tmp_path, _private_dirs):
    cases = _cases(tmp_path)
    before = {folder: snapshot(folder) for folder, _path in cases}
    window = launch(qtbot, _private_dirs, show=True)
    failed: list[str] = []
    window.openFailed.connect(lambda path, _message: failed.append(path))
    window.open_paths([str(path) for _folder, path in cases])

    def settled() -> None:
        documents = window.all_documents()
        assert len(documents) + len(failed) == len(cases)
        assert all(d.is_loaded for d in documents)

    qtbot.waitUntil(settled, timeout=60_000)
    print(f"{len(window.all_documents())} documents, {len(failed)} refused: "
          + ", ".join(f"{type(d).__name__}:{d.title()}" for d in window.all_documents()))
    assert len(window.all_documents()) >= len(cases) // 2  # most mutated files still open
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible())
    for folder, _path in cases:
        assert snapshot(folder) == before[folder], folder
