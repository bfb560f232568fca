"""File > New: an empty file of a chosen format, written through the atomic writer."""

from __future__ import annotations

import os
import pickle
import sqlite3
import tempfile
from pathlib import Path

from .atomic import atomic_write
from .errors import WriteError

# (format, label shown in the dialog, extension)
NEW_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("json", "JSON document", ".json"),
    ("jsonl", "JSON Lines", ".jsonl"),
    ("sqlite", "SQLite database", ".db"),
    ("pickle", "Pickle (an empty dict)", ".pkl"),
    ("text", "Text file", ".txt"),
)


def empty_content(fmt: str) -> bytes:
    """The bytes of a valid, empty document of ``fmt``."""
    if fmt == "json":
        return b"{}\n"
    if fmt in ("jsonl", "text"):
        return b""
    if fmt == "pickle":
        return pickle.dumps({}, protocol=pickle.DEFAULT_PROTOCOL)
    if fmt == "sqlite":
        # Build the database in a private folder, then write its bytes atomically.
        with tempfile.TemporaryDirectory(prefix="datashelf-new-") as folder:
            scratch = Path(folder) / "new.db"
            connection = sqlite3.connect(scratch)
            try:
                connection.execute("PRAGMA user_version = 0")
                connection.execute("CREATE TABLE _datashelf_init(x)")
                connection.execute("DROP TABLE _datashelf_init")
                connection.commit()
            finally:
                connection.close()
            return scratch.read_bytes()
    raise ValueError(f"cannot create an empty {fmt!r} file")


def create_empty(path: str | os.PathLike[str], fmt: str) -> None:
    """Write an empty ``fmt`` document at ``path`` (replacing what is there)."""
    try:
        data = empty_content(fmt)
    except (OSError, sqlite3.Error) as exc:
        raise WriteError(f"Could not create the new {fmt} file: {exc}") from exc
    atomic_write(path, data)
