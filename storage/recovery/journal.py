"""Crash recovery: a journal of unsaved edits, one entry per modified document.

The journal lives in ``<settings dir>/journal/``. Each entry is two files named after a hash
of the document's path: ``ID.data`` (the payload: what the document would need to redo its
unsaved edits) and ``ID.json`` (what it belongs to: the original path, format, time, and the
original file's size, mtime and SHA-256 when it was opened, so a restore can tell whether the
file changed since). Both are written through the atomic writer, payload first; the metadata
carries the payload's SHA-256, so a crash between the two writes leaves an entry that does not
load rather than one that loads the wrong bytes. A clean exit leaves the folder empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from storage.core.atomic import atomic_write, private_folder
from storage.core.disk_stamp import sha256_file
from storage.core.errors import KnownError, UnreadableError

log = logging.getLogger(__name__)

FOLDER = "journal"
MAX_PAYLOAD = 200 * 1024 * 1024  # bigger edits are not journaled (a note is logged)
_VERSION = 1


@dataclass
class FileStamp:
    """What the original file looked like when the document read it."""

    size: int
    mtime_ns: int
    sha256: str | None = None  # None: not computed, or the file changed before it could be


def stamp_of(path: str) -> FileStamp | None:
    """Size and mtime of ``path`` now (cheap: a stat), or None when it is missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return FileStamp(info.st_size, info.st_mtime_ns)


def complete_stamp(path: str, stamp: FileStamp | None) -> FileStamp | None:
    """``stamp`` with its SHA-256 filled in (worker body), if the file still matches it."""
    if stamp is None or stamp.sha256 is not None:
        return stamp
    try:
        digest = sha256_file(path)
    except KnownError:
        return stamp
    now = stamp_of(path)
    if now is None or (now.size, now.mtime_ns) != (stamp.size, stamp.mtime_ns):
        return stamp  # changed while hashing: keep no hash, the restore will treat it as changed
    return FileStamp(stamp.size, stamp.mtime_ns, digest)


@dataclass
class JournalEntry:
    """The metadata of one journaled document."""

    path: str
    format: str
    kind: str  # which payload: "text", "hex", "json", "pickle" (the document decides)
    title: str
    saved_at: float
    stamp: FileStamp | None
    payload_size: int = 0
    payload_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return entry_id(self.path)

    def to_json(self) -> str:
        data = asdict(self)
        data["version"] = _VERSION
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> JournalEntry:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise ValueError("not a journal entry of this version")
        stamp = data.get("stamp")
        return cls(path=str(data["path"]), format=str(data["format"]), kind=str(data["kind"]),
                   title=str(data["title"]), saved_at=float(data["saved_at"]),
                   stamp=FileStamp(**stamp) if isinstance(stamp, dict) else None,
                   payload_size=int(data.get("payload_size", 0)),
                   payload_sha256=str(data.get("payload_sha256", "")),
                   extra=dict(data.get("extra") or {}))

    @property
    def stamp_path(self) -> str:
        """The file whose stamp stands for the document (a dbm.dumb shelf's ``.dir``)."""
        return str(self.extra.get("stamp_path") or self.path)

    def original_changed(self) -> bool:
        """True when the original file is missing or differs from when it was opened.

        Database edits (``extra["conditional"]``: a server's, or an SQLite file's that was locked)
        are written conditionally, each only where the row still holds what was read, so they
        are never applied blindly whatever happened to the database since."""
        if self.extra.get("conditional"):
            return False
        if self.stamp is None:
            return True  # the file was not there (or not readable) at open time: unverified
        now = stamp_of(self.stamp_path)
        if now is None or (now.size, now.mtime_ns) != (self.stamp.size, self.stamp.mtime_ns):
            return True
        if self.stamp.sha256 is None:
            return True  # never verified: do not apply blindly
        try:
            return sha256_file(self.stamp_path) != self.stamp.sha256
        except KnownError:
            return True


def entry_id(path: str) -> str:
    return hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _private_journal_folder(folder: Path) -> None:
    """``folder`` made 0700, and ``journal/`` above it too: both hold copies of users' edits."""
    if folder.parent.name == FOLDER:
        private_folder(folder.parent)
    private_folder(folder)


