"""Connections of the last session coming back: each as its document at once, even if it fails.

A document is made for every saved entry as soon as its password is known (memory, or the
keyring in a worker); it connects in its own worker. A server that is down leaves the document
open saying "Could not connect" with Reconnect, so the connection stays in the session until
the user closes it. A missing or refused password is asked for inside the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .connect_open import fetch_password

if TYPE_CHECKING:
    from storage.connections import Connection

    from .connect_open import Connector
    from .document import Document


def normalize(entries: list) -> list[dict[str, Any]]:
    """The usable entries of ``session.connections`` (damaged ones skipped)."""
    result = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("url"), str):
            continue
        order = e.get("order")
        result.append({
            "name": e.get("name") if isinstance(e.get("name"), str) else "", "url": e["url"],
            "id": e.get("id") if isinstance(e.get("id"), str) else "",
            "view": e.get("view") if isinstance(e.get("view"), dict) else {},
            **({"order": order} if isinstance(order, int) and not isinstance(order, bool) else {})})
    return result


def restore_connections(connector: Connector, entries: list,
                        placed: Callable[[Document, dict[str, Any]], None] | None) -> None:
    connector._restoring = normalize(entries)
    if not connector._restoring:
        return  # nothing to reconnect: SQLAlchemy is not even imported, launch stays quick
    from storage.connections import ConnectionSpecError

    for entry in list(connector._restoring):
        connection = connector.connection_for(entry)
        if connection is None:
            _done(connector, entry)
            continue
        if connection.kind == "sqlite":  # a file: opened by path (it is a file document then)
            _done(connector, entry)
            connector.window.open_paths([connection.path], activate=False)
            continue
        try:
            url = connection.to_url()
        except (ConnectionSpecError, ValueError) as exc:
            _done(connector, entry)
            connector.window.notices.show_message(str(exc), "error")
            continue
        fetch_password(connector.vault, connector.password_key(connection),
                       lambda password, e=entry, c=connection, u=url:
                       _make(connector, e, c, u, password, placed))


def _done(connector: Connector, entry: dict[str, Any]) -> None:
    if entry in connector._restoring:
        connector._restoring.remove(entry)


def _make(connector: Connector, entry: dict[str, Any], connection: Connection, url: str,
          password: str | None, placed: Callable[[Document, dict[str, Any]], None] | None) -> None:
    from shiboken6 import isValid

    from .sql_open import open_url_document

    _done(connector, entry)
    if not isValid(connector.window):  # the keyring answered after the window was closed
        return
    if connector.find(url) is not None:
        return
    document = open_url_document(connector.window, url, password, connection.name or None,
                                 activate=False)
    connector._adopt(document, connection, url)
    if entry["view"]:
        document.apply_view_state(entry["view"])
    if placed is not None:
        placed(document, entry)
