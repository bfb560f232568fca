"""Recovering an SQLite database that a killed program left in the middle of a transaction.

In the default rollback-journal mode an interrupted write leaves a "hot" ``NAME-journal`` holding
the pages to put back. Any connection that can write rolls it back on its first read; a read-only
one (how Datashelf reads) cannot, and SQLite refuses to read (SQLITE_READONLY_ROLLBACK).
"""

from __future__ import annotations

import os
import sqlite3

from .errors import KnownError

SQLITE_READONLY_ROLLBACK = 776  # SQLITE_READONLY | (3 << 8): a hot journal a reader cannot undo


def needs_rollback(exc: sqlite3.Error, path: str) -> bool:
    """True when opening failed only because of a hot journal next to ``path``."""
    return (getattr(exc, "sqlite_errorcode", None) == SQLITE_READONLY_ROLLBACK
            and os.path.exists(path + "-journal"))


def roll_back_hot_journal(path: str, timeout: float) -> None:
    """Let SQLite undo an interrupted transaction; a clear error when it cannot write the file."""
    if not (os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)):
        raise KnownError(f"{os.path.basename(path)} was left in the middle of a change by a program "
                         "that stopped (its -journal file holds what undoes it). SQLite must roll "
                         "that change back before the database can be read, which needs write "
                         "access to the file and its folder.")
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read rolls back
    finally:
        conn.close()
