"""What a panel may learn about the other documents open in its window, without importing tabs.

The window (whatever offers ``all_documents``) is found from the panel's widget; a panel reads
each document through the base :class:`~gui.common.document.Document` API and the small
protocols here, so the Tables tab's SQL panel can see the SQLite files the SQL tab holds.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from PySide6.QtWidgets import QWidget

from gui.common.document import Document, ServerDocument


@runtime_checkable
class DocumentDirectory(Protocol):
    """The main window: every document open in it, tab by tab."""

    def all_documents(self) -> list[Document]: ...


@runtime_checkable
class TableProvider(Protocol):
    """A document whose content is one table read through a storage ``TableSource`` (None while
    it opens or after it failed)."""

    def table_source(self) -> Any: ...


def open_documents(widget: QWidget) -> list[Document]:
    """The documents open in ``widget``'s window (none when it is not in one)."""
    window = widget.window()
    return list(window.all_documents()) if isinstance(window, DocumentDirectory) else []


def sqlite_files(widget: QWidget) -> list[str]:
    """The SQLite database files (not servers) open in ``widget``'s window."""
    paths = []
    for document in open_documents(widget):
        if document.format != "sqlite" or not document.path:
            continue
        if isinstance(document, ServerDocument) and document.server_url:
            continue
        paths.append(document.path)
    return list(dict.fromkeys(paths))


def table_sources(widget: QWidget) -> list[Any]:
    """The open table sources (CSV, Parquet, Arrow documents that finished opening)."""
    sources = []
    for document in open_documents(widget):
        if isinstance(document, TableProvider):
            source = document.table_source()
            if source is not None:
                sources.append(source)
    return sources
