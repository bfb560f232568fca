"""Find, replace (plain or regular expression) and go to line.

The bar serves a QPlainTextEdit (through QTextDocument.find and QRegularExpression) or a
:class:`gui.files.text_big.BigTextEditor`, which searches its list of lines with Python's ``re``
through ``find_pattern``, ``replace_selection`` and ``replace_all_matches``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QRegularExpression, Qt, Signal, Slot
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QSpinBox, QToolButton, QWidget


class FindBar(QWidget):
    """A bar under the editor: Find / Replace / Replace all / regex / case / go to line."""

    searched = Signal(bool)  # found

    def __init__(self, editor: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.find_edit = QLineEdit(self)
        self.find_edit.setPlaceholderText("Find")
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.returnPressed.connect(self.find_next)
        self.replace_edit = QLineEdit(self)
        self.replace_edit.setPlaceholderText("Replace with")
        self.regex = QToolButton(self)
        self.regex.setText(".*")
        self.regex.setToolTip("Regular expression (\\1 or $1 in the replacement)")
        self.regex.setCheckable(True)
        self.case = QToolButton(self)
        self.case.setText("Aa")
        self.case.setToolTip("Match case")
        self.case.setCheckable(True)
        self.status = QLabel(self)
        self.line_box = QSpinBox(self)
        self.line_box.setRange(1, 1)
        self.line_box.setPrefix("Line ")
        self.line_box.setToolTip("Go to line")
        self.line_box.setKeyboardTracking(False)
        self.line_box.editingFinished.connect(self._on_go_to_line)
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 2, 4, 2)
        for edit in (self.find_edit, self.replace_edit):
            edit.setMinimumWidth(60)
        box.addWidget(self.find_edit, 2)
        for text, slot in (("▲", self.find_previous), ("▼", self.find_next)):
            button = QToolButton(self)
            button.setText(text)
            button.setToolTip("Previous match" if text == "▲" else "Next match")
            button.clicked.connect(slot)
            box.addWidget(button)
        box.addWidget(self.replace_edit, 2)
        self.replace_button = QToolButton(self)
        self.replace_button.setText("Replace")
        self.replace_button.clicked.connect(self.replace_one)
        self.replace_all_button = QToolButton(self)
        self.replace_all_button.setText("All")
        self.replace_all_button.setToolTip("Replace all (one undo step)")
        self.replace_all_button.clicked.connect(self.replace_all)
        for widget in (self.replace_button, self.replace_all_button, self.regex, self.case,
                       self.status):
            box.addWidget(widget)
        box.addStretch(1)
        box.addWidget(self.line_box)
        self.set_editor(editor)

    def set_editor(self, editor: QWidget) -> None:
        """Search ``editor`` from now on (the text page swaps editors for big files)."""
        self.editor = editor
        signal = getattr(editor, "lineCountChanged", None) or editor.blockCountChanged
        if not editor.property("findBarConnected"):
            editor.setProperty("findBarConnected", True)
            signal.connect(self._on_line_count_changed)
        count = editor.line_count() if self._is_big() else editor.blockCount()
        self.line_box.setMaximum(max(1, count))

    @Slot(int)
    def _on_line_count_changed(self, count: int) -> None:
        if self.sender() is self.editor:
            self.line_box.setMaximum(max(1, count))

    def _is_big(self) -> bool:
        return hasattr(self.editor, "find_pattern")

    def _py_pattern(self) -> re.Pattern[str] | None:
        """The search as a Python pattern, for the big-file editor."""
        text = self.find_edit.text()
        if not text:
            return None
        flags = 0 if self.case.isChecked() else re.IGNORECASE
        if not self.regex.isChecked():
            return re.compile(re.escape(text), flags)
        try:
            return re.compile(text, flags)
        except re.error as exc:
            self.status.setText(f"Bad pattern: {exc}")
            return None

    def _py_replacement(self, pattern: re.Pattern[str]) -> str | Callable[[re.Match[str]], str]:
        """Literal text, or for a regular expression a function filling in ``\\1`` and ``$1``."""
        template = self.replace_edit.text()
        if not self.regex.isChecked():
            return template

        def expand(match: re.Match[str]) -> str:
            return expand_template(
                template, lambda n: match.group(n) if n <= pattern.groups else "")

        return expand

    def set_read_only(self, read_only: bool) -> None:
        for widget in (self.replace_edit, self.replace_button, self.replace_all_button):
            widget.setEnabled(not read_only)

    def _flags(self, backward: bool = False) -> QTextDocument.FindFlag:
        flags = QTextDocument.FindFlag(0)
        if self.case.isChecked():
            flags |= QTextDocument.FindFlag.FindCaseSensitively
        if backward:
            flags |= QTextDocument.FindFlag.FindBackward
        return flags

    def _pattern(self) -> QRegularExpression | str | None:
        text = self.find_edit.text()
        if not text:
            return None
        if not self.regex.isChecked():
            return text
        options = QRegularExpression.PatternOption.NoPatternOption
        if not self.case.isChecked():
            options |= QRegularExpression.PatternOption.CaseInsensitiveOption
        expression = QRegularExpression(text, options)
        if not expression.isValid():
            self.status.setText(f"Bad pattern: {expression.errorString()}")
            return None
        return expression

    def _find(self, backward: bool) -> bool:
        if self._is_big():
            py_pattern = self._py_pattern()
            ok = py_pattern is not None and self.editor.find_pattern(py_pattern, backward)
            if py_pattern is not None:
                self.status.setText("" if ok else "Not found")
            self.searched.emit(ok)
            return ok
        pattern = self._pattern()
        if pattern is None:
            return False
        document = self.editor.document()
        cursor = self.editor.textCursor()
        found = document.find(pattern, cursor, self._flags(backward))
        if found.isNull():  # wrap around
            start = QTextCursor(document)
            if backward:
                start.movePosition(QTextCursor.MoveOperation.End)
            found = document.find(pattern, start, self._flags(backward))
        ok = not found.isNull()
        if ok:
            self.editor.setTextCursor(found)
            self.editor.centerCursor()
        self.status.setText("" if ok else "Not found")
        self.searched.emit(ok)
        return ok

    @Slot()
    def find_next(self) -> bool:
        return self._find(False)

    @Slot()
    def find_previous(self) -> bool:
        return self._find(True)

    def _replacement(self, selected: str) -> str:
        pattern = self._pattern()
        if isinstance(pattern, QRegularExpression):
            match = pattern.match(selected)
            if match.hasMatch():
                return _expand(match, self.replace_edit.text())
        return self.replace_edit.text()

    @Slot()
    def replace_one(self) -> None:
        if self.editor.isReadOnly():
            return
        if self._is_big():
            pattern = self._py_pattern()
            selected = self.editor.selected_text()
            match = pattern.search(selected) if pattern is not None and selected else None
            if match is not None:
                replacement = self._py_replacement(pattern)
                text = replacement if isinstance(replacement, str) else replacement(match)
                self.editor.replace_selection(text, label="Replace")
            self.find_next()
            return
        cursor = self.editor.textCursor()
        if cursor.hasSelection():
            cursor.insertText(self._replacement(cursor.selectedText()))
        self.find_next()

    @Slot()
    def replace_all(self) -> int:
        """Replace every match as one undo step; return how many."""
        if self._is_big():
            py_pattern = self._py_pattern()
            if py_pattern is None or self.editor.isReadOnly():
                return 0
            count = self.editor.replace_all_matches(py_pattern, self._py_replacement(py_pattern))
            self.status.setText(f"{count} replaced")
            return count
        pattern = self._pattern()
        if pattern is None or self.editor.isReadOnly():
            return 0
        document = self.editor.document()
        edit = QTextCursor(document)
        edit.beginEditBlock()
        count = 0
        cursor = document.find(pattern, 0, self._flags())
        while not cursor.isNull():
            if not cursor.hasSelection():  # an empty match: step past it
                if cursor.atEnd():
                    break
                cursor = document.find(pattern, cursor.position() + 1, self._flags())
                continue
            cursor.insertText(self._replacement(cursor.selectedText()))
            count += 1
            cursor = document.find(pattern, cursor, self._flags())
        edit.endEditBlock()
        self.status.setText(f"{count} replaced")
        return count

    @Slot()
    def _on_go_to_line(self) -> None:
        go = getattr(self.editor, "go_to_line", None)
        if go is not None:
            go(self.line_box.value())

    def focus_find(self) -> None:
        self.find_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_edit.selectAll()


def _expand(match, template: str) -> str:
    """``\\1`` and ``$1`` group references of a replacement template (QRegularExpression)."""
    return expand_template(template, match.captured)


def expand_template(template: str, group: Callable[[int], str | None]) -> str:
    """Fill ``\\1`` and ``$1`` references in ``template`` with ``group(1)``."""
    out = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch in "\\$" and i + 1 < len(template) and template[i + 1].isdigit():
            out.append(group(int(template[i + 1])) or "")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)
