"""Every format's saver keeps permissions and survives a full disk (issue 9, item 3 and 4).

For each saver (text, JSON, pickle, joblib, dbm.dumb shelf, .npy, .npz, hex): a 0o640 file is
still 0o640 after a save; a disk that fills up in the middle of the save (a writer made to raise
ENOSPC, and a real 1 MB tmpfs filled to the brim) leaves every file of the document
byte-identical, no temporary file behind, and a WriteError saying the disk is full and the
original is unchanged.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.core import atomic
from storage.core.atomic import atomic_write
from storage.core.errors import WriteError
from tests.support.save_cases import CASES


def _snapshot(files: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in files}


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_save_keeps_permissions(fmt: str, tmp_path: Path) -> None:
    case = CASES[fmt]
    files = case.make(tmp_path)
    before = _snapshot(files)
    for path in files:
        os.chmod(path, 0o640)
    case.save(tmp_path)
    assert _snapshot(files) != before  # the save really wrote
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o640" for p in files}


class _FillingHandle:
    """The atomic writer's file, on a disk that is full after ``room`` more bytes."""

    def __init__(self, real, room: int) -> None:
        self._real, self._room = real, room

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if size > self._room:
            self._real.write(bytes(memoryview(data).cast("B")[:self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= size
        return self._real.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._real.close()

    def __getattr__(self, name: str):
        return getattr(self._real, name)


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_disk_full_while_writing_leaves_the_original(fmt: str, tmp_path: Path, monkeypatch) -> None:
    case = CASES[fmt]
    files = case.make(tmp_path)
    before = _snapshot(files)
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FillingHandle(real_fdopen(*a, **k), 100))
    with pytest.raises(WriteError) as info:
        case.save(tmp_path)
    message = str(info.value)
    assert "disk is full" in message and "original file is unchanged" in message
    assert _snapshot(files) == before
    assert _temporaries(tmp_path) == []


# -- a real full disk --------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root and a mount namespace that allows it; skipped otherwise)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root (a real full disk); the ENOSPC tests above still run")
    folder = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                    "the ENOSPC tests above still run")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def _fill(folder: Path) -> None:
    """Take every free block of the file system ``folder`` is on."""
    with open(folder / "filler", "wb", buffering=0) as handle:
        block = b"\0" * 4096
        try:
            while True:
                handle.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_real_full_disk_leaves_the_original(fmt: str, small_disk: Path) -> None:
    case = CASES[fmt]
    files = case.make(small_disk)
    before = _snapshot(files)
    _fill(small_disk)
    with pytest.raises(WriteError) as info:
        case.save(small_disk)
    message = str(info.value)
    assert "disk is full" in message and "original file is unchanged" in message
    assert _snapshot(files) == before
    assert _temporaries(small_disk) == []
    (small_disk / "filler").unlink()
    case.save(small_disk)  # with room again, the same save works
    assert _snapshot(files) != before


def test_full_disk_never_damages_the_previous_backup(small_disk: Path) -> None:
    """With room for the new file but not for the .bak copy, the old .bak stays whole."""
    target = small_disk / "notes.txt"
    target.write_bytes(b"version 1")
    atomic_write(target, b"version 2" * 5000, backup=True)
    bak = small_disk / "notes.txt.bak"
    assert bak.read_bytes() == b"version 1"
    _fill(small_disk)
    filler = small_disk / "filler"
    with open(filler, "r+b") as handle:  # room for the new file, not for a second 45 kB copy
        handle.truncate(filler.stat().st_size - 64 * 1024)
    with pytest.raises(WriteError) as info:
        atomic_write(target, b"version 3" * 5000, backup=True)
    assert "disk is full" in str(info.value)
    assert target.read_bytes() == b"version 2" * 5000
    assert bak.read_bytes() == b"version 1"
    assert _temporaries(small_disk) == []


def test_settings_keep_permissions_and_survive_a_full_disk(tmp_path: Path, monkeypatch) -> None:
    """The settings file is saved the same way (but private: it holds copies of user data, so a
    looser mode is tightened to 0600); a full disk is noted, never raised at the user."""
    from storage.settings.store import Settings

    settings = Settings(tmp_path)
    settings["files.show_hidden"] = True
    assert settings.save()
    os.chmod(settings.path, 0o640)
    settings["files.show_hidden"] = False
    assert settings.save()
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600
    before = settings.path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FillingHandle(real_fdopen(*a, **k), 10))
    settings["files.show_hidden"] = True
    assert not settings.save()
    assert any("disk is full" in notice for notice in settings.take_notices())
    assert settings.path.read_bytes() == before
    assert _temporaries(tmp_path) == []
