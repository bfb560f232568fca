"""SQLite files for tests: a schema, then rows, written and closed (no connection left open)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path


def sqlite_file(path: Path, schema: str, insert: str = "", rows: Iterable[Sequence] = ()) -> Path:
    """Write ``path``: run the ``schema`` script, then ``insert`` once per row of ``rows``."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(schema)
        if insert:
            conn.executemany(insert, rows)
        conn.commit()
    finally:
        conn.close()
    return path
