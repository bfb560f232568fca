"""The pickle-start check of a document in another tab waits for its content and then for the event
loop to have painted it (issue 16: neither the first screen nor the first rows wait for the pickle
scanner), or for PICKLE_CHECK_WAIT_MS when no content comes."""

from __future__ import annotations

from gui.common import document as document_module
from gui.common.document import Document


def started_checks(monkeypatch) -> list[str]:
    started: list[str] = []

    def run_in_worker(fn, path, **_kwargs) -> None:
        if fn is document_module._pickle_start_verdict:
            started.append(path)

    monkeypatch.setattr(document_module, "run_in_worker", run_in_worker)
    return started


def test_the_check_starts_once_the_content_is_shown(qtbot, tmp_path, monkeypatch) -> None:
    started = started_checks(monkeypatch)
    document = Document(str(tmp_path / "data.txt"), "text")
    qtbot.addWidget(document)
    document.check_pickle_verdict()
    assert started == [] and document.pickle_checked  # the content first
    document.mark_loaded()
    assert started == []  # the content is painted first, and the loop gets a moment of idle
    qtbot.waitUntil(lambda: started == [document.path], timeout=5000)
    document.mark_loaded()  # a reload shows content again: no second check unless asked
    qtbot.wait(document_module.PICKLE_CHECK_IDLE_MS + 200)
    assert started == [document.path]
    document.check_pickle_verdict()  # asked again when loaded (a reload from disk): after a moment
    assert started == [document.path]
    qtbot.waitUntil(lambda: started == [document.path, document.path], timeout=5000)


def test_a_document_that_never_loads_is_checked_all_the_same(qtbot, tmp_path, monkeypatch) -> None:
    started = started_checks(monkeypatch)
    document = Document(str(tmp_path / "data.txt"), "text")
    qtbot.addWidget(document)
    document.check_pickle_verdict()
    qtbot.waitUntil(lambda: started == [document.path],
                    timeout=document_module.PICKLE_CHECK_WAIT_MS + 5000)
