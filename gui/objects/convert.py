"""Convert… of the table an Objects document shows: a pickled DataFrame or Series, or a NumPy 2-D
or structured array, to CSV, Parquet, JSON Lines or a table in an SQLite file.

The dialog and the run (worker, progress, Cancel, atomic writer) are the shared ones of
:mod:`gui.common.convert_dialog`; the rows come from
:func:`storage.formats.objects.pickle.frame_rows.frame_rows`, made on the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gui.common.convert_dialog import ConversionRun, ConvertDialog
from gui.objects.view import ObjectsView
from storage.core.convert import Target

if TYPE_CHECKING:  # the frame modules need NumPy: imported when a table is converted, not at launch
    from storage.formats.objects.pickle.frame import FrameTable


class TableConverter(QObject):
    """Asks where the shown table goes and converts it; :attr:`finished` says how it went."""

    finished = Signal(bool, str)  # succeeded, message (plain text)

    def __init__(self, view: ObjectsView) -> None:
        super().__init__(view)
        self.view = view
        self._table: FrameTable | None = None  # the table the open dialog was asked for

    def can_convert(self) -> bool:
        return self.view.shows_table()

    def ask(self, source_path: str | None, title: str) -> ConvertDialog | None:
        """The Convert dialog for the table shown now (None when no table is shown); the target is
        suggested beside ``source_path`` (the document's file), named after ``title``."""
        table = self.view.current_table()
        if table is None:
            return None
        self._table = table
        key = self.view.current_name()
        dialog = ConvertDialog(source_path, key or title, self.view)
        if key:  # a table inside the file: named after its key, not the file
            dialog.table.setText(key)
        from storage.formats.objects.pickle.frame_rows import raw_columns

        raw = raw_columns(table)
        if raw:
            names = ", ".join(repr(name) for name in raw[:5]) + ("…" if len(raw) > 5 else "")
            dialog.set_warning(f"{len(raw)} column{'s' if len(raw) > 1 else ''} ({names}) could not be "
                               "rebuilt and will be written as the text the grid shows.")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.targetChosen.connect(self.convert_to)
        dialog.open()
        return dialog

    @Slot(object, bool)
    def convert_to(self, target: Target, open_when_done: bool = False) -> ConversionRun | None:
        """Convert the table the dialog was opened for (else the one shown now)."""
        table = self._table or self.view.current_table()
        if table is None:
            return None
        from storage.formats.objects.pickle.frame_rows import frame_rows

        run = ConversionRun(self.view, target, lambda: frame_rows(table), open_when_done=open_when_done)
        run.finished.connect(self.finished)
        return run
