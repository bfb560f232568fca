"""An open pickle, joblib, .npy, .npz or shelf: the safety report, the value tree, edits, save.

Loading runs on a worker (``storage.formats.objects.file.open_objects``); nothing in the file is run.
A big pickle or joblib file shows its first items (a big shelf its first keys) and, when it can be
told for sure, its verdict first (:class:`gui.objects.first_stage.FirstStage`), with the load's
progress and Cancel.
"Trust and load" (:class:`gui.objects.trust.TrustedLoader`, a part the document owns) is the one
way to run it, in a separate process.
The file (every file of a shelf) is watched for changes by :mod:`gui.common.disk_watch`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.common import save_options
from gui.common.disk_watch import DiskGuard
from gui.common.document import Document
from gui.common.notice_bar import MessageLine
from gui.common.safety_bar import SafetyBar
from gui.common.workers import run_in_worker, run_with_progress
from gui.objects.first_stage import FirstStage
from gui.objects.model import ObjectTreeModel
from gui.objects.view import ObjectsView
from gui.recovery.hooks import SwapContentCommand, expect_payload
from storage.core.errors import DecompressionLimitError, KnownError, UnsupportedError
from storage.formats import registry as format_registry
from storage.formats.objects.doc import ObjectDoc
from storage.recovery.payload import pack

if TYPE_CHECKING:  # imported when first used: the first screen of a big pickle needs none of them
    from gui.common.loading_page import LoadingPage
    from gui.objects.convert import TableConverter
    from gui.objects.shelf import ShelfPanel
    from gui.objects.trust import TrustedLoader
    from storage.formats.objects.file import ObjectsFile
    from storage.formats.objects.first import FirstLook

PROTOCOLS = (0, 1, 2, 3, 4, 5)
LOOK_PATIENCE_MS = 100  # the loading page waits this long for a big pickle's first items


class ObjectsDocument(Document):
    """The safety report over the value tree (and a shelf's keys) of one objects file."""

    valueShown = Signal(str)  # a shelf key's value is in the tree (or why it cannot be)
    def __init__(self, path: str, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.result: ObjectsFile | None = None
        self.shelf_panel: ShelfPanel | None = None
        self.shelf_models: dict[str, ObjectTreeModel] = {}
        self.shelf_raw: dict[str, bytes] = {}
        self.trusted = False
        self.trusted_size = False  # "Open anyway": compressed data may unpack past its budget
        self._key_generation = 0
        self.first = FirstStage(self)  # a big pickle's first items: their look starts now
        self.first.look_ahead()
        self.disk = DiskGuard(self)
        self.stack = QStackedWidget(self)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.disk.bar)
        box.addWidget(self.stack)
        self.loading_slot = QWidget(self)  # the loading page, made when a load is waited for
        self._loading_page: LoadingPage | None = None
        self.stack.addWidget(self.loading_slot)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_label.linkActivated.connect(self._on_error_link)
        self.stack.addWidget(self.error_label)
        self.stack.addWidget(self._build_content_page())
        self.reload()

    # -- pages -----------------------------------------------------------------------------------
    def _show_loading_page(self) -> LoadingPage:
        """The page shown while the file is read. Made when first shown: a big pickle's first items
        are usually in the window's first paint, and then it never is."""
        if self._loading_page is None:
            from gui.common.loading_page import LoadingPage

            page = self._loading_page = LoadingPage(f"Reading {self.title()} safely (nothing in it is run)…",
                                                    parent=self.loading_slot)
            page.cancelled.connect(self._on_cancel)
            box = QVBoxLayout(self.loading_slot)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(page)
        self.stack.setCurrentWidget(self.loading_slot)
        return self._loading_page

    def _build_content_page(self) -> QWidget:
        page = QWidget(self)
        self.safety = SafetyBar(page)
        self.safety.trustRequested.connect(lambda: self.trust.trust_and_load())
        self.facts = QLabel(page)
        self.facts.setWordWrap(True)
        self.facts.linkActivated.connect(self._on_error_link)
        self.first.cancelRequested.connect(self._on_cancel)
        self.protocol_combo = QComboBox(page)
        self.protocol_combo.setToolTip("Pickle protocol used when saving")
        self.protocol_combo.activated.connect(lambda _i: self.statusChanged.emit())
        self.view = ObjectsView(self.undo_stack, page)
        self.view.file_path = self.path
        self.view.selectionMoved.connect(self.viewStateChanged)
        self.view.splitter.splitterMoved.connect(self.viewStateChanged)
        self.view.selectionMoved.connect(self.statusChanged)  # File ▸ Convert… follows the table shown
        self.view.convertRequested.connect(self.ask_convert)
        self.message = MessageLine(page)  # a conversion's outcome
        self.message.setObjectName("objectsMessage")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, page)
        self.splitter.addWidget(self.view)
        self.splitter.splitterMoved.connect(self.viewStateChanged)
        top = QHBoxLayout()
        top.setContentsMargins(8, 0, 8, 0)
        top.addWidget(self.facts, 1)
        top.addWidget(self.first.progress)
        top.addWidget(self.first.cancel_button)
        self.protocol_label = QLabel("Save as protocol:", page)
        top.addWidget(self.protocol_label)
        top.addWidget(self.protocol_combo)
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addWidget(self.safety)
        box.addLayout(top)
        box.addWidget(self.message)
        box.addWidget(self.splitter, 1)
        return page

    @cached_property
    def trust(self) -> TrustedLoader:
        """Trust and load (made when first asked: a first screen never needs it)."""
        from gui.objects.trust import TrustedLoader

        return TrustedLoader(self)

    @cached_property
    def converter(self) -> TableConverter:
        """File ▸ Convert… of the table shown (made when first asked: it imports the conversion
        machinery, which a first screen never needs)."""
        from gui.objects.convert import TableConverter

        converter = TableConverter(self.view)
        converter.finished.connect(lambda ok, text: self.message.show_message(
            html.escape(text, quote=False), "info" if ok else "error"))
        return converter

    # -- loading ---------------------------------------------------------------------------------
    def reload(self) -> None:
        self.stack.setCurrentWidget(self.loading_slot)
        self.disk.record()  # before the read: a change while reading shows the bar
        self.cancel_latest()  # a load still running for the previous reload is not awaited any more
        self.first.start(self._start_load)  # a big file's first items, then the load
        # The first look (a millisecond or two) is answered before the window's next paint, as a
        # rule: the loading page is made when the load starts without first items, or after a
        # moment when the look is slow (a network share).
        QTimer.singleShot(LOOK_PATIENCE_MS, self, self._loading_unless_shown)

    def _loading_unless_shown(self) -> None:
        if self.stack.currentWidget() is self.loading_slot:  # nothing on screen: the load is waited for
            self._show_loading_page()

    def _start_load(self) -> None:
        trusted_size, report = self.trusted_size, self.first.progressed.emit  # emitted on the worker

        def load(path: str, fmt: str, cancel: Callable[[], bool]) -> ObjectsFile:
            from storage.formats.objects.file import open_objects  # on the worker

            return open_objects(path, fmt, cancel, trusted_size=trusted_size, progress=report)

        self.run_latest(load, self.path, self.format, on_result=self._on_loaded, on_error=self._on_failed)
        self._loading_unless_shown()

    def show_first_stage(self, look: FirstLook) -> None:
        """The first items of a big pickle (keys of a shelf), read-only, while it loads (FirstStage
        calls this)."""
        self.result = None
        if self.shelf_panel is not None:  # a reloaded shelf: its keys come back with the load
            self.shelf_panel.hide()
        self.protocol_combo.setVisible(False)
        self.protocol_label.setVisible(False)
        self.view.set_doc(self.first.preview_doc(look))
        self.view.text.setPlainText(f"The first {look.shown:,} {look.noun} of this {look.type_name}.")
        self.stack.setCurrentIndex(2)

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_latest()
        if not self.first.cancelled():  # with a preview on screen, it stays and says so
            self._show_error("Opening was cancelled.")
        elif not self.is_loaded:
            self.mark_loaded()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.first.finish()
        message = self.describe_failure(exc)
        offer = isinstance(exc, DecompressionLimitError) and not self.trusted_size
        self._show_error(message, '<br><br><a href="open-anyway">Open anyway</a>' if offer else "")

    @Slot(str)
    def _on_error_link(self, link: str) -> None:
        if link == "open-anyway":
            self.trusted_size = True
            self.reload()
        elif link == "reload":  # "Load all" after a cancelled load
            self.reload()

    def _show_error(self, message: str, links: str = "") -> None:
        self.error_label.setText(f"<b>Cannot show {html.escape(self.title())}:</b><br>{html.escape(message)}"
                                 + links)
        self.stack.setCurrentWidget(self.error_label)
        if not self.is_loaded:
            self.mark_loaded()

    def _on_loaded(self, generation: int, result: ObjectsFile) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.first.finish()
        self.result = result
        self.trusted = False
        self.undo_stack.clear()
        if result.shelf is not None:
            self.disk.record()  # now the shelf's files are known (watched_paths)
        self.safety.show_report(result)
        self.safety.details_button.setEnabled(True)
        self.safety.trust_button.setText("Trust and load…")
        entry = format_registry.get(result.kind)  # a kind with a real loader can be loaded trusted
        self.safety.trust_button.setEnabled(entry is not None and bool(entry.trusted_loader))
        self._fill_protocols(result.protocol)
        pickled = result.shelf is None and result.kind in ("pickle", "joblib") and result.doc is not None
        self.protocol_combo.setVisible(pickled)
        self.protocol_label.setVisible(pickled)
        self._show_facts()
        if result.shelf is not None:
            self._show_shelf(result)
        elif result.doc is not None:
            self.view.set_doc(result.doc)
        else:  # the values cannot be shown; the verdict above still says what loading would do
            placeholder = ObjectDoc(f"<the values cannot be shown: {result.load_error}>", None,
                                    label=self.title())
            placeholder.read_only = True
            self.view.set_doc(placeholder)
        self.stack.setCurrentIndex(2)
        self._restore_pending_view_state()
        if not self.is_loaded:
            self.mark_loaded()
        self.statusChanged.emit()

    def _fill_protocols(self, original: int | None) -> None:
        self.protocol_combo.clear()
        for protocol in PROTOCOLS:
            label = f"{protocol} (original)" if protocol == original else str(protocol)
            self.protocol_combo.addItem(label, protocol)
        self.protocol_combo.setCurrentIndex(PROTOCOLS.index(original) if original in PROTOCOLS else 4)

    @property
    def kind_label(self) -> str:
        """What the status bar calls the file: "PICKLE (gzip)" for pandas' .pkl.gz, "JOBLIB (zlib)"."""
        result = self.result
        if result is None:
            return ""
        return f"{result.kind.upper()} ({result.compression})" if result.compression else result.kind.upper()

    def _show_facts(self) -> None:
        result = self.result
        if result is None:
            return
        parts = [self.kind_label.lower() if result.compression else result.kind]
        if result.protocol is not None:
            parts.append(f"protocol {result.protocol}")
        if result.encoding != "ASCII":
            parts.append(f"Python 2 strings read as {result.encoding} (as pandas, NumPy and joblib do)")
        if result.tail:
            parts.append(f"{len(result.tail):,} bytes after the last pickle (kept on save)")
        if result.note:
            parts.append(result.note)
        if result.load_error:
            parts.append("values not shown: " + html.escape(result.load_error))
        if result.size_limited and not self.trusted_size:
            parts.append('<a href="open-anyway">Open anyway</a>')
        if self.trusted:
            parts.append("<b>trusted load: the real objects, as their repr; read-only</b>")
        elif result.doc is not None and result.doc.read_only:
            parts.append("read-only")
        self.facts.setText(" · ".join(parts))

    # -- trusted load (gui/objects/trust.py) --------------------------------------------------------
    def show_loading(self, text: str) -> None:
        self._show_loading_page().label.setText(text)

    def show_content(self) -> None:
        self.stack.setCurrentIndex(2)

    def show_trusted(self, value: Any) -> None:
        """Show the objects a trusted load built, read-only, as their repr."""
        self.trusted = True
        doc = ObjectDoc(value, None, label=self.title())
        doc.read_only = True
        self.view.show_model(self.view.new_model(doc))
        self.safety.trust_button.setText("Back to the safe view")
        if self.result is not None:
            self.safety.show_trusted(self.result)
        self._show_facts()
        self.show_content()

    # -- File ▸ Convert… (gui/objects/convert.py): the DataFrame or array shown as a grid ----------
    def can_convert(self) -> bool:
        return self.stack.currentIndex() == 2 and self.view.shows_table()

    def ask_convert(self) -> Any:
        return self.converter.ask(self.path, self.title()) if self.can_convert() else None

    # -- find (Edit ▸ Find, F3, Shift+F3): the value tree's keys and values ------------------------
    def start_find(self) -> bool:
        if self.stack.currentIndex() != 2:
            return False
        self.view.find_bar.open()
        return True

    def find_next(self, backward: bool = False) -> bool:
        if self.stack.currentIndex() != 2:
            return False
        self.view.finder.find(backward)
        return True

    # -- shelves ---------------------------------------------------------------------------------
    def _show_shelf(self, result: ObjectsFile) -> None:
        if self.shelf_panel is not None:
            self.shelf_panel.deleteLater()
        self.shelf_models.clear()
        self.shelf_raw.clear()
        from gui.objects.shelf import ShelfPanel

        self.shelf_panel = ShelfPanel(result.shelf, self.undo_stack, result.shelf_protocols, self)
        self.shelf_panel.keySelected.connect(self._on_key_selected)
        self.shelf_panel.keyRenamed.connect(self._on_key_renamed)
        self.splitter.insertWidget(0, self.shelf_panel)
        self.splitter.setSizes([220, 900])
        self.view.in_shelf = True
        self._on_key_selected(self.shelf_panel.current_key() or "")

    @Slot(str)
    def _on_key_selected(self, key: str) -> None:
        if not key or self.result is None:
            self.view.set_doc(ObjectDoc(None, None))
            return
        model = self.shelf_models.get(key)
        if model is not None:
            self.view.show_model(model)
            return
        # One value, read and loaded safely only when selected, on a worker: values can be big.
        self._key_generation += 1
        generation = self._key_generation
        self.view.show_model(self.view.new_model(ObjectDoc(None, None)))
        self.view.text.setPlainText(f"Reading the value of {key!r}…")
        from storage.formats.objects.file import load_shelf_value

        run_in_worker(load_shelf_value, self.result.shelf, key,
                      on_result=lambda loaded: self._on_value_loaded(generation, key, *loaded),
                      on_error=lambda exc: self._on_value_failed(generation, key, exc))

    def _on_value_loaded(self, generation: int, key: str, doc: ObjectDoc, raw: bytes) -> None:
        if generation != self._key_generation or key in self.shelf_models:
            return
        self.shelf_raw[key] = raw
        model = self.view.new_model(doc)
        self.shelf_models[key] = model
        self.view.show_model(model)
        self.valueShown.emit(key)
        self.viewStateChanged.emit()

    def _on_value_failed(self, generation: int, key: str, exc: BaseException) -> None:
        if generation != self._key_generation:
            return
        reason = self.describe_failure(exc)
        self.view.set_doc(ObjectDoc(f"<the value of {key!r} cannot be shown: {reason}>", None, label=key))
        self.view.model.doc.read_only = True
        self.valueShown.emit(key)

    @Slot(str, str)
    def _on_key_renamed(self, old: str, new: str) -> None:
        for table in (self.shelf_models, self.shelf_raw):
            if old in table:
                table[new] = table.pop(old)

    # -- saving ----------------------------------------------------------------------------------
    def can_save(self) -> bool:
        result = self.result
        if result is None or self.trusted:
            return False
        if result.shelf is not None:
            return True
        return result.doc is not None and not result.doc.read_only

    def chosen_protocol(self) -> int | None:
        return self.protocol_combo.currentData()

    def save(self) -> bool:
        return self.save_as(self.path) if self.path else False

    def save_as(self, path: str) -> bool:
        result = self.result
        if not self.can_save() or result is None:
            return False
        from storage.formats.objects.file import saved_compression

        path = os.path.abspath(path)
        written = saved_compression(result, path)  # Save As x.pkl.gz compresses as pandas infers
        with self.disk.own_write():
            if not self._write(result, path):
                return False
        if result.shelf is None:
            (result.compression, result.zip_member), result.path = written, path
            self._show_facts()
        self.path = path
        self.disk.record()
        self.undo_stack.setClean()
        self.statusChanged.emit()
        return True

    def _write(self, result: ObjectsFile, path: str) -> bool:
        from storage.formats.objects.file import save_objects

        try:
            if result.shelf is not None:
                if path != self.path:
                    raise KnownError("A shelf is several files: save it in place, then copy its files.")
                loaded = [(key, model.doc) for key, model in self.shelf_models.items()]
                written = run_with_progress(self, f"Saving {self.title()}…", self._save_shelf, loaded)
                self.shelf_raw.update(written)
            else:
                run_with_progress(self, f"Saving {os.path.basename(path)}…",
                                  partial(save_objects, backup=save_options.backup()), result, path,
                                  self.chosen_protocol())
        except KnownError as exc:
            QMessageBox.warning(self, "Not saved", f"{exc}\n\nThe file on disk is unchanged.")
            return False
        return True

    def _save_shelf(self, loaded: list[tuple[str, ObjectDoc]]) -> dict[str, bytes]:
        """Worker body: each changed value written back in its own protocol, then the shelf saved."""
        result = self.result
        assert result is not None
        shelf, written = result.shelf, {}
        for key, doc in loaded:
            if key not in shelf:
                continue
            protocol = result.shelf_protocols.get(key)
            data = doc.dumps(protocol if protocol is not None else doc.protocol or 4)
            if data != self.shelf_raw.get(key):
                shelf.set(key, data)
                written[key] = data
        shelf.save()
        return written

    # -- crash recovery (gui/recovery/manager.py) ----------------------------------------------------
    def journal_payload(self) -> bytes | None:
        """A pickle's edited values, or a shelf's key order and changed values
        (:mod:`storage.formats.objects.shelf.journal`); nothing for a trusted or read-only view."""
        result = self.result
        if result is not None and result.shelf is not None and not self.trusted:
            return self._shelf_payload()
        if (result is None or result.shelf is not None or result.kind not in ("pickle", "joblib")
                or result.doc is None or result.doc.read_only or self.trusted):
            return None
        protocol = self.chosen_protocol()
        try:
            body = result.doc.dumps(protocol) + result.tail
        except (KnownError, RecursionError):
            return None
        return pack("pickle", {"container": result.kind, "compression": result.compression,
                               "member": result.zip_member or None, "protocol": protocol}, body)

    def _shelf_payload(self) -> bytes | None:
        from storage.formats.objects.shelf.journal import pack_shelf

        result = self.result
        edited: dict[str, bytes] = {}
        for key, model in list(self.shelf_models.items()):
            if model.doc.read_only:
                continue
            protocol = result.shelf_protocols.get(key)
            try:
                data = model.doc.dumps(protocol if protocol is not None else model.doc.protocol or 4)
            except (KnownError, RecursionError):
                continue
            if data != self.shelf_raw.get(key):
                edited[key] = data
        return pack_shelf(result.shelf, edited)

    def _restore_shelf(self, payload: bytes) -> None:
        from storage.formats.objects.shelf.journal import apply_state, state_of

        shelf = self.result.shelf
        order, changes = state_of(payload)
        old_order, old_changes = shelf.pending_state()
        old_models = (dict(self.shelf_models), dict(self.shelf_raw))

        def show(state: tuple, models: tuple[dict, dict] | None) -> None:
            if models is None:  # the recovered values replace any loaded tree
                apply_state(shelf, *state)
                self.shelf_models.clear()
                self.shelf_raw.clear()
            else:
                shelf.set_pending_state(*state)
                self.shelf_models.clear()
                self.shelf_models.update(models[0])
                self.shelf_raw.clear()
                self.shelf_raw.update(models[1])
            self.shelf_panel.refresh()
            self._on_key_selected(self.shelf_panel.current_key() or "")

        apply_state(shelf, order, changes)  # fails here, before anything is pushed, if it does not fit
        shelf.set_pending_state(old_order, old_changes)
        self.undo_stack.push(SwapContentCommand(lambda: show((order, changes), None),
                                                lambda: show((old_order, old_changes), old_models)))

    def restore_from_journal(self, payload: bytes) -> None:
        from storage.formats.objects.file import objects_from_bytes

        kind, header, body = expect_payload(payload, "pickle", "shelf")
        if kind == "shelf":
            if self.result is None or self.result.shelf is None:
                raise UnsupportedError(f"{self.title()} is not a shelf: it cannot take back shelf edits.")
            self._restore_shelf(payload)
            return
        result = self.result
        if result is None or result.shelf is not None or result.doc is None or result.doc.read_only:
            raise UnsupportedError(f"{self.title()} cannot take back pickle edits.")
        new = objects_from_bytes(self.path or "", result.kind, body).doc
        old = result.doc

        def show(doc) -> None:
            result.doc = doc
            self.view.set_doc(doc)

        self.undo_stack.push(SwapContentCommand(lambda: show(new), lambda: show(old)))
        chosen = self.protocol_combo.findData(header.get("protocol"))
        if chosen >= 0:  # the protocol the edits were to be saved in
            self.protocol_combo.setCurrentIndex(chosen)

    # -- session ---------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded or self.result is None:
            return super().view_state()
        path = self.view.current_path()
        state: dict[str, Any] = {"splitter": self.splitter.sizes(), "detail": self.view.splitter.sizes()}
        if path is not None and all(isinstance(k, str | int) and not isinstance(k, bool) for k in path):
            state["selected"] = path
        if self.shelf_panel is not None:
            state["key"] = self.shelf_panel.current_key()
        return state

    def restore_view_state(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("key"), str) and self.shelf_panel is not None:
            self.shelf_panel.select_key(state["key"])
        for splitter, name in ((self.splitter, "splitter"), (self.view.splitter, "detail")):
            sizes = state.get(name)
            if (isinstance(sizes, list) and len(sizes) == splitter.count()
                    and all(isinstance(s, int) for s in sizes)):
                splitter.setSizes(sizes)
        if isinstance(state.get("selected"), list):
            self.view.select_path(state["selected"])

    def stamp_path(self) -> str | None:
        """A dbm.dumb shelf is opened by its base name: its ``.dir`` is rewritten by every commit."""
        if self.path and not os.path.exists(self.path) and os.path.isfile(self.path + ".dir"):
            return self.path + ".dir"
        return self.path

    def watched_paths(self) -> list[str]:
        """The file, or every file of a shelf (``x.dat`` and ``x.dir``, or ``x.db``)."""
        shelf = self.result.shelf if self.result is not None else None
        if shelf is not None and shelf.files:
            return list(shelf.files)
        return [self.path] if self.path else []

    def close_document(self) -> None:
        self.disk.stop()
        self.cancel_latest()
        self.first.finish()
        self.view.forget_matches()
        self._key_generation += 1
        if self.view.array_pane is not None:
            self.view.array_pane.stop()
        if self.result is not None and self.result.shelf is not None:
            self.result.shelf.close()
