"""Text and hex files in storage/: exact round trips, edits that touch only what changed, bad input."""

from __future__ import annotations

import codecs
import hashlib
import os
import socket
from pathlib import Path

import pytest

from storage.core.disk_stamp import sha256_file
from storage.core.errors import UnreadableError, WriteError
from storage.formats.text.file import decode_text, encode_text, load_text, save_text
from storage.formats.text.hex import ByteSource, HexBuffer, parse_hex, parse_offset
from storage.formats.text.pages import TextPager
from storage.inspect.fileinfo import file_info

SAMPLES = {
    "utf8": "naïve café\nsecond line\n".encode(),
    "utf8_bom": codecs.BOM_UTF8 + "naïve\r\ncafé\r\n".encode(),
    "utf16le": codecs.BOM_UTF16_LE + "héllo\nwörld €\n".encode("utf-16-le"),
    "utf16be": codecs.BOM_UTF16_BE + "héllo\r\nwörld €".encode("utf-16-be"),
    "latin1": "Grüße aus Köln, schöne Straße, naïve façade\nzweite Zeile\n".encode("latin-1"),
    "crlf": b"one\r\ntwo\r\nthree\r\n",
    "cr": b"one\rtwo\rthree",
    "mixed": b"a\r\nb\nc\rd\r\n\ne",
    "empty": b"",
    "no_newline": b"just one line",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_open_save_without_edits_is_byte_identical(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.txt"
    path.write_bytes(SAMPLES[name])
    content = load_text(str(path))
    assert not content.read_only
    save_text(str(path), content.text, content)
    assert path.read_bytes() == SAMPLES[name]


def test_detection_reports_encoding_bom_and_endings() -> None:
    assert decode_text(SAMPLES["utf8_bom"]).encoding_label() == "UTF-8 with BOM"
    assert decode_text(SAMPLES["utf16be"]).encoding == "utf-16-be"
    latin = decode_text(SAMPLES["latin1"])
    assert latin.encoding in ("cp1252", "latin-1") and "Köln" in latin.text
    mixed = decode_text(SAMPLES["mixed"])
    assert mixed.endings == "mixed" and mixed.counts == {"LF": 2, "CRLF": 2, "CR": 1}
    assert mixed.text == "a\nb\nc\nd\n\ne"
    assert decode_text(SAMPLES["crlf"]).endings == "CRLF"


def test_an_edit_changes_only_the_edited_lines_of_a_mixed_file() -> None:
    content = decode_text(SAMPLES["mixed"])
    lines = content.text.split("\n")
    lines[2] = "C!"
    assert encode_text("\n".join(lines), content) == b"a\r\nb\nC!\rd\r\n\ne"
    lines.insert(1, "new")  # new lines take the most common ending
    out = encode_text("\n".join(lines), content)
    assert out.startswith(b"a\r\n") and out.endswith(b"C!\rd\r\n\ne")


def test_an_edit_in_utf16_keeps_bom_and_crlf() -> None:
    content = decode_text(SAMPLES["utf16be"])
    out = encode_text(content.text.replace("wörld", "world"), content)
    assert out == codecs.BOM_UTF16_BE + "héllo\r\nworld €".encode("utf-16-be")


def test_changing_encoding_and_line_endings_on_save() -> None:
    content = decode_text(SAMPLES["crlf"])
    assert encode_text(content.text, content, newline="\n") == b"one\ntwo\nthree\n"
    out = encode_text(content.text, content, encoding="utf-16-le", bom=True)
    assert out == codecs.BOM_UTF16_LE + "one\r\ntwo\r\nthree\r\n".encode("utf-16-le")
    with pytest.raises(WriteError, match="cannot be written in ASCII"):
        encode_text("naïve", decode_text(b"x"), encoding="ascii")


def test_undecodable_bytes_are_read_only_and_never_saved(tmp_path: Path) -> None:
    data = b"good\n\xff\xfe bad \x81\n"
    content = decode_text(data, "utf-8")
    assert content.read_only and content.bad_offsets == [5, 6, 12]
    assert "\\xff" in content.text and "\\x81" in content.text
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(WriteError):
        save_text(str(path), content.text, content)
    assert path.read_bytes() == data


def test_paragraph_separator_makes_the_text_read_only() -> None:
    assert decode_text("a\u2029b".encode()).read_only


def test_hex_buffer_overwrites_undo_and_save(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    original = bytes(range(256)) * 4
    path.write_bytes(original)
    buffer = HexBuffer(str(path))
    buffer.set_byte(10, 0xAA)
    buffer.set_byte(1000, 0x00)
    assert buffer.read(8, 4) == bytes([8, 9, 0xAA, 11])
    assert buffer.find(b"\xaa\x0b") == 10
    buffer.set_byte(1000, original[1000])  # back to the original value: no overwrite left
    assert buffer.overlay == {10: 0xAA}
    assert path.read_bytes() == original  # nothing written before a save
    buffer.save_to(str(path))
    buffer.close()
    expected = bytearray(original)
    expected[10] = 0xAA
    assert path.read_bytes() == bytes(expected)


def test_byte_source_survives_the_file_shrinking(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(b"x" * 300_000)
    source = ByteSource(str(path))
    assert source.read(0, 4) == b"xxxx"
    os.truncate(path, 10)
    assert source.read(200_000, 100) == b""  # pread: fewer bytes, never SIGBUS
    assert source.short_read and source.changed_on_disk()
    source.close()


def test_sparse_10_gb_file_opens_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as handle:
        handle.truncate(10 * 2**30)
    buffer = HexBuffer(str(path))
    assert buffer.size == 10 * 2**30
    assert buffer.read(9 * 2**30, 16) == b"\0" * 16
    buffer.close()
    pager = TextPager(str(path))
    lines, _next = pager.lines(0, 3)  # one 64 KiB piece: no hang looking for a newline
    assert lines and lines[0][0] == 0
    pager.close()


def test_fifo_socket_missing_and_loops_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    server = socket.socket(socket.AF_UNIX)
    sock = tmp_path / "sock"
    server.bind(str(sock))
    try:
        for bad in (fifo, loop, sock, tmp_path / "missing", Path("/dev/zero")):
            with pytest.raises(UnreadableError):
                load_text(str(bad))
            with pytest.raises(UnreadableError):
                HexBuffer(str(bad))
            with pytest.raises(UnreadableError):
                sha256_file(str(bad))
    finally:
        server.close()
    assert file_info(str(fifo))["kind"] == "named pipe (FIFO)"


def test_pager_reads_lines_by_offset(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"".join(b"line %d\r\n" % i for i in range(1000)))
    pager = TextPager(str(path))
    lines, after = pager.lines(0, 3)
    assert [text for _o, text in lines] == ["line 0", "line 1", "line 2"]
    assert pager.line_start(after + 3) == after
    assert pager.previous_start(after, 2) == lines[1][0]
    pager.close()


def test_sha256_with_progress_and_cancel(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(9 * 2**20))
    seen: list[float] = []
    assert sha256_file(str(path), progress=seen.append) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert seen and seen[-1] == 1.0
    assert sha256_file(str(path), cancel=lambda: True) is None


def test_parse_hex_and_offsets() -> None:
    assert parse_hex("de ad 0xBE,ef") == b"\xde\xad\xbe\xef"
    assert parse_offset("0x1f") == parse_offset("1fh") == parse_offset("31") == 31
    with pytest.raises(ValueError):
        parse_hex("abc")


@pytest.mark.parametrize("text", ["café crème", "café crème\n", "Déjà vu, naïve façade"])
def test_a_short_latin1_text_falls_back_to_windows_1252_not_a_rare_code_page(monkeypatch, text) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    content = decode_text(text.encode("latin-1"))
    assert content.encoding == "cp1252" and content.text == text.replace("\r", "")
    assert content.guessed and "guessed" in content.how and not content.read_only


def test_an_unsure_guess_prefers_the_locale_encoding(monkeypatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "CP1251")
    content = decode_text("Москва".encode("cp1251"))
    assert (content.encoding, content.text, content.guessed) == ("cp1251", "Москва", True)
    assert "locale" in content.how


def test_a_sure_guess_is_kept_and_a_chosen_encoding_is_not_a_guess(monkeypatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "CP1252")
    russian = ("Москва — столица России, город федерального значения, административный центр "
               "Центрального федерального округа").replace("—", "-").encode("cp1251")
    assert decode_text(russian).encoding == "cp1251"
    chosen = decode_text("café".encode("latin-1"), "latin-1")
    assert chosen.encoding == "iso8859-1" and not chosen.guessed
    assert not decode_text("café".encode()).guessed


def test_inspect_and_csv_import_guess_as_the_editor_does(monkeypatch, tmp_path) -> None:
    from storage.formats.sql.csv_import import detect_encoding
    from storage.inspect.report import inspect_path

    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    path = tmp_path / "menu.txt"
    path.write_bytes("café crème\n".encode("latin-1"))
    report = inspect_path(path)
    assert report["summary"]["encoding"] == "cp1252" == load_text(str(path)).encoding
    assert any("guessed" in f["message"] for f in report["findings"])
    assert detect_encoding("name\ncafé crème\n".encode("latin-1")) == "cp1252"
