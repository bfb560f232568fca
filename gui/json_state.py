"""What the JSON document remembers: its view state across launches, and its file on disk.

A mixin of :class:`gui.json_document.JsonDocument`. The view state (mode, splitters, column
widths, the selected node, the table's column widths) goes into the session and comes back on
the next launch. The file is watched; when it changes on disk the user is told and can compare
the two versions before reloading (:mod:`gui.json_diff_dialog`).
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Slot

from storage.json_diff import diff_with_disk

from .json_diff_dialog import JsonDiffDialog
from .json_edit import _esc
from .workers import Worker, run_in_worker


class JsonStateMixin:
    """Needs the document's views, ``path``, ``_watcher``, ``_disk_stamp`` and ``diffShown``."""

    diff_dialog: JsonDiffDialog | None = None
    _diff_worker: Worker | None = None
    _diff_generation = 0

    # -- the message strip and the file on disk ------------------------------------------
    def _remember_disk_state(self) -> None:
        if not self.path:
            return
        try:
            info = os.stat(self.path)
            self._disk_stamp = (info.st_mtime, info.st_size)
        except OSError:
            self._disk_stamp = None
        if self.path not in self._watcher.files():
            self._watcher.addPath(self.path)
        self.reload_button.hide()

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        if getattr(self, "_saving", False):
            return  # the save re-reads the stamp when it is done
        try:
            info = os.stat(self.path or "")
            stamp: tuple[float, int] | None = (info.st_mtime, info.st_size)
        except OSError:
            stamp = None
        if stamp is not None and self.path not in self._watcher.files():
            self._watcher.addPath(self.path)  # replaced files (our own saves too) drop out
        if stamp == self._disk_stamp:
            return
        self._show_message(f"<b>{_esc(self.title())} changed on disk</b> "
                           f"{'(deleted)' if stamp is None else ''}. What you see is the version "
                           "you opened; saving would overwrite the file. Compare the two to "
                           "reload the new version or keep yours.", "warning")
        self.reload_button.setText("Compare with disk…")
        self.reload_button.setVisible(stamp is not None)

    @Slot()
    def compare_with_disk(self) -> JsonDiffDialog | None:
        """Show the diff of the editor's version against the file's (made in a worker), with
        Reload and Keep mine. Without a parsed document there is nothing to keep: reload."""
        if self.doc is None or not self.path:
            self.reload()
            return None
        if self.diff_dialog is not None:
            self.diff_dialog.close()
        dialog = self.diff_dialog = JsonDiffDialog(self.title(), self.is_modified(), self)
        dialog.accepted.connect(self.reload)
        dialog.rejected.connect(self._on_keep_mine)
        dialog.finished.connect(lambda _r: self._on_diff_closed(dialog))
        self._diff_generation += 1
        generation = self._diff_generation
        self._diff_worker = run_in_worker(
            diff_with_disk, self.doc.root, self.path, self.doc.fmt, self.doc.lines,
            on_result=lambda result: self._on_diff(generation, result),
            on_error=lambda exc: self._on_diff(generation, exc))
        dialog.open()
        return dialog

    def _on_diff(self, generation: int, result: Any) -> None:
        if generation == self._diff_generation and self.diff_dialog is not None:
            self._diff_worker = None
            if result is not None:
                self.diff_dialog.show_result(result)
            self.diffShown.emit()

    def _on_diff_closed(self, dialog: JsonDiffDialog) -> None:
        if dialog is self.diff_dialog:
            self._diff_generation += 1
            if self._diff_worker is not None:
                self._diff_worker.cancel()
            self._diff_worker = self.diff_dialog = None
        dialog.deleteLater()

    @Slot()
    def _on_keep_mine(self) -> None:
        """The editor's version stays; it now differs from the file, so it counts as unsaved."""
        self._remember_disk_state()
        self.message.hide()
        self.undo_stack.resetClean()
        self.statusChanged.emit()

    def _show_load_notes(self) -> None:
        notes = []
        if self.duplicates:
            notes.append("Duplicate keys (the last one wins; saving keeps only it): "
                         + ", ".join(_esc(repr(k)) for k in self.duplicates))
        if self.malformed:
            lines = "; ".join(f"line {n}: {_esc(m)}" for n, m in self.malformed[:10])
            more = f" and {len(self.malformed) - 10} more" if len(self.malformed) > 10 else ""
            notes.append(f"{len(self.malformed)} malformed line(s) skipped (kept as they are when "
                         f"saving): {lines}{more}")
        if notes:
            self._show_message("<br>".join(notes), "warning")
        else:
            self.message.hide()

    def _show_message(self, html: str, level: str) -> None:
        colours = {"error": ("#fde7e7", "#9b1c1c"), "warning": ("#fff4d6", "#7a5300"),
                   "info": ("#e8f1fb", "#1f5a96")}
        background, foreground = colours[level]
        self.message.setStyleSheet(f"background: {background}; color: {foreground}; padding: 4px;")
        self.message.setText(html)
        self.message.show()

    # -- view state ------------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if not self.is_loaded:
            return super().view_state()  # type: ignore[misc]
        header = self.tree.header()
        path = self.current_path()
        return {
            "mode": self.mode(),
            "splitter": self.splitter.sizes(),
            "side_splitter": self.side_splitter.sizes(),
            "columns": [header.sectionSize(i) for i in range(header.count())],
            "summary_columns": [self.summary_view.header().sectionSize(i) for i in range(3)],
            "summary_selected": self.summary_model.node(self.summary_view.currentIndex()).path()
            if self.summary_view.currentIndex().isValid() else None,
            "selected": [k if isinstance(k, str | int) else str(k) for k in path] if path else None,
            **self.table_view_state(),
        }

    def restore_view_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        for key, splitter in (("splitter", self.splitter), ("side_splitter", self.side_splitter)):
            sizes = state.get(key)
            if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
                splitter.setSizes(sizes)
        for key, view in (("columns", self.tree), ("summary_columns", self.summary_view)):
            columns = state.get(key)
            if isinstance(columns, list):
                for i, width in enumerate(columns[:-1]):  # the last one stretches
                    if isinstance(width, int) and width > 0:
                        view.header().resizeSection(i, width)
        self.restore_table_view_state(state)
        summary_selected = state.get("summary_selected")
        if isinstance(summary_selected, list):
            index = self.summary_model.index_for_path(summary_selected)
            if index.isValid():
                self.summary_view.setCurrentIndex(index)
        selected = state.get("selected")
        if isinstance(selected, list) and self.doc is not None:
            self.select_path(selected)
        if state.get("mode") in ("tree", "table") and self.doc is not None:
            self.set_mode(state["mode"])
        elif state.get("mode") == "text":
            self.set_mode("text")


