"""The Files tab's crash recovery: what a text or hex page journals, and how it is put back as
one undo step (the document's ``journal_payload`` / ``restore_from_journal`` call these)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QTextCursor

from gui.recovery.hooks import RESTORE_LABEL, SwapContentCommand, expect_payload
from storage.core.errors import UnsupportedError
from storage.recovery.payload import overlay_of, pack_hex, pack_text, text_of

if TYPE_CHECKING:
    from gui.files.document import FileDocument


def file_payload(document: FileDocument) -> bytes | None:
    job = file_job(document)
    return job() if job is not None else None


def file_job(document: FileDocument) -> Callable[[], bytes] | None:
    """A snapshot of the edits now, packed later on a worker (big texts join and encode there)."""
    from gui.files.hex_page import HexPage
    from gui.files.text_big import BigTextEditor
    from gui.files.text_page import TextPage

    page = document.pages.get(document.mode)
    if isinstance(page, TextPage) and page.can_save() and page.pager is None:
        options, content = page.options, page.content
        editor = page.editor
        source = editor.buffer.snapshot() if isinstance(editor, BigTextEditor) else editor.text()
        return partial(_pack_text_of, source, options.get("encoding") or content.encoding,
                       bool(options.get("bom")), options.get("newline"), content.newline)
    if isinstance(page, HexPage):
        return partial(pack_hex, dict(page.buffer.overlay))
    return None


def _pack_text_of(source, encoding: str, bom: bool, newline: str | None, dominant: str) -> bytes:
    text = source if isinstance(source, str) else source.text()
    return pack_text(text, encoding, bom, newline, dominant)


def file_restore(document: FileDocument, payload: bytes) -> None:
    from gui.files.text_big import BigTextEditor
    from gui.files.text_page import SaveOptionCommand, TextPage

    kind, header, body = expect_payload(payload, "text", "hex")
    if document.mode != kind and not document.set_mode(kind):
        raise UnsupportedError(f"{document.title()} cannot switch to the {kind} view.")
    page = document.pages[kind]
    if kind == "hex":
        _restore_overlay(document, page, overlay_of(body))
        return
    assert isinstance(page, TextPage)
    if not page.can_save() or page.pager is not None:
        raise UnsupportedError(f"{document.title()} is shown read-only; its edits cannot be put back.")
    text = text_of(header, body)
    options = {"encoding": header.get("encoding"), "bom": bool(header.get("bom")),
               "newline": header.get("newline")}
    stack = document.undo_stack
    stack.beginMacro(RESTORE_LABEL)
    try:
        editor = page.editor
        if isinstance(editor, BigTextEditor):
            editor.select_all()
            editor.replace_selection(text, label=RESTORE_LABEL)
        else:
            cursor = QTextCursor(editor.document())
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.insertText(text)  # one QTextDocument step, mirrored onto the stack
        if options != page.options:
            stack.push(SaveOptionCommand(page, dict(page.options), options))
    finally:
        stack.endMacro()


def _restore_overlay(document: FileDocument, page, overlay: dict[int, int]) -> None:
    buffer = page.buffer
    if any(offset >= buffer.size for offset in overlay):
        raise UnsupportedError(f"{document.title()} is shorter than when it was edited.")
    old = dict(buffer.overlay)

    def put(values: dict[int, int]) -> None:
        page.buffer.overlay.clear()
        for offset, value in values.items():
            page.buffer.set_byte(offset, value)
        page.bytes_changed()

    document.undo_stack.push(SwapContentCommand(lambda: put(overlay), lambda: put(old)))
