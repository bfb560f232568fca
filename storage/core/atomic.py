"""The one atomic writer every save goes through.

Write to a temporary file in the destination's folder, flush and fsync it, give it the
original file's permissions, optionally keep the previous version as ``NAME.bak``, then
``os.replace`` it over the destination and fsync the folder. A crash or a full disk at any
point leaves either the old file or the new one, never a mix; the temporary file is removed
on failure.

Temporary names carry the writer's process id (``.NAME.ds<pid>-<random>.tmp``), so one left by
a process that was killed mid-save is recognised later and removed
(:func:`remove_stale_temporaries`, run when a file of that folder is opened), while a save still
running in another Datashelf is left alone. Only exact matches of that name (tempfile's 8-letter
random part, a possible process id), regular files owned by this user and never symlinks count.

A user's file keeps its permissions across a save. Datashelf's own files that hold copies of
user data (``settings.json``, the crash journal) are written ``private``: 0600, in folders made
0700 by :func:`private_folder`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from storage.core.errors import WriteError

_ERRNO_MESSAGES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
}


def _explain(path: Path, exc: OSError) -> WriteError:
    why = _ERRNO_MESSAGES.get(exc.errno or 0, exc.strerror or str(exc))
    return WriteError(f"Could not save {path.name}: {why}. The original file is unchanged.")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows and some file systems cannot open a folder; nothing more to do.
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# tempfile.mkstemp's random part: 8 characters of "abcdefghijklmnopqrstuvwxyz0123456789_".
_STALE = re.compile(r"\A\..+\.ds([1-9][0-9]{0,9})-[a-z0-9_]{8}\.tmp\Z")
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def _prefix(name: str) -> str:
    return f".{name}.ds{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, run by another user
        return True
    return True


def _pid_max() -> int:
    try:
        with open("/proc/sys/kernel/pid_max", "rb") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 2**31 - 1


def _ours(entry: os.DirEntry) -> bool:
    """A regular file (not a symlink) that this user owns."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of this writer in ``folder`` whose process is gone (a killed save)."""
    found = []
    limit = _pid_max()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _STALE.match(entry.name)
                if not match or int(match.group(1)) > limit:  # no process ever had that id
                    continue
                if not _alive(int(match.group(1))) and _ours(entry):
                    found.append(Path(entry.path))
    except OSError:
        return []
    return found


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[str]:
    """Remove what :func:`stale_temporaries` finds; return the names removed.

    Checked again just before each removal, so a name swapped meanwhile for a symlink, a folder
    or another user's file stays.
    """
    removed = []
    for path in stale_temporaries(folder):
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                continue
            path.unlink()  # unlink never follows a symlink: at worst it removes the link itself
        except OSError:
            continue
        removed.append(path.name)
    return removed


def private_folder(folder: str | os.PathLike[str], *, tighten: bool = True) -> Path:
    """Create ``folder`` (and its parents) with 0700; with ``tighten``, an existing folder of this
    user that others may read or enter is made 0700 too. Datashelf's own folders only."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    if os.name == "nt" or not tighten:
        return path
    info = os.stat(path)
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(info.st_mode) & PRIVATE_FOLDER)
    return path


def backup_copy(path: str | os.PathLike[str]) -> Path:
    """Copy ``path`` to ``NAME.bak`` beside it (see :func:`_backup`); return the copy's path.

    A ``.bak`` that is a symlink is replaced, never written through: the copy cannot land in
    another file."""
    dest = Path(path)
    _backup(dest, dest.parent if str(dest.parent) else Path("."))
    return dest.with_name(dest.name + ".bak")


def _backup(dest: Path, folder: Path) -> None:
    """Copy ``dest`` to ``NAME.bak`` through a temporary file, so a copy cut short (a full disk)
    leaves the previous ``.bak`` whole instead of a truncated one."""
    fd, part_name = tempfile.mkstemp(prefix=_prefix(dest.name + ".bak"), suffix=".tmp", dir=folder)
    os.close(fd)
    part = Path(part_name)
    try:
        shutil.copy2(dest, part)
        os.replace(part, dest.with_name(dest.name + ".bak"))
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, backup: bool = False, private: bool = False,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; whatever is written there (by this process or a
    library that wants a file name: DuckDB's ``COPY``, an SQLite database) replaces ``path``
    atomically when the block ends, fsynced, with the old file's permissions.

    If the block raises, the destination is untouched and the temporary file removed.
    OS errors become :class:`WriteError` with a message for the user.
    """
    dest = Path(path)
    if dest.is_symlink():
        dest = dest.resolve()  # replace the target, keep the link
    folder = dest.parent if str(dest.parent) else Path(".")
    try:
        old_mode = stat.S_IMODE(os.stat(dest).st_mode)
    except FileNotFoundError:
        old_mode = None
    except OSError as exc:
        raise _explain(dest, exc) from exc
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_prefix(dest.name), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _explain(dest, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        if private:
            os.chmod(tmp, PRIVATE_FILE)
        elif old_mode is not None:
            os.chmod(tmp, old_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        if backup and old_mode is not None:
            _backup(dest, folder)
        os.replace(tmp, dest)
        _fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _explain(dest, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], mode: str = "wb", *, backup: bool = False,
    encoding: str | None = None, newline: str | None = None, private: bool = False,
) -> Iterator[IO]:
    """Yield a file object whose content replaces ``path`` atomically when the block ends.

    The new file keeps the old one's permissions (a new file gets the umask's); ``private``
    (Datashelf's own files holding user data) makes it 0600 whatever it was.
    If the block raises, the destination is untouched and the temporary file removed.
    OS errors become :class:`WriteError` with a message for the user.
    """
    if mode not in ("wb", "w"):
        raise ValueError("atomic_writer writes whole files: mode must be 'wb' or 'w'")
    with atomic_path(path, backup=backup, private=private) as tmp, \
            os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC), mode, encoding=encoding,
                      newline=newline) as handle:
        yield handle
        handle.flush()


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, backup: bool = False,
                 encoding: str = "utf-8", private: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (str is encoded with ``encoding``)."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_writer(path, "wb", backup=backup, private=private) as handle:
        handle.write(payload)


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], *,
                      backup: bool = False) -> None:
    """Replace ``path`` with whatever ``write(handle)`` writes to a binary handle."""
    with atomic_writer(path, "wb", backup=backup) as handle:
        write(handle)
