"""What the JSON document remembers: its view state across launches, and its file on disk.

A mixin of :class:`gui.json_document.JsonDocument`. The view state (mode, splitters, column
widths, the selected node, the table's column widths) goes into the session and comes back on
the next launch. The file is watched by :mod:`gui.disk_watch`; its Compare shows the values
that differ, made here by :func:`storage.json_diff.diff_with_disk`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from storage.json_diff import diff_with_disk

from .json_edit import _esc


class JsonStateMixin:
    """Needs the document's views, ``path`` and ``doc``."""

    # -- the message strip and the file on disk ------------------------------------------
    disk_diff_same_text = ("The file on disk holds the same data as the editor "
                           "(only its formatting may differ).")

    def disk_diff_job(self):
        """Compare: the editor's values against the file's, both written out the same way.
        Without a parsed document there is nothing to compare (Reload only)."""
        if self.doc is None or not self.path:
            return None
        return partial(diff_with_disk, self.doc.root, self.path, self.doc.fmt, self.doc.lines)

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


