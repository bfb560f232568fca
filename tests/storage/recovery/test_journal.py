"""The crash-recovery journal in storage/: entries round trip, damage is detected, copies are written."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from storage.core.errors import ParseError, UnreadableError, UnsupportedError
from storage.recovery import journal as journal_mod
from storage.recovery.journal import Journal, JournalEntry, complete_stamp, recovered_path, stamp_of
from storage.recovery.payload import (
    file_bytes,
    kind_of,
    overlay_of,
    pack,
    pack_hex,
    pack_text,
    unpack,
    write_copy,
)


def _entry(path, kind="text", stamp=None) -> JournalEntry:
    return JournalEntry(path=str(path), format="text", kind=kind, title=os.path.basename(path),
                        saved_at=0.0, stamp=stamp)


def test_round_trip_list_load_drop(tmp_path):
    original = tmp_path / "notes.txt"
    original.write_text("hello\n")
    journal = Journal.beside_settings(tmp_path / "settings")
    stamp = complete_stamp(str(original), stamp_of(str(original)))
    payload = pack_text("hello, edited\n", "utf-8", False, None, "\n")
    assert journal.write(_entry(original, stamp=stamp), payload)

    [entry] = journal.entries()
    assert entry.path == str(original) and entry.title == "notes.txt"
    assert entry.saved_at > 0 and entry.stamp == stamp and stamp.sha256
    assert journal.load(entry) == payload
    assert not entry.original_changed()
    assert sorted(p.suffix for p in (tmp_path / "settings" / "journal").iterdir()) == [".data", ".json"]

    journal.drop(str(original))
    assert journal.entries() == []
    assert list((tmp_path / "settings" / "journal").iterdir()) == []


def test_original_changed_by_content_size_or_absence(tmp_path):
    original = tmp_path / "a.json"
    original.write_text('{"a": 1}')
    info = os.stat(original)
    entry = _entry(original, stamp=complete_stamp(str(original), stamp_of(str(original))))
    assert not entry.original_changed()
    original.write_text('{"a": 2}')  # same size: mtime or hash tell
    os.utime(original, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert entry.original_changed()  # same size and mtime, other bytes: the SHA-256 tells
    original.write_text('{"a": 12}')
    assert entry.original_changed()
    original.unlink()
    assert entry.original_changed()
    unhashed = _entry(tmp_path / "b", stamp=journal_mod.FileStamp(1, 1))
    assert unhashed.original_changed()


def test_damaged_entries_are_skipped_or_refused(tmp_path):
    journal = Journal(tmp_path / "j")
    journal.write(_entry(tmp_path / "x.txt"), pack_text("x", "utf-8", False, None, "\n"))
    [entry] = journal.entries()
    (tmp_path / "j" / f"{entry.id}.data").write_bytes(b"torn")
    with pytest.raises(UnreadableError, match="incomplete or damaged"):
        journal.load(entry)
    (tmp_path / "j" / "garbage.json").write_text("{not json")
    (tmp_path / "j" / f"{entry.id}.json").write_text(json.dumps({"version": 99}))
    assert journal.entries() == []
    journal.clear()
    assert list((tmp_path / "j").iterdir()) == []


def test_too_big_payload_is_not_written(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(journal_mod, "MAX_PAYLOAD", 10)
    journal = Journal(tmp_path / "j")
    assert not journal.write(_entry(tmp_path / "big.txt"), b"x" * 11)
    assert journal.entries() == []
    assert "over the 10 byte limit" in caplog.text


def test_payload_kinds_and_copies(tmp_path):
    text = pack_text("a\nb\n", "utf-16-le", True, "\r\n", "\n")
    assert kind_of(text) == "text"
    data, _header = file_bytes(text)
    assert data == "\ufeffa\r\nb\r\n".encode("utf-16-le")

    hexed = pack_hex({3: 0x41, 0: 0xFF})
    kind, _h, body = unpack(hexed)
    assert kind == "hex" and overlay_of(body) == {0: 0xFF, 3: 0x41}
    with pytest.raises(UnsupportedError, match="cannot be restored as a copy"):
        file_bytes(hexed)

    value = {"k": [1, 2]}
    pickled = pack("pickle", {"container": "pickle"}, pickle.dumps(value, protocol=4))
    target = tmp_path / "v.pkl"
    write_copy(str(target), pickled)
    assert pickle.loads(target.read_bytes()) == value

    with pytest.raises(ParseError):
        unpack(b"no header here")


def test_recovered_path_is_free_and_beside(tmp_path):
    original = tmp_path / "data.json"
    first = recovered_path(str(original))
    assert first == str(tmp_path / "data (recovered).json")
    open(first, "w").close()
    assert recovered_path(str(original)) == str(tmp_path / "data (recovered 2).json")
    assert recovered_path(str(tmp_path / ".env")) == str(tmp_path / ".env (recovered)")
