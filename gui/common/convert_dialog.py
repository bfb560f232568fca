"""Convert…: the dialog that asks where a table goes, and the run with progress and Cancel.

:class:`ConvertDialog` asks for the target format (CSV, Parquet, JSON Lines, a table in an SQLite
file), the file (suggested beside the source, with the format's extension), and for SQLite the
table's name and whether its rows are appended to an existing table. :class:`ConversionRun`
converts in a worker (:func:`storage.core.convert.convert`) behind a progress dialog with Cancel
and, for an SQLite target, can ask the window to open the file (a received CSV becomes records).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gui.common.file_dialogs import suggested_path
from gui.common.workers import Worker, run_in_worker
from storage.core.convert import (
    SQLITE_SUFFIXES,
    TARGETS,
    Cancelled,
    RowSource,
    Target,
    convert,
    is_sqlite_file,
    sqlite_tables,
    suggested_name,
)
from storage.core.errors import KnownError

_FILTERS = {"csv": "CSV (*.csv)", "parquet": "Parquet (*.parquet)", "jsonl": "JSON Lines (*.jsonl)",
            "json": "JSON (*.json)", "sqlite": "SQLite database (*.sqlite *.sqlite3 *.db)"}
EXTRA_TARGETS = {"json": ("JSON array", ".json")}  # the SQL tab's own JSON export


@runtime_checkable
class PathOpener(Protocol):
    """The main window, as far as Convert needs it: open files in their tabs."""

    def open_paths(self, paths: list[str]) -> None: ...


class ConvertDialog(QDialog):
    """Target format, file, and (SQLite) table name and create/append. Non-modal over its window:
    :attr:`targetChosen` says what was chosen when the user presses Convert."""

    targetChosen = Signal(object, bool)  # storage.core.convert.Target, open the SQLite file when done

    def __init__(self, source_path: str | None, name: str, parent: QWidget | None = None,
                 formats: tuple[str, ...] = tuple(TARGETS), title: str = "Convert") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("convertDialog")
        self.source_path = source_path
        self.name = name
        self._edited_path = False
        self._tables: list[str] = []

        self.format = QComboBox(self)
        self.format.setObjectName("convertFormat")
        for key in formats:
            label = (TARGETS.get(key) or EXTRA_TARGETS[key])[0]
            self.format.addItem(label, key)
        self.path = QLineEdit(self)
        self.path.setObjectName("convertPath")
        self.path.textEdited.connect(self._on_path_edited)
        self.path.editingFinished.connect(self._read_tables)
        self.browse = QPushButton("Browse…", self)
        self.browse.setObjectName("convertBrowse")
        self.browse.clicked.connect(self._on_browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)

        self.table = QLineEdit(suggested_name(source_path, name or "table"), self)
        self.table.setObjectName("convertTable")
        self.table.textChanged.connect(self._update)
        self.create = QRadioButton("Create a new table", self)
        self.create.setObjectName("convertCreate")
        self.append = QRadioButton("Append to an existing table", self)
        self.append.setObjectName("convertAppend")
        self.create.setChecked(True)
        self.mode = QButtonGroup(self)
        self.mode.addButton(self.create)
        self.mode.addButton(self.append)
        self.mode.buttonToggled.connect(self._update)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.create)
        mode_row.addWidget(self.append)
        mode_row.addStretch(1)
        self.open_after = QCheckBox("Open the SQLite file when done", self)
        self.open_after.setObjectName("convertOpen")
        self.open_after.setChecked(True)

        self.note = QLabel(self)
        self.note.setObjectName("convertNote")
        self.note.setWordWrap(True)
        self.warning = QLabel(self)  # what the source cannot keep, said before running
        self.warning.setObjectName("convertWarning")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton("Convert", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("convertOk")
        self.ok.setDefault(True)
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("&Format:", self.format)
        path_label = QLabel("&File:", self)
        path_label.setBuddy(self.path)
        form.addRow(path_label, path_row)
        self.table_label = QLabel("&Table:", self)
        self.table_label.setBuddy(self.table)
        form.addRow(self.table_label, self.table)
        form.addRow("", mode_row)
        form.addRow("", self.open_after)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.warning)
        box.addWidget(self.note)
        box.addStretch(1)
        box.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self._on_format_changed()
        self.resize(560, self.sizeHint().height())

    # -- state ---------------------------------------------------------------------------------------
    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def target(self) -> Target:
        return Target(self.chosen_format(), os.path.abspath(os.path.expanduser(self.path.text().strip())),
                      self.table.text().strip(), self.append.isChecked())

    def preset_path(self, path: str) -> None:
        """Start from ``path`` (a file chosen already) instead of the suggestion."""
        self.path.setText(path)
        self._edited_path = True
        self._read_tables()

    def set_warning(self, text: str) -> None:
        """Say what the conversion will not keep (columns written as text), above the note."""
        self.warning.setText(text)
        self.warning.setVisible(bool(text))
        self.resize(self.width(), self.sizeHint().height())

    def set_format(self, key: str) -> None:
        index = self.format.findData(key)
        if index >= 0:
            self.format.setCurrentIndex(index)

    def _extension(self) -> str:
        key = self.chosen_format()
        return (TARGETS.get(key) or EXTRA_TARGETS[key])[1]

    def _on_format_changed(self) -> None:
        sqlite = self.chosen_format() == "sqlite"
        for widget in (self.table_label, self.table, self.create, self.append, self.open_after):
            widget.setVisible(sqlite)
        if not self._edited_path:
            stem = os.path.splitext(os.path.basename(self.source_path or ""))[0] or self.name or "table"
            suggestion = suggested_path(self.source_path, stem + self._extension())
            if self._is_source(suggestion):  # CSV to CSV: never the file being read
                suggestion = suggested_path(self.source_path, f"{stem} converted{self._extension()}")
            self.path.setText(suggestion)
        else:  # a chosen file keeps its name, with the new format's extension (never Parquet in a .sqlite)
            root, ext = os.path.splitext(self.path.text())
            known = {e for _label, e in (*TARGETS.values(), *EXTRA_TARGETS.values())} | set(SQLITE_SUFFIXES)
            if ext.lower() in known and not (sqlite and ext.lower() in SQLITE_SUFFIXES):
                self.path.setText(root + self._extension())
        self._read_tables()

    def _is_source(self, path: str) -> bool:
        if not self.source_path or not path:
            return False
        try:
            return os.path.samefile(path, self.source_path)
        except OSError:
            return os.path.abspath(path) == os.path.abspath(self.source_path)

    def _on_path_edited(self) -> None:
        self._edited_path = True
        self._update()

    @Slot()
    def _on_browse(self) -> None:
        key = self.chosen_format()
        options = QFileDialog.Option.DontConfirmOverwrite if key == "sqlite" else QFileDialog.Option(0)
        path, _ = QFileDialog.getSaveFileName(self, "Convert to", self.path.text(),
                                              _FILTERS[key] + ";;All files (*)", "", options)
        if not path:
            return
        if key == "sqlite" and not path.lower().endswith(SQLITE_SUFFIXES):
            path += ".sqlite"
        elif key != "sqlite" and not os.path.splitext(path)[1]:
            path += self._extension()
        self.path.setText(path)
        self._edited_path = True
        self._read_tables()

    def _read_tables(self) -> None:
        """An existing SQLite file's tables (a header and a schema read: a few ms)."""
        path = self.target().path
        self._tables = sqlite_tables(path) if self.chosen_format() == "sqlite" else []
        if self._tables and self.table.text().strip() in self._tables:
            self.append.setChecked(True)
        self._update()

    def _update(self, *_args: Any) -> None:
        target = self.target()
        note = ""
        ok = bool(self.path.text().strip())
        if ok and self._is_source(target.path):
            note, ok = "That is the file being converted: choose another name.", False
        elif target.format == "sqlite":
            exists = os.path.exists(target.path) and os.path.getsize(target.path) > 0
            if exists and not is_sqlite_file(target.path):
                note = f"{os.path.basename(target.path)} is not an SQLite database: choose another file."
                ok = False
            elif not target.table:
                note, ok = "Name the table the rows go to.", False
            elif target.append and target.table not in self._tables:
                note, ok = f"There is no table {target.table!r} in this file to append to.", False
            elif not target.append and target.table in self._tables:
                note = f"The file has a table {target.table!r} already: append to it, or name a new one."
                ok = False
            elif exists:
                note = (f"The rows are added to {os.path.basename(target.path)} in one transaction; its "
                        f"other tables ({len(self._tables)}) stay as they are.")
            else:
                note = "A new SQLite file is made with this one table."
        elif os.path.exists(target.path):
            note = f"{os.path.basename(target.path)} exists: it will be replaced."
        self.note.setText(note)
        self.ok.setEnabled(ok)

    @Slot()
    def _on_accept(self) -> None:
        self._update()
        if not self.ok.isEnabled():
            return
        self.accept()
        target = self.target()
        self.targetChosen.emit(target, target.format == "sqlite" and self.open_after.isChecked())


