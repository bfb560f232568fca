"""One field of the record form: the editor for its kind, a NULL toggle and its error line.

The field only reports what the user did (``edited`` with the stored value, or None for NULL;
``loadRequested``/``saveRequested`` for BLOBs); the document turns that into an undo command,
and shows a failed write's reason under the field with :meth:`RecordField.set_error`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.sql.fields import Invalid, create_editor
from storage.formats.sql.schema_types import Column
from storage.formats.sql.values import field_kind

HEX_PREVIEW = 48
_STEP_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
LONG_TEXT = 80  # characters: longer text (or text with a line break) gets the multi-line editor
THUMBNAIL = 160  # pixels: the longest side of an image BLOB's preview
MAX_IMAGE = 16 * 1024 * 1024  # larger BLOBs are not decoded as images (the GUI must not wait)
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


def image_thumbnail(data: bytes) -> tuple[QPixmap, str] | None:
    """(thumbnail, "W × H") when ``data`` is a PNG, JPEG, GIF, BMP or WebP image Qt reads, else None."""
    if not data or len(data) > MAX_IMAGE or not data.startswith(IMAGE_MAGIC):
        return None
    if data.startswith(b"RIFF") and data[8:12] != b"WEBP":
        return None
    image = QImage.fromData(data)
    if image.isNull():
        return None
    small = image.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(small), f"{image.width()} × {image.height()}"


class BlobView(QWidget):
    """A BLOB's size and the hex of its first bytes, with Load… and Save… buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_label = QLabel(self)
        self.hex_label = QLabel(self)
        self.hex_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.image_label = QLabel(self)
        self.image_label.setObjectName("blobThumbnail")
        self.image_label.hide()
        self.load_button = QPushButton("Load from File…", self)
        self.save_button = QPushButton("Save to File…", self)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.size_label, 1)
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(top)
        box.addWidget(self.hex_label)
        box.addWidget(self.image_label)

    def set_stored(self, value: Any) -> None:
        data = value if isinstance(value, bytes) else b""
        self.size_label.setText(f"BLOB, {len(data):,} bytes" if value is not None else "BLOB (NULL)")
        preview = data[:HEX_PREVIEW].hex(" ")
        self.hex_label.setText(preview + (" …" if len(data) > HEX_PREVIEW else ""))
        self.hex_label.setVisible(bool(data))
        thumbnail = image_thumbnail(data)
        if thumbnail is not None:
            self.image_label.setPixmap(thumbnail[0])
            self.size_label.setText(f"{self.size_label.text()} · image {thumbnail[1]}")
        else:
            self.image_label.clear()
        self.image_label.setVisible(thumbnail is not None)
        self.save_button.setEnabled(value is not None)

    def stored(self) -> bytes:
        return b""


