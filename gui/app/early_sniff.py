"""Sniffing files off the GUI thread, and the command line's files sniffed from the very start.

:func:`sniff_and_preview` is the worker body of every open (gui/app/opening.py). :class:`EarlySniff`
runs it on a plain thread that main.py starts as soon as it knows this process shows the window,
before PySide6 and the window's modules are imported: the sniff overlaps them. When the window opens
the command line's files, a finished early sniff is taken as is, so the document is made before the
window's first paint and its tab is current from the start (no Files tab first); an unfinished one
(a slow disk) is left alone and the files are sniffed like any other open. Nothing waits for it.

No Qt here: this runs before QApplication exists.
"""

from __future__ import annotations

import os
import threading

from storage.core.errors import KnownError
from storage.formats import registry as format_registry


def sniff_all(paths: list[str]) -> list[tuple[str, object]]:
    """Each path with its SniffResult, or the exception that stopped it."""
    from storage.sniff.detect import sniff  # imported on first use: keeps launch quick

    results: list[tuple[str, object]] = []
    for path in paths:
        try:
            results.append((path, sniff(path)))
        except Exception as exc:  # the file's fault or a bug: classified and shown per path
            results.append((path, exc))
    return results


def sniff_and_preview(paths: list[str], preview: bool) -> tuple[list[tuple[str, object]], str | None]:
    """:func:`sniff_all`, and with ``preview`` the first lines of the one path when its format is
    text-like (shown while its document is made, see DocumentOpener)."""
    results = sniff_all(paths)
    if not preview or len(results) != 1 or isinstance(results[0][1], BaseException):
        return results, None
    path, result = results[0]
    entry = format_registry.get(result.format)
    if entry is None or not entry.textual:
        return results, None
    from storage.inspect.preview import first_lines

    try:
        return results, first_lines(getattr(result, "path", "") or path, result.format)
    except (OSError, KnownError):  # the document's own read says what is wrong
        return results, None


class EarlySniff:
    """The command line's files, sniffed on a thread started before the window is built."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = [os.path.abspath(os.fspath(path)) for path in paths]
        self.preview = len(self.paths) == 1  # as DocumentOpener.open_paths asks for one file to show
        self._result: tuple[list[tuple[str, object]], str | None] | None = None
        self._thread = threading.Thread(target=self._run, name="datashelf-early-sniff", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = sniff_and_preview(self.paths, self.preview)
        except Exception:  # a bug: the window sniffs the files again and reports it there
            self._result = None

    def take(self, paths: list[str], preview: bool) -> tuple[list[tuple[str, object]], str | None] | None:
        """The sniff of exactly ``paths`` when it has finished, else None (never waits)."""
        if paths != self.paths or preview != self.preview or self._thread.is_alive():
            return None
        return self._result