class Journal:
    """The journal folder. Writes are atomic; reading never raises for a damaged entry."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    @classmethod
    def beside_settings(cls, settings_folder: str | os.PathLike[str]) -> Journal:
        return cls(Path(settings_folder) / FOLDER)

    def _files(self, ident: str) -> tuple[Path, Path]:
        return self.folder / f"{ident}.json", self.folder / f"{ident}.data"

    def write(self, entry: JournalEntry, payload: bytes) -> bool:
        """Store ``payload`` for ``entry.path``; False (and a log note) when it is too big."""
        if len(payload) > MAX_PAYLOAD:
            log.warning("Not journaling %s: %d bytes of unsaved edits is over the %d byte limit",
                        entry.path, len(payload), MAX_PAYLOAD)
            return False
        try:
            _private_journal_folder(self.folder)
        except OSError as exc:
            raise UnreadableError(f"Cannot create the journal folder {self.folder}: "
                                  f"{exc.strerror or exc}") from None
        entry.payload_size = len(payload)
        entry.payload_sha256 = hashlib.sha256(payload).hexdigest()
        entry.saved_at = entry.saved_at or time.time()
        meta, data = self._files(entry.id)
        atomic_write(data, payload, private=True)  # copies of the user's unsaved edits
        atomic_write(meta, entry.to_json(), private=True)
        return True

    def entries(self) -> list[JournalEntry]:
        """Every readable entry, oldest first; damaged metadata is skipped (and logged)."""
        found: list[JournalEntry] = []
        try:
            names = sorted(p for p in self.folder.iterdir() if p.suffix == ".json")
        except OSError:
            return []
        for meta in names:
            try:
                entry = JournalEntry.from_json(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("Skipping damaged journal entry %s: %s", meta, exc)
                continue
            if entry.id == meta.stem:
                found.append(entry)
        return sorted(found, key=lambda e: e.saved_at)

    def load(self, entry: JournalEntry) -> bytes:
        """The payload of ``entry``; UnreadableError when it is missing or does not match."""
        _meta, data = self._files(entry.id)
        try:
            payload = data.read_bytes()
        except OSError as exc:
            raise UnreadableError(f"Cannot read the recovery data of {entry.title}: "
                                  f"{exc.strerror or exc}") from None
        if hashlib.sha256(payload).hexdigest() != entry.payload_sha256:
            raise UnreadableError(f"The recovery data of {entry.title} is incomplete or damaged.")
        return payload

    def move_to(self, entry: JournalEntry, other: Journal) -> None:
        """Hand ``entry`` to ``other`` by renaming its files (no copy of the payload)."""
        _private_journal_folder(other.folder)
        meta, data = self._files(entry.id)
        new_meta, new_data = other._files(entry.id)
        with contextlib.suppress(OSError):
            new_meta.unlink()  # an older entry of the same file goes first
        os.replace(data, new_data)
        os.replace(meta, new_meta)

    def drop(self, path: str) -> None:
        """Forget the entry of ``path`` (metadata first, so a half-drop never loads)."""
        for file in self._files(entry_id(path)):
            with contextlib.suppress(OSError):
                file.unlink()

    def clear(self) -> None:
        for entry in self.entries():
            self.drop(entry.path)
        with contextlib.suppress(OSError):
            for stray in self.folder.iterdir():
                if stray.suffix in (".json", ".data", ".tmp"):
                    stray.unlink()


class SessionLock:
    """An exclusive lock on a file that the OS releases when the process dies (even by SIGKILL).

    Each running Datashelf journals into its own ``session-*`` folder and holds that folder's
    lock; a folder whose lock can be taken belongs to a session that is gone.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            _private_journal_folder(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            if sys.platform == "win32":  # (not os.name: the type checker follows sys.platform)
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock on every platform
            self._fd = None


def session_folders(base: str | os.PathLike[str]) -> list[Path]:
    try:
        return sorted(p for p in Path(base).iterdir() if p.is_dir() and p.name.startswith("session-"))
    except OSError:
        return []


def recovered_path(path: str) -> str:
    """``name (recovered).ext`` next to ``path``, numbered when that name is taken."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    if stem.startswith(".") and not ext:  # ".bashrc" has no extension
        stem, ext = name, ""
    number = 1
    while True:
        suffix = " (recovered)" if number == 1 else f" (recovered {number})"
        candidate = os.path.join(folder, f"{stem}{suffix}{ext}")
        if not os.path.exists(candidate):
            return candidate
        number += 1
