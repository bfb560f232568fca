"""The stamp that tells a change on disk from none: stats, a bounded hash, and the rules between them."""

from __future__ import annotations

import os
from pathlib import Path

from storage.core import disk_stamp
from storage.core.disk_stamp import content_changed, take_stamp
from storage.formats.text.diff import diff_text_with_disk


def test_same_bytes_with_new_dates_is_no_change(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc" * 100)
    first = take_stamp([str(path)])
    assert first is not None and first.digest and not first.partial
    os.utime(path, ns=(5, 5))
    touched = take_stamp([str(path)])
    assert not first.same_stats(touched) and not content_changed(first, touched)
    path.write_bytes(b"abd" * 100)  # same size, other bytes
    assert content_changed(first, take_stamp([str(path)]))


def test_same_stats_other_hash_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = take_stamp([str(path)])
    forged = disk_stamp.DiskStamp(first.stats, "0" * 64)  # as if rewritten within the same tick
    assert content_changed(first, forged) and not content_changed(first, first)


def test_missing_files_and_several_files(tmp_path: Path) -> None:
    dat, dir_ = tmp_path / "s.dat", tmp_path / "s.dir"
    dat.write_bytes(b"data")
    dir_.write_bytes(b"index")
    both = take_stamp([str(dat), str(dir_)])
    dir_.unlink()
    gone = take_stamp([str(dat), str(dir_)])
    assert gone.missing and content_changed(both, gone)
    dir_.write_bytes(b"INDEX")
    assert content_changed(both, take_stamp([str(dat), str(dir_)]))


def test_huge_files_are_hashed_at_their_ends(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk_stamp, "FULL_HASH_LIMIT", 1000)
    monkeypatch.setattr(disk_stamp, "EDGE_BYTES", 100)
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(5000))
    first = take_stamp([str(path)])
    assert first.partial and first.digest
    with open(path, "r+b") as handle:  # the middle changes; its stats say so
        handle.seek(2500)
        handle.write(b"x")
    now = take_stamp([str(path)])
    assert now.digest == first.digest and content_changed(first, now)
    # For a partially hashed file, a touch counts as a change: the hash cannot vouch for it.
    os.utime(path, ns=(1, 1))
    assert content_changed(now, take_stamp([str(path)]))


def test_cancel_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10)
    assert take_stamp([str(path)], cancel=lambda: True) is None
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stamp = take_stamp([str(fifo)])  # never blocks on a FIFO: stats only
    assert stamp is not None and stamp.digest is None


def test_text_diff_uses_the_editors_encoding_and_endings(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes("één\r\ntwee\r\ndrie\r\n".encode("cp1252"))
    result = diff_text_with_disk("één\ntwo\ndrie\n", str(path), "cp1252")
    assert result.text.splitlines()[3:] == [" één", "-two", "+twee", " drie", " "]
    assert (result.added, result.removed) == (1, 1)
    assert "Cannot read" in diff_text_with_disk("x", str(tmp_path / "gone.txt")).note
