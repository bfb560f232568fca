"""SQLite databases that a killed program left in the middle of a transaction ("hot" journals).

In the default rollback-journal mode an interrupted write leaves a ``NAME-journal`` holding the
pages to put back. Any connection that can write rolls it back on its first read; a read-only
one (how Datashelf reads) cannot, and SQLite refuses to read (SQLITE_READONLY_ROLLBACK).

Datashelf never rolls back on its own: a journal may name a *super-journal* (a transaction over
ATTACHed databases) anywhere on the disk, and SQLite's recovery deletes that file when none of
the journals it lists is still hot, so a crafted ``-journal`` beside a received database could
delete any file of the user's. The user chooses instead: read the file as it is on disk
(``immutable=1``, which ignores the journal), or roll back after confirming, which is refused
when the named super-journal is not one SQLite made for this journal.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
import sys
from dataclasses import dataclass

from storage.core.errors import KnownError

SQLITE_READONLY_ROLLBACK = 776  # SQLITE_READONLY | (3 << 8): a hot journal a reader cannot undo
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
RESERVED_BYTE = 0x40000001  # PENDING_BYTE + 1: a writer mid-transaction holds a lock on it
MAX_SUPER_NAME = 512  # SQLite's unix mxPathname: longer names are ignored by SQLite too
MAX_SUPER_SIZE = 1 << 20  # a real super-journal lists a few journal paths
BUSY_TIMEOUT_MS = 2000  # how long an SQLite connection (a database's or a shelf's) waits for a lock
# SQLite names them "<database>-mj%06X9%02X" (older releases: "-mj%08X").
_SUPER_NAME = re.compile(r"-mj(?:[0-9A-F]{6}9[0-9A-F]{2}|[0-9A-F]{8})\Z")


@dataclass(frozen=True)
class HotJournal:
    """A hot journal beside ``database``, what it names, and why rolling it back is refused."""

    database: str
    journal: str
    size: int
    super_journal: str = ""  # the super-journal it names ("" when none)
    super_exists: bool = False
    refusal: str = ""  # why "Roll back" is refused ("" when SQLite's recovery is safe)

    def describe(self) -> str:
        name = os.path.basename(self.database)
        text = (f"{name} has an unfinished transaction: a program stopped in the middle of a change, "
                f"and {os.path.basename(self.journal)} ({self.size:,} bytes) holds what undoes it. "
                "Nothing was rolled back or changed.")
        if self.super_journal:
            state = "exists" if self.super_exists else "does not exist"
            text += f" The journal names the super-journal {self.super_journal} (it {state})."
        return text

    def rollback_effects(self) -> str:
        """What "Roll back" writes and removes, for the confirmation."""
        text = (f"SQLite's recovery writes the saved pages back into {os.path.basename(self.database)} "
                f"and removes {os.path.basename(self.journal)}.")
        if self.super_journal and self.super_exists:
            text += (f" It also deletes the super-journal {self.super_journal} once no other database "
                     "still needs it.")
        elif self.super_journal:
            text += " Its super-journal is gone, so SQLite keeps the change as committed."
        return text


class UnfinishedTransaction(KnownError):
    """The database has a hot journal: show it as on disk, or roll back after confirming."""

    def __init__(self, hot: HotJournal) -> None:
        super().__init__(hot.describe())
        self.hot = hot


def _reserved(path: str) -> bool:
    """True when a process holds SQLite's RESERVED lock (a live writer, not a crash).

    Never by opening the database: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's own included. Linux lists the locks in /proc/locks; elsewhere
    F_GETLK on a descriptor (which only asks) is the fallback.
    """
    try:
        info = os.stat(path)
    except OSError:
        return False
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            table = handle.read()
    except OSError:
        return _reserved_by_fcntl(path)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, listed under the lock it waits for
            continue
        try:
            where = fields.index(device)
            start, end = int(fields[where + 1]), fields[where + 2]
        except (ValueError, IndexError):
            continue
        # Any holder counts, this process included (a writer of ours mid-transaction), as
        # SQLite's own check does.
        if start <= RESERVED_BYTE and (end == "EOF" or int(end) >= RESERVED_BYTE):
            return True
    return False


def _reserved_by_fcntl(path: str) -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    if sys.platform == "darwin":
        layout, order = "qqihh", ("start", "len", "pid", "type", "whence")
    elif sys.platform.startswith("linux"):
        layout, order = "hhqqi4x", ("type", "whence", "start", "len", "pid")
    else:
        return False
    fields = {"type": fcntl.F_WRLCK, "whence": os.SEEK_SET, "start": RESERVED_BYTE, "len": 1, "pid": 0}
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(layout, *(fields[k] for k in order)))
    except OSError:
        return False
    finally:
        os.close(fd)
    lock_type = dict(zip(order, struct.unpack(layout, answer), strict=True))["type"]
    return lock_type != fcntl.F_UNLCK


def read_super_journal_name(journal: str) -> str:
    """The super-journal a journal names, read exactly as SQLite's ``readSuperJournal`` does."""
    try:
        with open(journal, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size < 16:
                return ""
            handle.seek(size - 16)
            length, checksum = struct.unpack(">II", handle.read(8))
            if handle.read(8) != JOURNAL_MAGIC or not 0 < length <= min(MAX_SUPER_NAME, size - 16):
                return ""
            handle.seek(size - 16 - length)
            raw = handle.read(length)
    except OSError:
        return ""
    # SQLite subtracts each C char (signed on x86, unsigned on ARM) from the stored checksum.
    unsigned = sum(raw) & 0xFFFFFFFF
    signed = sum(b - 256 if b > 127 else b for b in raw) & 0xFFFFFFFF
    if checksum not in (unsigned, signed):
        return ""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _super_refusal(journal: str, super_journal: str, read: bool = False) -> tuple[bool, str]:
    """(whether it exists, why rolling back is refused or "") for the super-journal named.

    Its name and type are checked without opening it; only with ``read`` (a roll back the user
    confirmed) is its content read, to see that it lists this journal."""
    shown = super_journal
    if not _SUPER_NAME.search(super_journal):
        return os.path.lexists(super_journal), (
            f"the journal names {shown} as its super-journal, which is not a name SQLite gives one; "
            "SQLite's recovery could delete that file")
    try:
        info = os.lstat(super_journal)
    except OSError:
        return False, ""  # gone: SQLite then treats the change as committed and reads nothing
    if not os.path.isfile(super_journal) or os.path.islink(super_journal) or info.st_size > MAX_SUPER_SIZE:
        return True, f"the super-journal {shown} is not a plain small file; SQLite's recovery could delete it"
    if not read:
        return True, ""
    try:  # never a FIFO or symlink swapped in since: no blocking open, no following
        fd = os.open(super_journal, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            entries = [e for e in handle.read(MAX_SUPER_SIZE).split(b"\0") if e]
    except OSError as exc:
        return True, f"the super-journal {shown} cannot be read ({exc.strerror or exc})"
    names = [e.decode("utf-8", "surrogateescape") for e in entries]
    mine = os.path.realpath(journal)
    if not names or not all(n.endswith("-journal") for n in names) \
            or mine not in {os.path.realpath(n) for n in names}:
        return True, (f"{shown} does not list this database's journal, so it is not its super-journal; "
                      "SQLite's recovery could delete it")
    return True, ""


def find_hot_journal(path: str, *, read_super: bool = False) -> HotJournal | None:
    """The hot journal beside ``path``, as SQLite's ``hasHotJournal`` decides, or None.

    Hot means: ``-journal`` exists and starts with a non-zero byte, the database is not empty,
    and no process holds the RESERVED lock (a program writing right now is no crash).
    Only reads the journal: nothing is opened for writing, locked or removed, and the super-journal
    it names is only looked at (its content is read with ``read_super``, before a roll back).
    """
    journal = path + "-journal"
    try:
        size = os.stat(journal).st_size
        if size == 0 or os.stat(path).st_size == 0:
            return None
        with open(journal, "rb") as handle:
            if handle.read(1) in (b"", b"\0"):
                return None
    except OSError:
        return None
    if _reserved(path):
        return None
    super_journal = read_super_journal_name(journal)
    exists, refusal = _super_refusal(journal, super_journal, read_super) if super_journal else (False, "")
    return HotJournal(path, journal, size, super_journal, exists, refusal)


def unfinished(exc: BaseException, path: str) -> UnfinishedTransaction | None:
    """The error to raise when opening ``path`` read-only failed only because of a hot journal."""
    if getattr(exc, "sqlite_errorcode", None) != SQLITE_READONLY_ROLLBACK:
        return None
    hot = find_hot_journal(path)
    if hot is None:  # SQLite saw it hot a moment ago; describe it all the same
        journal = path + "-journal"
        hot = HotJournal(path, journal, os.path.getsize(journal) if os.path.exists(journal) else 0)
    return UnfinishedTransaction(hot)


def roll_back_hot_journal(path: str, timeout: float) -> None:
    """Let SQLite undo an interrupted transaction, after the user confirmed it.

    Refused when the journal names a super-journal SQLite did not make for it, and with a clear
    error when the file or its folder cannot be written.
    """
    hot = find_hot_journal(path, read_super=True)
    if hot is None:
        return  # nothing to undo (any more)
    if hot.refusal:
        raise KnownError(f"Roll back refused: {hot.refusal}. Open it as it is on disk instead.")
    if not (os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)):
        raise KnownError(f"{os.path.basename(path)} was left in the middle of a change by a program "
                         "that stopped (its -journal file holds what undoes it). Rolling that change "
                         "back needs write access to the file and its folder.")
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read rolls back
    finally:
        conn.close()
