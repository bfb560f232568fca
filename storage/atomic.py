"""The one atomic writer every save goes through.

Write to a temporary file in the destination's folder, flush and fsync it, give it the
original file's permissions, optionally keep the previous version as ``NAME.bak``, then
``os.replace`` it over the destination and fsync the folder. A crash or a full disk at any
point leaves either the old file or the new one, never a mix; the temporary file is removed
on failure.

Temporary names carry the writer's process id (``.NAME.ds<pid>-<random>.tmp``), so one left by
a process that was killed mid-save is recognised later and removed
(:func:`remove_stale_temporaries`, run when a file of that folder is opened), while a save still
running in another Datashelf is left alone.
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

from .errors import WriteError

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


_STALE = re.compile(r"^\..+\.ds(\d+)-[^.]*\.tmp$")


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


def stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of this writer in ``folder`` whose process is gone (a killed save)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _STALE.match(entry.name)
                if match and not _alive(int(match.group(1))) and entry.is_file(follow_symlinks=False):
                    found.append(Path(entry.path))
    except OSError:
        return []
    return found


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[str]:
    """Remove what :func:`stale_temporaries` finds; return the names removed."""
    removed = []
    for path in stale_temporaries(folder):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    return removed


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
def atomic_writer(
    path: str | os.PathLike[str], mode: str = "wb", *, backup: bool = False,
    encoding: str | None = None, newline: str | None = None,
) -> Iterator[IO]:
    """Yield a file object whose content replaces ``path`` atomically when the block ends.

    If the block raises, the destination is untouched and the temporary file removed.
    OS errors become :class:`WriteError` with a message for the user.
    """
    if mode not in ("wb", "w"):
        raise ValueError("atomic_writer writes whole files: mode must be 'wb' or 'w'")
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
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if old_mode is not None:
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


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, backup: bool = False,
                 encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``data`` atomically (str is encoded with ``encoding``)."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_writer(path, "wb", backup=backup) as handle:
        handle.write(payload)


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], *,
                      backup: bool = False) -> None:
    """Replace ``path`` with whatever ``write(handle)`` writes to a binary handle."""
    with atomic_writer(path, "wb", backup=backup) as handle:
        write(handle)
