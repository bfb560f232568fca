"""The questions the SQL tab asks before it writes over, loses or deletes rows.

* a conflict: the row no longer holds the value we last read (someone else changed it):
  Overwrite / Keep theirs / Cancel, with both values shown;
* closing or quitting with edits not written (the server was down): Retry / Discard / Cancel;
* deleting many rows at once (more than :data:`CONFIRM_DELETE_ABOVE`).

Each box has an object name, so tests find and answer it.
"""

from __future__ import annotations

from html import escape as esc
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

CONFLICT_BOX = "editConflictBox"
PENDING_BOX = "pendingEditsBox"
DELETE_BOX = "confirmDeleteBox"
# DB4S deletes a selection at once; DBeaver and pgAdmin only mark rows until Save. Ours writes at
# once and is undoable, so a few rows go without a question; a bigger selection (Ctrl+A, a
# dragged range) asks first.
CONFIRM_DELETE_ABOVE = 10
SHOWN_CHARS = 200  # a long value is shown cut in the question


def shown(value: Any) -> str:
    """A value as the question shows it: NULL, bytes by size, long text cut."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"({len(value):,} bytes)"
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _ask(parent: QWidget, name: str, title: str, text: str, buttons: list[tuple[str, str,
         QMessageBox.ButtonRole]], default: str, detail: str = "") -> str:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(name)
    if detail:
        box.setInformativeText(detail)
    made = {}
    for answer, label, role in buttons:
        button = box.addButton(label, role)
        button.setObjectName(f"{answer}Button")
        made[button] = answer
        if answer == default:
            box.setDefaultButton(button)
    box.exec()
    return made.get(box.clickedButton(), "cancel")  # Escape or the title bar: cancel


def ask_conflict(parent: QWidget, what: str, ours: Any, theirs: Any, undo: bool = False) -> str:
    """'overwrite', 'theirs' or 'cancel': someone else changed ``what`` since it was read."""
    overwrite = "put your earlier value back over theirs (the undo)" if undo else "write yours over theirs"
    label = "Yours (before your edit)" if undo else "Yours"
    text = (f"Someone else changed {esc(what)} since Datashelf read it.<br><br>"
            f"<b>{label}:</b> {esc(shown(ours))}<br><b>In the database now:</b> {esc(shown(theirs))}")
    return _ask(parent, CONFLICT_BOX, "Changed by someone else", text, [
        ("overwrite", "Overwrite", QMessageBox.ButtonRole.AcceptRole),
        ("theirs", "Keep theirs", QMessageBox.ButtonRole.DestructiveRole),
        ("cancel", "Cancel", QMessageBox.ButtonRole.RejectRole)], "cancel",
        f"Overwrite: {overwrite}. Keep theirs: leave their value (your step is dropped). "
        "Cancel: write nothing now.")


def ask_rows_conflict(parent: QWidget, action: str, rows: list[tuple[Any, Any]]) -> str:
    """'overwrite', 'theirs' or 'cancel' for rows (ours, theirs) someone else changed."""
    lines = [f"<b>Yours:</b> {esc(shown(ours))}<br><b>Now:</b> {esc(shown(theirs))}"
             for ours, theirs in rows[:5]]
    more = f"<br>… and {len(rows) - 5} more" if len(rows) > 5 else ""
    text = (f"Someone else changed {len(rows)} row(s) since Datashelf read them.<br><br>"
            + "<br>".join(lines) + more)
    return _ask(parent, CONFLICT_BOX, "Changed by someone else", text, [
        ("overwrite", f"{action} anyway", QMessageBox.ButtonRole.AcceptRole),
        ("theirs", "Keep theirs", QMessageBox.ButtonRole.DestructiveRole),
        ("cancel", "Cancel", QMessageBox.ButtonRole.RejectRole)], "cancel",
        f"{action} anyway: also the changed rows. Keep theirs: leave the changed rows as they are "
        "now. Cancel: change nothing.")


def ask_pending(parent: QWidget, documents: list[Any]) -> str:
    """'retry', 'discard' or 'cancel' for documents holding edits not written yet."""
    lines = "<br>".join(f"• {esc(d.title())}: {d.pending_count()} edit(s)" for d in documents)
    return _ask(parent, PENDING_BOX, "Edits not written", (
        f"These edits could not be written to the database yet:<br><br>{lines}"), [
        ("retry", "Retry", QMessageBox.ButtonRole.AcceptRole),
        ("discard", "Discard", QMessageBox.ButtonRole.DestructiveRole),
        ("cancel", "Cancel", QMessageBox.ButtonRole.RejectRole)], "retry",
        "Retry writes them now. Discard forgets them. Cancel keeps the document open.")


def confirm_delete(parent: QWidget, count: int, table: str) -> bool:
    """True when ``count`` rows may be deleted (asked only above CONFIRM_DELETE_ABOVE)."""
    if count <= CONFIRM_DELETE_ABOVE:
        return True
    return _ask(parent, DELETE_BOX, "Delete rows", f"Delete {count:,} rows of {esc(table)}?", [
        ("delete", "Delete", QMessageBox.ButtonRole.AcceptRole),
        ("cancel", "Cancel", QMessageBox.ButtonRole.RejectRole)], "cancel",
        "Edit ▸ Undo puts them back.") == "delete"
