"""The first screen of a big pickle while its safe load runs (issue 16: content within 0.5 s).

A part the Objects document owns. Before the load starts it reads the head of the file
(``storage.formats.objects.first.first_look``, a few milliseconds) and shows its first top-level
items as a read-only tree, with a progress bar and Cancel. The safety bar says "Checking…" until
``plain_verdict`` (every opcode walked at C speed) vouches for the verdict, which is then exactly
the one the load reports; when it cannot vouch, the bar keeps saying "Checking…" until the load has
the verdict. A verdict is never guessed, so it never changes between the stages.

Compressed pickles and joblib files get the preview (from their decompressed head) and "Checking…"
until the load has the verdict: the census reads uncompressed pickles only. A big shelf shows its
first keys (read at open, before any value) and its verdict once the census has read every value
and found each plain data. Small pickles (read whole from their head) and small shelves, zipped
pickles, .npy and .npz skip the first stage: the loading page shows until the load is done.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QProgressBar, QPushButton

from gui.common.first_paint import after_first_paint
from gui.common.workers import Worker, run_in_worker
from storage.formats.objects.doc import ObjectDoc
from storage.formats.objects.first import FirstLook, PlainCensus, first_look, plain_verdict

if TYPE_CHECKING:
    from gui.common.safety_bar import SafetyBar
    from gui.objects.document import ObjectsDocument

CHECKING_STYLE = "#safetyBar { background: #eceff1; } #safetyBar QLabel { color: #37474f; }"


def show_checking(bar: SafetyBar, text: str) -> None:
    """The safety bar while no verdict is known yet: neutral, nothing to detail, nothing to trust."""
    bar.level = "checking"
    bar.setStyleSheet(CHECKING_STYLE)
    bar.summary.setText(text)
    bar.clear_details()
    bar.details_button.setChecked(False)
    bar.details_button.setText("Details")
    bar.details_button.setEnabled(False)
    bar.trust_button.setEnabled(False)


LOOK_WAIT = 0.015  # seconds the GUI thread waits for the first look before showing the loading page

CHECKING = ("<b>Checking…</b> the verdict appears once every opcode has been read; nothing in the "
            "file is run.")
NOT_CHECKED = ("<b>Not checked:</b> the load was cancelled before every opcode was read. Nothing in "
               "the file was run.")


class FirstStage(QObject):
    """The preview, the census verdict and the load's progress of one Objects document."""

    cancelRequested = Signal()
    progressed = Signal(float)  # the load's progress, emitted on its worker (queued to the window)

    def __init__(self, document: ObjectsDocument) -> None:
        super().__init__(document)
        self.document = document
        self.generation = 0
        self._looked = -1  # the generation whose first look has been taken
        self._ahead: tuple[Worker, list[FirstLook | None]] | None = None  # a look started early
        self.look: FirstLook | None = None  # the preview on screen while the load goes on
        self.verdict: Any = None  # the ObjectsFile plain_verdict vouched for
        self.census: PlainCensus | None = None
        self.progress = QProgressBar(document)
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(180)
        self.progress.setFormat("Loading %p%")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", document)
        self.cancel_button.setToolTip("Stop loading; the first items stay on screen")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        self.progressed.connect(self._on_progress)

    @property
    def shown(self) -> bool:
        """The preview is on screen and the load still runs."""
        return self.look is not None and self.progress.isVisible()

    def look_ahead(self) -> None:
        """Start reading the file's head now, while the document's parts are made: the first
        :meth:`start` takes its answer (at once, as a rule: it is a millisecond or two of work)."""
        self._ahead = self._look()

    def _look(self) -> tuple[Worker, list[FirstLook | None]] | None:
        document = self.document
        if document.format not in ("pickle", "joblib", "shelve") or not document.path:
            return None
        looked: list[FirstLook | None] = []

        def look(path: str, kind: str) -> FirstLook | None:
            looked.append(first_look(path, kind))
            return looked[0]

        return run_in_worker(look, document.path, document.format), looked

    def start(self, then: Callable[[], None]) -> None:
        """Look at the file's head on a worker, show what it finds, then call ``then`` (the load)."""
        self.generation += 1
        generation = self.generation
        self.look, self.verdict, self.census = None, None, None
        ahead, self._ahead = self._ahead, None
        looking = ahead or self._look()
        if looking is None:
            then()
            return
        worker, looked = looking
        worker.signals.returned.connect(lambda found: self._on_look(generation, found, then))
        worker.signals.errored.connect(lambda _exc: self._on_look(generation, None, then))
        # The answer shown in the window's next paint, not after a paint of the loading page: a
        # local file's head is read in a millisecond or two, and a look started ahead (while the
        # document was made) is done by now. A slow disk or share is not waited for (the answer
        # comes through the event loop). A document made again in a window not shown yet (a
        # launch's file) would get the answer before the first paint anyway.
        if not worker.done.is_set() and (ahead is not None or self.document.window().isVisible()):
            worker.done.wait(LOOK_WAIT)
        if worker.done.is_set():
            self._on_look(generation, looked[0] if looked else None, then)

    def _on_look(self, generation: int, look: FirstLook | None, then: Callable[[], None]) -> None:
        if generation != self.generation or self._looked == generation:
            return
        self._looked = generation  # once (the worker's answer follows one taken at once)
        if look is None or look.complete:  # nothing to show first, or small: the load is quick
            then()
            return
        self.look = look
        self.document.show_first_stage(look)
        show_checking(self.document.safety, CHECKING)
        self.progress.setRange(0, 0)  # busy until the load reports (only loads of pickle bytes do)
        self.progress.show()
        self.cancel_button.show()
        self._show_facts()
        self._when_painted(lambda: self._start_census(generation, then))

    def _when_painted(self, work: Callable[[], None]) -> None:
        """Run ``work`` once the preview is on screen: beside the load and the census (they hold the
        GIL) every Python call of the tree's first layout and paint would wait its turn. At once
        when, once the event loop runs, the tree is not visible (a document opened behind another:
        nothing paints it); the document may be made before its window shows (a launch's file)."""
        after_first_paint(self.document.view.tree.viewport(), work, self, unless_hidden=True)

    def _start_census(self, generation: int, then: Callable[[], None]) -> None:
        if generation != self.generation:
            return
        then()
        run_in_worker(plain_verdict, self.document.path, self.document.format,
                      on_result=lambda found: self._on_verdict(generation, found))

    def _on_verdict(self, generation: int, found: tuple[Any, PlainCensus] | None) -> None:
        if generation != self.generation or found is None or self.look is None:
            return
        self.verdict, self.census = found
        self.document.safety.show_report(self.verdict)
        self.document.safety.details_button.setEnabled(True)
        self.document.safety.trust_button.setEnabled(False)  # there is no result to trust yet
        self._show_facts()

    @Slot(float)
    def _on_progress(self, fraction: float) -> None:
        if self.look is not None:
            if not self.progress.maximum():
                self.progress.setRange(0, 100)
            self.progress.setValue(round(100 * fraction))

    def finish(self) -> None:
        """The load answered (or the document closes): the first stage is over."""
        self.generation += 1
        self.look = None
        self.progress.hide()
        self.cancel_button.hide()

    def cancelled(self) -> bool:
        """The user stopped the load: the preview stays, read-only, and says so (with a link to
        load it all); False when there was no preview (the document shows its own message)."""
        look = self.look
        self.generation += 1
        self.progress.hide()
        self.cancel_button.hide()
        if look is None:
            return False
        if self.verdict is None:
            show_checking(self.document.safety, NOT_CHECKED)
        self.document.facts.setText(f"{self._what(look)} · <b>loading was cancelled:</b> only the first "
                                    f"{look.shown:,} {look.noun} are shown, read-only · "
                                    '<a href="reload">Load all</a>')
        return True

    def _what(self, look: FirstLook) -> str:
        """"pickle · dict of 300,000 items", "shelf of 1,200 keys": what the file holds."""
        if look.noun == "keys":
            return f"shelf of {look.total or look.shown:,} keys"
        census = self.census
        what = f"{html.escape(self.document.format)} · {html.escape(look.type_name)}"
        if census is not None and census.type_name == look.type_name:
            return f"{what} of {census.items:,} items"
        return what

    def _show_facts(self) -> None:
        look = self.look
        if look is not None:
            rest = "every value is checked" if look.noun == "keys" else "the whole file loads"
            self.document.facts.setText(f"{self._what(look)} · the first {look.shown:,} {look.noun} shown, "
                                        f"read-only, while {rest}")

    def preview_doc(self, look: FirstLook) -> ObjectDoc:
        label = f"{self.document.title()} ({look.noun})" if look.noun == "keys" else self.document.title()
        doc = ObjectDoc(look.preview, None, label=label)
        doc.read_only = True
        return doc
