"""Sniffing Arrow IPC streams: no magic bytes, so the schema message's flatbuffer is walked; other
binary files (random bytes after 0xFFFFFFFF, cut headers, small little-endian integers) stay binary."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from storage.core.errors import KnownError
from storage.formats.table.sniff import stream_schema_message
from storage.formats.table.source import open_table
from storage.sniff.detect import sniff

TABLE = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})


def stream_bytes(table: pa.Table = TABLE, **options) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["t.arrows", "t.arrow", "t.bin", "noext"])
def test_a_stream_is_arrow_whatever_its_name(tmp_path: Path, name: str) -> None:
    result = sniff(write(tmp_path, name, stream_bytes()))
    assert result.format == "arrow", result.reason
    assert result.detail == {"flavour": "arrow-stream", "legacy": False, "damaged": False}
    assert result.magic.startswith(b"\xff\xff\xff\xff")


def test_legacy_and_wide_and_compressed_streams(tmp_path: Path) -> None:
    legacy = sniff(write(tmp_path, "old", stream_bytes(use_legacy_format=True)))
    assert (legacy.format, legacy.detail["legacy"]) == ("arrow", True), legacy.reason
    assert "pre-0.15" in legacy.reason
    wide = pa.table({f"column_{i}": [i] for i in range(5_000)})  # a schema far beyond the sniffed head
    data = stream_bytes(wide)
    assert struct.unpack_from("<i", data, 4)[0] > 64 * 1024
    assert sniff(write(tmp_path, "wide", data)).format == "arrow"
    assert sniff(write(tmp_path, "zstd", stream_bytes(compression="zstd"))).format == "arrow"


def test_the_arrow_file_format_keeps_its_magic(tmp_path: Path) -> None:
    path = tmp_path / "t.arrow"
    with ipc.new_file(path, TABLE.schema) as writer:
        writer.write_table(TABLE)
    assert sniff(path).detail["flavour"] == "arrow-ipc"


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_after_the_continuation_marker_are_binary(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(4096))
    assert sniff(write(tmp_path, "r.arrows", b"\xff\xff\xff\xff" + body)).format == "binary"
    # a plausible length and root offset, then noise: still no schema message
    noise = b"\xff\xff\xff\xff" + struct.pack("<iI", 168, 16) + body
    assert sniff(write(tmp_path, "n.arrows", noise)).format == "binary"
    legacy_like = struct.pack("<iI", 164, 16) + body
    assert sniff(write(tmp_path, "l.bin", legacy_like)).format == "binary"


def test_random_mutations_never_crash_the_sniffer() -> None:
    data = stream_bytes()
    rng = random.Random(3)
    for _ in range(3000):
        mutated = bytearray(data[:256])
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(8, 120)] = rng.randrange(256)
        found = stream_schema_message(bytes(mutated), len(data))
        assert found is None or found[0] == 8


@pytest.mark.parametrize("data", [
    b"\xff\xff\xff\xff",                               # the marker alone
    b"\xff\xff\xff\xff\xa8\x00",                       # cut inside the length
    b"\xff\xff\xff\xff\x00\x00\x00\x00",               # an end-of-stream marker with no schema before it
    b"\xff\xff\xff\xff\xff\xff\xff\xff" * 8,
    b"\xa4\x00\x00\x00",                               # a small little-endian integer alone
], ids=["marker", "cut-length", "eos-only", "all-ff", "small-int"])
def test_truncated_headers_are_not_streams(tmp_path: Path, data: bytes) -> None:
    assert sniff(write(tmp_path, "h.arrows", data)).format not in ("arrow", "csv")


def test_every_cut_of_the_schema_is_binary_or_a_damaged_stream(tmp_path: Path) -> None:
    data = stream_bytes()
    length = struct.unpack_from("<i", data, 4)[0]
    kinds = set()
    for cut in range(1, 8 + length):
        path = write(tmp_path, "cut.arrows", data[:cut])
        result = sniff(path)
        assert result.format in ("arrow", "binary"), (cut, result)
        if result.format == "arrow":
            assert result.detail["damaged"] is True
            with pytest.raises(KnownError, match="schema cannot be read"):
                open_table(str(path), "arrow")
        kinds.add(result.format)
    assert kinds == {"arrow", "binary"}  # too short to tell: binary; the message table seen: damaged
    assert sniff(write(tmp_path, "whole.arrows", data[:8 + length])).detail["damaged"] is False
