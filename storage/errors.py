"""One small hierarchy of errors a user can act on (after qutebrowser's misc/sql.py).

``KnownError`` is the environment's or the file's fault (unreadable, corrupt, locked, disk
full): its message is written for the user and shown as is, with a location when one
applies. Anything else that escapes the storage layer is a bug of ours and is re-raised.
"""

from __future__ import annotations

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
