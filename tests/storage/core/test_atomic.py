"""The one atomic writer: all or nothing, permissions kept, failures explained."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from storage.core import atomic
from storage.core.atomic import atomic_write, atomic_writer
from storage.core.errors import WriteError


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    atomic_write(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert leftovers(tmp_path) == []


def test_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "data.pkl"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == b"new"


def test_backup_holds_previous_version(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("version 1")
    atomic_write(target, "version 2", backup=True)
    assert (tmp_path / "notes.txt.bak").read_text() == "version 1"
    assert target.read_text() == "version 2"


def test_error_in_block_leaves_original(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("serialiser failed")
    assert target.read_text() == "original"
    assert leftovers(tmp_path) == []


def test_disk_full_leaves_original_and_explains(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "data.json"
    target.write_text("original")

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(WriteError) as info:
        atomic_write(target, "new content")
    assert "disk is full" in str(info.value)
    assert "unchanged" in str(info.value)
    assert target.read_text() == "original"
    assert leftovers(tmp_path) == []


def test_symlink_is_kept_and_target_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_missing_folder_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(WriteError):
        atomic_write(tmp_path / "no" / "such" / "folder.txt", "x")
