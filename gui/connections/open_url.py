"""Opening a database URL as a document of the SQL tab (the window's ``open_database_url``).

The document class is the one the format registry names for "sqlite", so the connection code
never imports the SQL tab.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gui.common.document import Document
from storage.core.url_redact import redact

if TYPE_CHECKING:
    from gui.app.mainwindow import MainWindow
    from storage.formats.sql.db import Database


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z0-9_]+)?://")


def looks_like_url(text: str) -> bool:
    """True for ``dialect[+driver]://…`` (a command-line argument that is not a file)."""
    if not _SCHEME.match(text):
        return False
    import sqlalchemy as sa  # only for an argument that looks like a URL: launch stays quick

    try:
        sa.make_url(text)
    except Exception:
        return False
    return True


def open_url_document(window: MainWindow, url: str, password: str | None = None,
                      name: str | None = None, database: Database | None = None, *,
                      activate: bool = True) -> Document:
    """The document of ``url``: the one open already, or a new one in the SQL tab.

    ``database`` is a connection checked already (by the connection dialog): the document takes
    it over instead of connecting a second time. It is closed when it is not needed.
    """
    from storage.formats import registry as format_registry
    from storage.formats.sql.db import ServerDatabase

    entry = format_registry.get("sqlite")
    assert entry is not None and entry.document, "the registry names the SQL tab's document"
    document_class = format_registry.resolve(entry.document)
    page = window.page_for_format("sqlite")
    wanted = redact(url)
    for document in page.all_documents():
        if isinstance(document, document_class) and document.server_url \
                and redact(document.server_url) == wanted \
                and (name is None or document.connection_name == name):
            window.activate_document(document)
            if database is not None:
                database.close()
            return document
    if not isinstance(database, ServerDatabase) and database is not None:
        database.close()  # a SQLite file: opened by path, with the file's own rules
        database = None
    if url.startswith("sqlite:"):
        import sqlalchemy as sa

        path = sa.make_url(url).database or ""
        window.open_paths([path])
        return window.find_document(path) or page.current_document()  # type: ignore[return-value]
    document = document_class(None, "sqlite", page, url=url, password=password, name=name,
                              database=database)
    window.adopt_document(page, document)
    if activate:
        window.activate_document(document)
    return document
