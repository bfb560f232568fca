"""The window shows the verdict for every file it opens (issue 14 §1), in whichever tab opens it.

Files are opened through the real main window. Each hostile payload would create a marker file;
it must not exist afterwards, and the file's bytes, mtime and folder listing must not change.
Screenshots of the verdicts go to /tmp for a human look (``grab()``).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from gui.objects.document import ObjectsDocument
from tests.conftest import corpus_dir
from tests.storage.formats.objects.test_verdict_streams import Evil, _big_header_npy, _frame_payload_joblib
from tests.support.gui_helpers import launch, wait_documents

SHOTS = Path(tempfile.gettempdir()) / "datashelf-verdict-shots"


def snapshot(path: Path) -> tuple:
    return path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(path.parent))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """The opened files' folder: the settings live beside it, so its listing is the files' own."""
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


def open_file(qtbot, tmp_path: Path, path: Path):
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    return window, document


def shot(widget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def test_truncated_hostile_pickle_shows_dangerous_not_only_cannot_show(qtbot, tmp_path: Path,
                                                                       files: Path) -> None:
    marker = files / "MARKER"
    path = files / "cut.pkl"
    path.write_bytes(pickle.dumps({"x": Evil(marker), "pad": "p" * 300}, 4)[:-100])
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    assert isinstance(document, ObjectsDocument)
    assert document.stack.currentIndex() == 2  # the report page, not the "Cannot show" page
    assert document.safety.level == "dangerous"
    text = document.safety.summary.text()
    assert "posix.system" in text and "cannot be shown" in text
    assert document.safety.trust_button.isVisible()
    shot(window, "truncated-pickle")
    window.close_document(document)
    assert not marker.exists() and snapshot(path) == before


def test_the_verdict_bar_is_as_tall_as_its_text(qtbot, tmp_path: Path, files: Path) -> None:
    """The bar's text is fitted to its width: a height fitted to the narrow first layout used
    to stay, and the bar took a third of the window above a squeezed tree."""
    path = files / "cut.pkl"
    path.write_bytes(pickle.dumps({"x": Evil(files / "MARKER"), "pad": "p" * 300}, 4)[:-100])
    window, document = open_file(qtbot, tmp_path, path)
    window.resize(1200, 750)
    bar = document.safety

    def fitted() -> None:
        lines = bar.summary.fontMetrics().lineSpacing()
        assert bar.height() <= 3 * lines + 24, (bar.height(), lines)
        assert bar.summary.height() >= 2 * lines - 2  # the whole (two-line) text still shows

    qtbot.waitUntil(fitted, timeout=5_000)
    window.resize(500, 750)  # narrower: more lines, and the bar grows to show them all
    qtbot.waitUntil(lambda: bar.summary.height() >= 4 * bar.summary.fontMetrics().lineSpacing() - 2,
                    timeout=5_000)
    window.resize(1200, 750)
    qtbot.waitUntil(fitted, timeout=5_000)
    window.close_document(document)


def test_truncated_corpus_pickle_gets_the_inspect_verdict(qtbot, tmp_path: Path) -> None:
    from storage.inspect.report import exit_code, inspect_path

    path = corpus_dir("picklescan", "data") / "broken_model.pkl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    assert exit_code(inspect_path(path)) == 1
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    assert document.safety.level == "dangerous" and document.stack.currentIndex() == 2
    assert "Cannot show" not in document.error_label.text() or not document.error_label.isVisible()
    window.close_document(document)
    assert snapshot(path) == before


@pytest.mark.parametrize("kind", ["text", "hdf5"])
def test_a_pickle_behind_another_format_shows_its_verdict_in_that_tab(qtbot, tmp_path: Path, files: Path,
                                                                      kind: str) -> None:
    marker = files / "MARKER"
    payload = pickle.dumps(Evil(marker), 0 if kind == "text" else 2)
    if kind == "text":
        path = files / "letter.txt"
        path.write_bytes(payload + b"\nDear reader, nothing to see here.\n" * 20)
    else:
        h5py = pytest.importorskip("h5py")
        path = files / "data.h5"
        with h5py.File(path, "w", userblock_size=512) as h5:
            h5["x"] = np.arange(4)
        data = bytearray(path.read_bytes())
        data[:len(payload)] = payload
        path.write_bytes(bytes(data))
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    assert document.format == kind and not isinstance(document, ObjectsDocument)
    qtbot.waitUntil(lambda: document.verdict_bar is not None, timeout=10_000)
    bar = document.verdict_bar
    assert bar.level == "dangerous" and bar.isVisibleTo(document)
    assert "posix.system" in bar.summary.text() and "also a pickle" in bar.summary.text()
    assert not bar.trust_button.isVisibleTo(document)
    label = bar.summary  # the whole verdict is readable, not cut to one line by the narrow pane
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()) > 0)
    shot(window, f"pickle-behind-{kind}")
    window.close_document(document)
    assert not marker.exists() and snapshot(path) == before


def test_plain_text_gets_no_verdict_bar(qtbot, tmp_path: Path, monkeypatch) -> None:
    from gui.common import document as base

    answers: list[object] = []
    real = base._pickle_start_verdict

    def checked(path: str):  # the check's worker body: what it answered
        answers.append(real(path))
        return answers[-1]

    monkeypatch.setattr(base, "_pickle_start_verdict", checked)
    path = tmp_path / "notes.txt"
    path.write_text("only notes\n")
    _window, document = open_file(qtbot, tmp_path, path)
    qtbot.waitUntil(lambda: bool(answers), timeout=10_000)  # the check ran (once the text was shown)
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().waitForDone(10_000)
    qtbot.wait(50)  # its answer is delivered on this thread
    assert answers == [None] and document.verdict_bar is None


def test_joblib_frame_payload_is_dangerous_in_the_window(qtbot, tmp_path: Path, files: Path) -> None:
    pytest.importorskip("joblib")
    marker = files / "MARKER"
    path = _frame_payload_joblib(files, marker)
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    assert document.safety.level == "dangerous" and "posix.system" in document.safety.summary.text()
    root = document.view.model.index_for_path([0])
    assert root.isValid() and "posix.system" in root.siblingAtColumn(1).data()
    shot(window, "joblib-frame")
    window.close_document(document)
    assert not marker.exists() and snapshot(path) == before


def test_trust_and_load_is_never_the_default(qtbot, tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([Evil(marker)], 4))
    _window, document = open_file(qtbot, tmp_path, path)
    button = document.safety.trust_button
    assert not button.isDefault() and not button.autoDefault()
    seen = {}

    def answer(box: QMessageBox) -> int:
        trust = next(b for b in box.buttons() if "Trust" in b.text())
        seen["default"] = box.defaultButton()
        seen["trust_default"] = trust.isDefault() or trust.autoDefault()
        seen["escape"] = box.escapeButton()
        box.done(0)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    document.trust.trust_and_load()
    assert seen["default"] is not None and "Trust" not in seen["default"].text()
    assert seen["escape"] is seen["default"] and not seen["trust_default"]
    assert not document.trusted and not marker.exists()


def test_after_a_trusted_load_the_bar_no_longer_says_nothing_ran(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, 4))
    window, document = open_file(qtbot, tmp_path, path)
    assert "Nothing was run" in document.safety.summary.text()
    document.trust.load_trusted()  # what "Trust and load" does once confirmed
    qtbot.waitUntil(lambda: document.trusted, timeout=30_000)
    text = document.safety.summary.text()
    assert "Trusted load" in text and "Nothing was run" not in text and "without running" not in text
    assert document.safety.level != "info"
    shot(window, "trusted")
    document.safety.trust_button.click()  # back to the safe view
    qtbot.waitUntil(lambda: not document.trusted and "Nothing was run" in document.safety.summary.text())


def _build(case: str, folder: Path, marker: Path) -> Path:
    """One file of each hostile class of issue 14 §1 (the builders of tests/test_verdict_streams)."""
    evil = Evil(marker)
    if case == "bz2-like":
        length = int.from_bytes(b"Zh9\x00", "little")
        path = folder / "archive.bz2"
        path.write_bytes(b"BZh9\x00" + bytes(length) + b"0" + pickle.dumps(evil, 2))
    elif case == "pickle-named-text":
        path = folder / "model.sav"
        path.write_bytes(pickle.dumps(evil, 0) + b"\n# trained on 2024-01-02\n" * 5)
    elif case == "json-with-pickle-name":
        path = folder / "config.json"  # JSON text after a protocol-0 pickle: the JSON tab opens it
        path.write_bytes(pickle.dumps(evil, 0) + b'\n{"a": 1}\n')
    elif case == "big-header-npy":
        path = folder / "big.npy"
        path.write_bytes(_big_header_npy(marker))
    elif case == "stacked":
        path = folder / "stack.pkl"
        path.write_bytes(pickle.dumps([1, 2]) + pickle.dumps(evil, 2))
    elif case == "after-junk":
        path = folder / "junk.pkl"
        path.write_bytes(pickle.dumps({"a": 1}, 4) + b"\xfe\xfe junk " + pickle.dumps(evil, 4))
    else:
        raise AssertionError(case)
    return path


@pytest.mark.parametrize("case", ["bz2-like", "pickle-named-text", "json-with-pickle-name", "big-header-npy",
                                  "stacked", "after-junk"])
def test_every_hostile_class_is_dangerous_in_the_window(qtbot, tmp_path: Path, files: Path,
                                                        case: str) -> None:
    from storage.inspect.report import exit_code, inspect_path

    marker = files / "MARKER"
    path = _build(case, files, marker)
    assert exit_code(inspect_path(path)) == 1
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    if isinstance(document, ObjectsDocument):
        bar = document.safety
    else:
        qtbot.waitUntil(lambda: document.verdict_bar is not None, timeout=10_000)
        bar = document.verdict_bar
    assert bar.level == "dangerous" and "posix.system" in bar.summary.text()
    label = bar.summary
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()) > 0)
    shot(window, f"class-{case}")
    window.close_document(document)
    assert not marker.exists() and snapshot(path) == before


def test_a_json_file_named_like_a_pickle_says_what_pickle_load_would_do(qtbot, tmp_path: Path,
                                                                       files: Path) -> None:
    path = files / "weights.pkl"
    path.write_bytes(b'{"not": "a pickle"}')
    before = snapshot(path)
    window, document = open_file(qtbot, tmp_path, path)
    assert document.format == "json"
    qtbot.waitUntil(lambda: document.verdict_bar is not None, timeout=10_000)
    text = document.verdict_bar.summary.text()
    assert document.verdict_bar.level == "info"
    assert "named like a pickle" in text and "stops at byte 0 without importing anything" in text
    assert "also a pickle" not in text
    shot(window, "json-named-pkl")
    window.close_document(document)
    assert snapshot(path) == before


def test_reloading_a_file_that_became_a_pickle_shows_the_verdict(qtbot, tmp_path: Path, files: Path) -> None:
    path = files / "notes.txt"
    path.write_text("only notes\n")
    _window, document = open_file(qtbot, tmp_path, path)
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().waitForDone(10_000)
    qtbot.wait(50)
    assert document.verdict_bar is None
    marker = files / "MARKER"
    path.write_bytes(pickle.dumps(Evil(marker), 0) + b"\nnotes\n")
    # no edits here: the change is reloaded unasked, and the new content gets its verdict
    qtbot.waitUntil(lambda: document.verdict_bar is not None and document.verdict_bar.isVisibleTo(document),
                    timeout=10_000)
    assert document.verdict_bar.level == "dangerous" and not marker.exists()


def test_every_dangerous_picklescan_file_is_dangerous_in_its_tab(qtbot, tmp_path: Path) -> None:
    """Whatever tab opens them (Objects, Files for archives...), the window agrees with inspect."""
    from storage.inspect.report import exit_code, inspect_path

    folder = corpus_dir("picklescan")
    hostile = [p for p in sorted(folder.rglob("*")) if p.is_file() and exit_code(inspect_path(p)) == 1]
    assert len(hostile) > 50
    window = launch(qtbot, tmp_path / "settings")
    for path in hostile:
        before = snapshot(path)
        window.open_paths([str(path)])
        (document,) = wait_documents(qtbot, window, 1)
        if isinstance(document, ObjectsDocument):
            bar = document.safety
        else:
            qtbot.waitUntil(lambda d=document: d.verdict_bar is not None, timeout=10_000)
            bar = document.verdict_bar
        assert bar.level == "dangerous", (path, document.format, bar.summary.text())
        window.close_document(document)
        wait_documents(qtbot, window, 0)
        assert snapshot(path) == before