def open_in_window(widget: QWidget, path: str) -> None:
    """Ask ``widget``'s window to open ``path`` in its tab (an SQLite file just written)."""
    window = widget.window()
    if isinstance(window, PathOpener):
        window.open_paths([path])


def export_target(parent: QWidget, path: str, fmt: str, name: str,
                  start: Callable[[Target | None, bool], Any]) -> Any:
    """Start an export to ``path`` chosen in an Export dialog: CSV and JSON as before (``start(None,
    False)``), JSON Lines and Parquet as a :class:`Target`, and an SQLite file once a small dialog
    has asked for the table (returned; ``start`` runs when the user confirms)."""
    if fmt in ("csv", "json"):
        return start(None, False)
    if fmt != "sqlite":
        return start(Target(fmt, path), False)
    dialog = ConvertDialog(None, name, parent, formats=("sqlite",), title="Export to an SQLite table")
    dialog.preset_path(path)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.targetChosen.connect(lambda target, open_when_done: start(target, open_when_done))
    dialog.open()
    return dialog


class ConversionRun(QObject):
    """One conversion in a worker, behind a progress dialog with Cancel.

    ``make_source`` runs on the worker and returns the :class:`RowSource` (opening a cursor may
    take a moment); ``write`` replaces the plain conversion when the caller has its own (the SQL
    tab's exports, which read from its session's cursor)."""

    finished = Signal(bool, str)  # succeeded, message

    def __init__(self, parent: QWidget, target: Target, make_source: Callable[[], RowSource] | None = None,
                 write: Callable[[Callable[[], bool], Callable[[float], None]], int] | None = None,
                 open_when_done: bool = False) -> None:
        super().__init__(parent)
        self.target = target
        self.open_when_done = open_when_done and target.format == "sqlite"
        self._parent = parent
        name = os.path.basename(target.path)
        self.progress = QProgressDialog(f"Converting to {name}…", "Cancel", 0, 100, parent)
        self.progress.setObjectName("convertProgress")
        self.progress.setWindowTitle("Convert")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(400)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.canceled.connect(self.cancel)

        def work(cancel: Callable[[], bool], progress: Callable[[float], None]) -> int:
            if write is not None:
                return write(cancel, progress)
            assert make_source is not None
            return convert(make_source(), target, cancel, progress)

        self.worker: Worker = run_in_worker(work, on_result=self._on_done, on_error=self._on_failed,
                                            on_progress=self._on_progress)

    @Slot()
    def cancel(self) -> None:
        self.worker.cancel()

    def _on_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))

    def _close_progress(self) -> None:
        self.progress.canceled.disconnect(self.cancel)
        self.progress.reset()
        self.progress.deleteLater()

    def _on_done(self, rows: int) -> None:
        self._close_progress()
        where = (f"table {self.target.table!r} of {self.target.path}" if self.target.format == "sqlite"
                 else self.target.path)
        self.finished.emit(True, f"Converted {rows:,} rows to {where}.")
        if self.open_when_done:
            open_in_window(self._parent, self.target.path)
        self.deleteLater()

    def _on_failed(self, exc: BaseException) -> None:
        self._close_progress()
        if isinstance(exc, Cancelled):
            text = "Conversion cancelled; nothing was written."
        elif isinstance(exc, KnownError):
            text = str(exc)
        else:
            text = f"The conversion failed: {exc}"
        self.finished.emit(False, text)
        self.deleteLater()
