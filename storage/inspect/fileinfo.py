"""What the Files tab's Info view shows: size, times, permissions, detected format, SHA-256."""

from __future__ import annotations

import os
import stat
import time
from typing import Any

from storage.core.errors import KnownError, UnreadableError


def _kind(mode: int) -> str:
    for check, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"),
                        (stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "named pipe (FIFO)"),
                        (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                        (stat.S_ISBLK, "block device")):
        if check(mode):
            return name
    return "other"


def file_info(path: str) -> dict[str, Any]:
    """Facts about ``path`` (worker body): never reads more than the sniffer's head."""
    from storage.sniff.detect import format_label, show_bytes, sniff

    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from None
    facts: dict[str, Any] = {
        "path": path,
        "kind": _kind(info.st_mode),
        "size": info.st_size,
        "modified": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.st_mtime)),
        "permissions": stat.filemode(info.st_mode),
        "owner_uid": info.st_uid,
        "allocated": getattr(info, "st_blocks", 0) * 512,
    }
    if os.path.islink(path):
        try:
            facts["link_target"] = os.readlink(path)
        except OSError:
            pass
    facts["sparse"] = stat.S_ISREG(info.st_mode) and facts["allocated"] < info.st_size // 2
    try:
        result = sniff(path)
        facts.update(format=format_label(result), reason=result.reason,
                     magic=show_bytes(result.magic) if result.magic else "")
    except KnownError as exc:
        facts.update(format="unreadable", reason=str(exc), magic="")
    return facts
