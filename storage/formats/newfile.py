"""File > New: an empty file of a chosen format, written through the atomic writer.

The choices are the formats with a ``new_file`` entry in :mod:`storage.formats.registry`; the
templates of the built-in formats are here.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import tempfile
from pathlib import Path

from storage.core.atomic import atomic_write
from storage.core.errors import WriteError
from storage.formats import registry as format_registry


def new_formats() -> list[tuple[str, str, str]]:
    """(format, label shown in the dialog, extension) of every format File ▸ New can create."""
    found = [f for f in format_registry.with_hook("new_file") if f.new_file is not None]
    found.sort(key=lambda f: f.new_file.rank if f.new_file else 0)
    return [(f.name, f.new_file.label, f.new_file.extension) for f in found if f.new_file]


def empty_json() -> bytes:
    return b"{}\n"


def empty_text() -> bytes:
    return b""


def empty_pickle() -> bytes:
    return pickle.dumps({}, protocol=pickle.DEFAULT_PROTOCOL)


def empty_sqlite() -> bytes:
    """An empty database, built in a private folder (its bytes are then written atomically)."""
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


def empty_content(fmt: str) -> bytes:
    """The bytes of a valid, empty document of ``fmt``."""
    entry = format_registry.get(fmt)
    if entry is None or entry.new_file is None:
        raise ValueError(f"cannot create an empty {fmt!r} file")
    return format_registry.resolve(entry.new_file.template)()


def create_empty(path: str | os.PathLike[str], fmt: str) -> None:
    """Write an empty ``fmt`` document at ``path`` (replacing what is there)."""
    try:
        data = empty_content(fmt)
    except (OSError, sqlite3.Error) as exc:
        raise WriteError(f"Could not create the new {fmt} file: {exc}") from exc
    atomic_write(path, data)
