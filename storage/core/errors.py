"""One small hierarchy of errors a user can act on (after qutebrowser's misc/sql.py).

``KnownError`` is the environment's or the file's fault (unreadable, corrupt, locked, disk
full): its message is written for the user and shown as is, with a location when one
applies. :func:`classify` tells these, and the parsers' and drivers' own errors, from a bug of
ours, which says so (and never blames the file) with its traceback for a bug report.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a file a problem is: 1-based line and column, 0-based byte offset."""

    line: int | None = None
    column: int | None = None
    offset: int | None = None
    table: str | None = None

    def describe(self) -> str:
        parts = []
        if self.table:
            parts.append(f"table {self.table!r}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.offset is not None and self.line is None:
            parts.append(f"byte {self.offset}")
        return ", ".join(parts)


class KnownError(Exception):
    """A failure the user can understand and act on; ``str()`` is the user's message."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = self.location.describe()
        return f"{self.message} ({where})" if where else self.message

    def as_dict(self) -> dict:
        """The ``error`` object of ``inspect --json``."""
        return {
            "message": self.message,
            "line": self.location.line,
            "column": self.location.column,
            "offset": self.location.offset,
        }


class UnreadableError(KnownError):
    """The file cannot be read at all: missing, permission denied, not a regular file."""


class ParseError(KnownError):
    """The file was read but its content is not valid for its format."""


class DecompressionLimitError(ParseError):
    """Compressed data would unpack to more than its budget (``decompression.decompression_limit``).

    ``limit`` is the budget that was hit; the window offers to open the file anyway, which allows
    up to ``decompression.MAX_DECOMPRESSED``.
    """

    def __init__(self, message: str, limit: int, location: Location | None = None) -> None:
        super().__init__(message, location)
        self.limit = limit


class UnsupportedError(KnownError):
    """The file is recognised but this build cannot read it (missing backend, wrapper)."""


class WriteError(KnownError):
    """Saving failed; the original file is intact."""


BUG_MESSAGE = "This is a bug in Datashelf, not a problem with your file"

# Raised by the parsers and drivers we read files and servers with: the file's or the server's
# fault, never ours (named, so classifying imports none of them).
_OUTSIDE_ERRORS = frozenset({
    "json.decoder.JSONDecodeError", "_pickle.UnpicklingError", "sqlite3.Error", "zlib.error",
    "_lzma.LZMAError", "builtins.EOFError", "builtins.UnicodeDecodeError",
    "zstandard.backend_c.ZstdError", "zstandard.backend_cffi.ZstdError", "sqlalchemy.exc.DBAPIError",
    "psycopg.Error",
})


@dataclass(frozen=True)
class Failure:
    """What to tell the user about an exception: whose fault it was, and the message.

    ``bug`` is True for an exception of ours (anything not known to come from the file, the
    environment or a server); ``details`` is then the traceback, for a bug report.
    """

    message: str
    bug: bool = False
    details: str = ""

    def as_dict(self) -> dict:
        """The ``error`` object of ``inspect --json`` for a bug (exit code 3)."""
        return {"kind": "bug", "message": self.message, "line": None, "column": None,
                "offset": None, "traceback": self.details}


def classify(exc: BaseException) -> Failure:
    """Whose fault ``exc`` is, with a message the user can act on (after qutebrowser's
    KnownError/BugError split): the file's or the environment's, or a bug of ours."""
    if isinstance(exc, KnownError):
        return Failure(str(exc))
    if isinstance(exc, OSError):  # missing, unreadable, disk full, a damaged HDF5 file
        reason = exc.strerror or str(exc) or type(exc).__name__
        return Failure(f"{reason}: {exc.filename}" if exc.filename and exc.strerror else reason)
    if isinstance(exc, MemoryError):
        return Failure("Not enough memory to read this file.")
    if isinstance(exc, RecursionError):  # the parsers bound nesting; this is the interpreter's
        return Failure("The data is nested too deeply to be read.")
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}
    if names & _OUTSIDE_ERRORS:
        return Failure(str(exc) or type(exc).__name__)
    details = getattr(exc, "__traceback_text__", None) or "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Failure(f"{BUG_MESSAGE} ({type(exc).__name__}: {exc})", bug=True, details=details)
