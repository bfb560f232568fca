"""Connections of the last session coming back: each as its document at once, even if it fails.

A document is made for every saved entry as soon as its password is known (memory, or the
keyring in a worker); it connects in its own worker. A server that is down leaves the document
open saying "Could not connect" with Reconnect, so the connection stays in the session until
the user closes it. A missing or refused password is asked for inside the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gui.connections.opening import fetch_password

if TYPE_CHECKING:
    from gui.common.document import Document
    from gui.connections.opening import Connector
    from storage.settings.connections import Connection


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


class SessionRestorer:
    """Reopens the last session's connections; owns the entries not tried yet (they stay in the
    session while they wait). It uses the :class:`Connector`'s public API."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._waiting: list[dict[str, Any]] = []

    def waiting(self) -> list[dict[str, Any]]:
        """The session entries whose password or document is still to come."""
        return list(self._waiting)

    def restore(self, entries: list, placed: Callable[[Document, dict[str, Any]], None] | None) -> None:
        connector = self.connector
        self._waiting = normalize(entries)
        if not self._waiting:
            return  # nothing to reconnect: SQLAlchemy is not even imported, launch stays quick
        from storage.settings.connections import ConnectionSpecError

        for entry in list(self._waiting):
            connection = connector.connection_for(entry)
            if connection is None:
                self._done(entry)
                continue
            if connection.kind == "sqlite":  # a file: opened by path (it is a file document then)
                self._done(entry)
                connector.window.open_paths([connection.path], activate=False)
                continue
            try:
                url = connection.to_url()
            except (ConnectionSpecError, ValueError) as exc:
                self._done(entry)
                connector.window.notices.show_message(str(exc), "error")
                continue
            fetch_password(connector.vault, connector.password_key(connection),
                           lambda password, e=entry, c=connection, u=url:
                           self._make(e, c, u, password, placed))

    def _done(self, entry: dict[str, Any]) -> None:
        if entry in self._waiting:
            self._waiting.remove(entry)

    def _make(self, entry: dict[str, Any], connection: Connection, url: str, password: str | None,
              placed: Callable[[Document, dict[str, Any]], None] | None) -> None:
        from shiboken6 import isValid

        from gui.connections.open_url import open_url_document

        connector = self.connector
        self._done(entry)
        if not isValid(connector.window):  # the keyring answered after the window was closed
            return
        if connector.find(url) is not None:
            return
        document = open_url_document(connector.window, url, password, connection.name or None,
                                     activate=False)
        connector.adopt(document, connection, url)
        if entry["view"]:
            document.apply_view_state(entry["view"])
        if placed is not None:
            placed(document, entry)