class RecordField(QWidget):
    """The editor of one column in the record form.

    The editor is typeable whenever the row can be edited, NULL or not: what is typed into a
    NULL field is written (and unticks NULL); leaving it untouched keeps NULL. Tab, Shift+Tab
    and Enter ask the form for the next field (:attr:`stepRequested`, :attr:`entered`).
    """

    edited = Signal(object)  # the new stored value; None sets NULL
    loadRequested = Signal()
    saveRequested = Signal()
    stepRequested = Signal(int)  # Tab (+1) or Shift+Tab (-1): the form focuses another field
    entered = Signal()  # Enter wrote a one-line field: the form moves on

    def __init__(self, column: Column, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column = column
        self.kind = ""
        self.value: Any = None
        self.editor: QWidget | None = None
        self._editable = False
        self._shown = ""  # what the editor showed for the stored value: untouched when still so
        self._typed = False  # a key typed or stepped since (today's date typed into a NULL date)
        self.null_box = QCheckBox("NULL", self)
        self.null_box.setToolTip("Store NULL (no value), which is not the same as empty text")
        self.null_box.toggled.connect(self._on_null_toggled)
        self.null_box.installEventFilter(self)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b42318;")
        self.error.hide()
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addWidget(self.null_box)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(self._row)
        box.addWidget(self.error)

    def add_button(self, button: QWidget) -> None:
        """A button after the editor (a foreign key's ↗ and …)."""
        button.installEventFilter(self)  # Tab from it walks on to the next field too
        self._row.addWidget(button)

    def set_value(self, value: Any, editable: bool) -> None:
        """Show ``value`` (a whole stored value) and allow edits when ``editable``."""
        self.value = value
        self._editable = editable
        kind = field_kind(self.column.decl_type, value)
        if kind == "text" and isinstance(value, str) and (len(value) > LONG_TEXT or "\n" in value):
            kind = "long text"
        if value is None and self.kind:
            kind = self.kind  # NULL keeps the editor it had: unticking NULL edits in it
        if kind != self.kind or self.editor is None:
            self._replace_editor(kind)
        self.editor.set_stored(value)  # type: ignore[union-attr]
        self._set_placeholder("NULL" if value is None else "")
        self._restyle()
        self._shown = self._snapshot()
        self._typed = False
        self.null_box.blockSignals(True)
        self.null_box.setChecked(value is None)
        self.null_box.blockSignals(False)
        self.null_box.setEnabled(editable)
        self._update_enabled()

    def _replace_editor(self, kind: str) -> None:
        if self.editor is not None:
            self._row.removeWidget(self.editor)
            self.editor.deleteLater()
        self.kind = kind
        long_text = kind == "long text"
        editor = create_editor("text" if long_text else kind, self.column.decl_type, self,
                               multiline=long_text)
        if editor is None:
            blob = BlobView(self)
            blob.load_button.clicked.connect(self.loadRequested.emit)
            blob.save_button.clicked.connect(self.saveRequested.emit)
            blob.load_button.installEventFilter(self)
            blob.save_button.installEventFilter(self)
            editor = blob
        else:
            editor.editingFinished.connect(self._on_editing_finished)
            editor.installEventFilter(self)
        self.editor = editor
        self._row.insertWidget(0, editor, 1)

    def _set_placeholder(self, text: str) -> None:
        editor = self.editor
        if isinstance(editor, QAbstractSpinBox):
            editor.lineEdit().setPlaceholderText(text)
        elif isinstance(editor, QLineEdit | QPlainTextEdit):
            editor.setPlaceholderText(text)

    def _snapshot(self) -> str:
        """What the editor shows, to tell whether the user changed it."""
        editor = self.editor
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        if isinstance(editor, QAbstractButton):
            return str(editor.isChecked())
        if isinstance(editor, QAbstractSpinBox | QLineEdit):
            return editor.text()
        return ""

    def _update_enabled(self) -> None:
        if isinstance(self.editor, BlobView):
            self.editor.load_button.setEnabled(self._editable)
            return
        if self.editor is not None:
            self.editor.setEnabled(self._editable)

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self._restyle()

    def _restyle(self) -> None:
        """A refused value: a red border round the editor."""
        if self.editor is not None and not isinstance(self.editor, BlobView):
            self.editor.setStyleSheet("border: 1px solid #b42318;" if self.error.text() else "")

    def error_text(self) -> str:
        return self.error.text() if self.error.isVisible() else ""

    # -- the keyboard: the form walks its fields --------------------------------------------
    def focus_editor(self) -> None:
        editor = self.editor
        target = editor.load_button if isinstance(editor, BlobView) else editor
        if target is not None and target.isEnabled():
            target.setFocus(Qt.FocusReason.TabFocusReason)  # selects the text (a date's first part)
        else:
            self.null_box.setFocus(Qt.FocusReason.TabFocusReason)

    def has_focus(self) -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and (focus is self or self.isAncestorOf(focus))

    def commit(self) -> None:
        """Write what the editor holds now (Enter, Ctrl+Enter), as leaving it would."""
        if not isinstance(self.editor, BlobView):
            self._on_editing_finished()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress:
            return False
        key, mods = event.key(), event.modifiers()  # type: ignore[attr-defined]
        plain = not mods & ~(Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and plain:
            back = key == Qt.Key.Key_Backtab or bool(mods & Qt.KeyboardModifier.ShiftModifier)
            self.stepRequested.emit(-1 if back else 1)
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not mods & ~Qt.KeyboardModifier.KeypadModifier \
                and watched is self.editor and not isinstance(watched, QPlainTextEdit | BlobView):
            self.commit()  # a one-line editor; in several lines Enter is a new line
            self.entered.emit()
            return True
        if key == Qt.Key.Key_Escape and watched is self.editor and not mods:
            self.set_value(self.value, self._editable)  # what was typed goes: the stored value again
            return True
        text = event.text()  # type: ignore[attr-defined]
        if watched is self.editor and ((text and text.isprintable()) or key in _STEP_KEYS):
            self._typed = True  # typed or stepped: written on leaving, even if it shows what it did
        return False

    @Slot()
    def _on_editing_finished(self) -> None:
        if not self._editable or self.editor is None:
            return
        untouched = self._snapshot() == self._shown and not self._typed
        if self.value is None and untouched:
            return  # a NULL field left as it was shown stays NULL
        try:
            value = self.editor.stored()  # type: ignore[attr-defined]
        except Invalid as exc:
            self.set_error(str(exc))
            return
        if value == self.value and type(value) is type(self.value):
            return
        self.edited.emit(value)

    @Slot(bool)
    def _on_null_toggled(self, checked: bool) -> None:
        self._update_enabled()
        if not self._editable:
            return
        if checked:
            self.edited.emit(None)
            return
        try:  # back from NULL: whatever the editor shows (empty text, 0, now, an empty BLOB)
            value = b"" if isinstance(self.editor, BlobView) else self.editor.stored()  # type: ignore[union-attr]
        except Invalid:
            value = 0 if self.kind == "integer" else 0.0 if self.kind == "real" else ""
        self.edited.emit(value)
