"""Value editors of the SQL tab, one per kind of field, shared by the grid and the record form.

Each editor has ``set_stored(value)`` and ``stored()``, which speak the stored SQLite value
(int, float, str), so a date typed into a Unix-seconds column goes back as an integer and an
ISO text date stays ISO text. :func:`create_editor` picks the editor with
:func:`storage.formats.sql.values.field_kind`.
"""

from __future__ import annotations

import datetime
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QTime, QTimeZone, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QDateTimeEdit, QLineEdit, QPlainTextEdit, QWidget

from storage.formats.sql.values import (
    INT64_MAX,
    INT64_MIN,
    TimeFormat,
    from_moment,
    parse_number,
    time_format,
    to_moment,
)


class Invalid(ValueError):
    """What the user typed cannot be stored in this field (the message says why)."""


class NumberSpinBox(QAbstractSpinBox):
    """A spin box over Python numbers: the full 64-bit integer range, floats at full precision.

    QSpinBox holds 32-bit ints and QDoubleSpinBox rounds to fixed decimals; this one keeps the
    text the user typed and only checks that it parses.
    """

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind  # "integer" or "real"
        self.setAccelerated(True)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)

    def validate(self, text: str, pos: int) -> QValidator.State:
        if parse_number(text, self.kind) is not None:
            return QValidator.State.Acceptable
        if text.strip() in ("", "+", "-", ".", "-.", "+.") or text.lower().rstrip("+-").endswith("e"):
            return QValidator.State.Intermediate
        if self.kind == "real" and parse_number(text + "0", self.kind) is not None:
            return QValidator.State.Intermediate
        return QValidator.State.Invalid

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flag = QAbstractSpinBox.StepEnabledFlag
        return flag.StepUpEnabled | flag.StepDownEnabled

    def stepBy(self, steps: int) -> None:
        value = parse_number(self.text(), self.kind) or 0
        value = min(INT64_MAX, max(INT64_MIN, value + steps)) if isinstance(value, int) else value + steps
        self.lineEdit().setText(repr(value) if isinstance(value, float) else str(value))

    def set_stored(self, value: Any) -> None:
        self.lineEdit().setText("" if value is None else repr(value) if isinstance(value, float)
                                else str(value))

    def stored(self) -> int | float:
        value = parse_number(self.text(), self.kind)
        if value is None:
            what = "a whole number (64-bit)" if self.kind == "integer" else "a number"
            raise Invalid(f"{self.text()!r} is not {what}")
        if self.kind == "real" and isinstance(value, int) and "." in self.text():
            return float(value)
        return value


_DISPLAY = {"date": "yyyy-MM-dd", "time": "HH:mm:ss", "datetime": "yyyy-MM-dd HH:mm:ss"}


class MomentEdit(QDateTimeEdit):
    """A date, time or date-and-time editor that writes back in the stored format.

    Unix values are shown in UTC, as the grid shows them; ISO text has no zone and is shown
    as written.
    """

    def __init__(self, kind: str, decl_type: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self.decl_type = kind, decl_type
        self.fmt: TimeFormat | None = None
        self.setTimeZone(QTimeZone.utc())
        self.setCalendarPopup(kind != "time")
        self.setDisplayFormat(_DISPLAY[kind])

    def set_stored(self, value: Any) -> None:
        self.fmt = time_format(value, self.decl_type)
        moment = to_moment(value, self.fmt) if self.fmt is not None else None
        fmt = self.fmt
        shape = _DISPLAY[self.kind]
        if fmt is not None and fmt.kind == "iso" and not fmt.seconds:
            shape = shape.replace(":ss", "")
        elif fmt is not None and self.kind != "date" and (fmt.frac or fmt.kind == "unix_ms" or
                                                           (fmt.real and fmt.kind == "unix_s")):
            shape += ".zzz"
        if fmt is not None and fmt.kind != "iso":
            shape += " 'UTC'"  # Unix and Julian values are moments in UTC, as the grid shows them
        self.setDisplayFormat(shape)
        if moment is None:
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            moment = now.replace(microsecond=0) if self.kind != "date" else now.replace(
                hour=0, minute=0, second=0, microsecond=0)
        self.setDateTime(QDateTime(QDate(moment.year, moment.month, moment.day),
                                   QTime(moment.hour, moment.minute, moment.second,
                                         moment.microsecond // 1000), QTimeZone.utc()))
        self._shown = moment

    def stored(self) -> Any:
        shown = self.dateTime()
        day, clock = shown.date(), shown.time()
        moment = datetime.datetime(day.year(), day.month(), day.day(), clock.hour(), clock.minute(),
                                   clock.second(), clock.msec() * 1000)
        if moment.replace(microsecond=0) == self._shown.replace(microsecond=0) and \
                moment.microsecond // 1000 == self._shown.microsecond // 1000:
            moment = self._shown  # untouched: keep sub-millisecond digits
        return from_moment(moment, self.fmt or TimeFormat("iso", has_date=self.kind != "time",
                                                            has_time=self.kind != "date"))


class BoolBox(QCheckBox):
    """A boolean: 1 or 0 (True or False where the database speaks booleans); a click writes it."""

    editingFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._as_bool = False
        self.toggled.connect(lambda on: self.setText("true (1)" if on else "false (0)"))
        self.clicked.connect(lambda _on: self.editingFinished.emit())
        self.setText("false (0)")

    def set_stored(self, value: Any) -> None:
        self._as_bool = isinstance(value, bool)
        self.setChecked(bool(value))
        self.setText("true (1)" if self.isChecked() else "false (0)")

    def stored(self) -> int | bool:
        return self.isChecked() if self._as_bool else int(self.isChecked())


class LineEdit(QLineEdit):
    """One line of text (the grid's text editor)."""

    def set_stored(self, value: Any) -> None:
        self.setText("" if value is None else str(value))

    def stored(self) -> str:
        return self.text()


WRAP_CHARS = 100_000
SHOWN_CHARS = 2_000_000


class TextEdit(QPlainTextEdit):
    """Several lines of text (the record form's text editor); ``editingFinished`` on focus out."""

    editingFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self._original = ""
        self.truncated = False

    def set_stored(self, value: Any) -> None:
        self._original = "" if value is None else str(value)
        text = self._original
        # Wrapping a long line is quadratic in Qt (a 3 MB line froze the window): long text is not
        # wrapped, and past SHOWN_CHARS only its start is shown, read-only (Save Value to File
        # writes it whole), so an edit can never cut it.
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap if len(text) > WRAP_CHARS
                             else QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.truncated = len(text) > SHOWN_CHARS
        if self.truncated:
            text = (text[:SHOWN_CHARS]
                    + f"\n… (the first {SHOWN_CHARS:,} of {len(self._original):,} characters)")
        self.setReadOnly(self.truncated)
        self.setPlainText(text)

    def stored(self) -> str:
        return self._original if self.truncated else self.toPlainText()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.editingFinished.emit()


def create_editor(kind: str, decl_type: str, parent: QWidget, multiline: bool = False) -> QWidget | None:
    """The editor for a field kind, or None for BLOBs (they are loaded from and saved to files)."""
    if kind == "boolean":
        return BoolBox(parent)
    if kind in ("integer", "real"):
        return NumberSpinBox(kind, parent)
    if kind in _DISPLAY:
        return MomentEdit(kind, decl_type, parent)
    if kind == "blob":
        return None
    return TextEdit(parent) if multiline else LineEdit(parent)
