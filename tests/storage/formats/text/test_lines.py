"""storage.formats.text.lines: the line buffer behind the big-file editor, loading and saving through it."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.formats.text.file import decode_text
from storage.formats.text.lines import LineBuffer, end_of, load_lines, save_lines
from tests.storage.formats.text.test_text import SAMPLES

TEXT = st.text(alphabet="ab\n\t é\x0c\u2028", max_size=40)


def test_chunks_give_back_the_text_and_its_lines() -> None:
    text = "".join(f"line {i}\n" for i in range(100)) + "last"
    buffer = LineBuffer.from_text(text, chunk=17)
    assert len(buffer) == 101
    assert buffer.line(0) == "line 0" and buffer.line(57) == "line 57" and buffer.line(100) == "last"
    assert buffer.text() == text
    assert buffer.lines == text.split("\n")
    assert LineBuffer.from_text("a\n").lines == ["a", ""]
    assert LineBuffer.from_text("").lines == [""]
    # Form feeds and U+2028 are characters of a line, not line breaks (unlike str.splitlines).
    assert LineBuffer.from_text("a\x0cb\u2028c\nd").lines == ["a\x0cb\u2028c", "d"]


def _pos(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n"), len(before) - (before.rfind("\n") + 1)


@settings(max_examples=120, deadline=None)
@given(start=TEXT, edits=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), TEXT),
                                  max_size=8), chunk=st.integers(1, 12))
def test_edits_match_plain_string_edits_and_undo(start: str, edits, chunk: int) -> None:
    buffer = LineBuffer.from_text(start, chunk=chunk)
    model = start
    for a, b, inserted in edits:
        a, b = sorted((min(a, len(model)), min(b, len(model))))
        p0, p1 = _pos(model, a), _pos(model, b)
        before = buffer.text()
        removed = buffer.delete_range(*p0, *p1)
        assert removed == model[a:b]
        end = buffer.insert_text(*p0, inserted)
        model = model[:a] + inserted + model[b:]
        assert buffer.text() == model and len(buffer) == model.count("\n") + 1
        assert end == end_of(*p0, inserted) == _pos(model, a + len(inserted))
        # The inverse, as an undo command does it.
        buffer.delete_range(*p0, *end)
        buffer.insert_text(*p0, removed)
        assert buffer.text() == before
        buffer.delete_range(*p0, *p1)
        buffer.insert_text(*p0, inserted)


def test_find_wraps_both_ways_and_skips_empty_matches() -> None:
    text = "".join(f"row {i} {'hit' if i % 30 == 7 else 'miss'}\n" for i in range(100))
    buffer = LineBuffer.from_text(text, chunk=64)
    hit = re.compile("hit")
    assert buffer.find(hit, 0, 0)[:3] == (7, 6, 9)
    assert buffer.find(hit, 7, 6)[:3] == (7, 6, 9)  # a match right at the caret
    assert buffer.find(hit, 7, 9)[:3] == (37, 7, 10)
    assert buffer.find(hit, 98, 0)[:3] == (7, 6, 9)  # wrapped to the top
    assert buffer.find(hit, 37, 7, backward=True)[:3] == (7, 6, 9)
    assert buffer.find(hit, 37, 10, backward=True)[:3] == (37, 7, 10)
    assert buffer.find(hit, 7, 6, backward=True)[:3] == (97, 7, 10)  # wrapped to the bottom
    assert buffer.find(re.compile("x*"), 0, 0) is None
    assert buffer.find(re.compile("absent"), 50, 0) is None
    assert buffer.find(re.compile(r"^row 5\b"), 0, 3)[:3] == (5, 0, 5)  # ^ is a line start
    assert buffer.find(re.compile(r"\Arow 6\b"), 0, 3)[:3] == (6, 0, 5)
    assert buffer.find(re.compile(r"(?<!\n)row 8\b"), 0, 3)[:3] == (8, 0, 5)


def test_replace_all_reports_the_lines_it_changes() -> None:
    buffer = LineBuffer.from_text("a1 a2\nb\na3\n", chunk=3)
    pattern = re.compile(r"a(\d)")
    changes, count = buffer.replace_all(pattern, lambda m: f"<{m.group(1)}>")
    assert count == 3 and changes == {0: "<1> <2>", 2: "<3>"}
    old = buffer.set_lines(changes)
    assert buffer.text() == "<1> <2>\nb\n<3>\n"
    buffer.set_lines(old)
    assert buffer.text() == "a1 a2\nb\na3\n"
    # A match across a line end is not a match: those chunks are replaced line by line.
    buffer = LineBuffer.from_text("a\nb a b\n\\1 x", chunk=4)
    changes, count = buffer.replace_all(re.compile(r"a\s+b"), "\\1")
    assert (changes, count) == ({1: "b \\1"}, 1)  # literal text: no group references
    changes, count = buffer.replace_all(re.compile(r"x*"), "y")
    assert (changes, count) == ({2: "\\1 y"}, 1)  # empty matches are skipped


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_load_lines_agrees_with_decode_text_and_saves_identical_bytes(tmp_path: Path,
                                                                       name: str) -> None:
    path = tmp_path / f"{name}.txt"
    path.write_bytes(SAMPLES[name])
    content, buffer = load_lines(str(path))
    expected = decode_text(SAMPLES[name])
    assert buffer.text() == expected.text
    for field in ("encoding", "bom", "endings", "counts", "newline", "how", "read_only"):
        assert getattr(content, field) == getattr(expected, field), field
    fresh = save_lines(str(path), buffer.snapshot(), content)
    assert path.read_bytes() == SAMPLES[name]
    assert fresh.endings == expected.endings and fresh.text == ""


def test_fast_path_leaves_separators_and_bad_bytes_to_decode_text(tmp_path: Path) -> None:
    path = tmp_path / "odd.txt"
    path.write_bytes("a\u2029b\n".encode())
    content, _buffer = load_lines(str(path))
    assert "U+2029" in content.read_only
    path.write_bytes(b"ok\n\xff\xfe bad\n")
    content, buffer = load_lines(str(path), "utf-8")
    assert content.read_only and buffer.line(1).startswith("\\xff")
    path.write_bytes(codecs.BOM_UTF8 + b"x\n")
    content, buffer = load_lines(str(path))
    assert content.bom == codecs.BOM_UTF8 and buffer.lines == ["x", ""]


def test_save_after_an_edit_changes_only_that_line(tmp_path: Path) -> None:
    original = b"".join(b"line %d\r\n" % i for i in range(50)) + b"tail\n" + b"x\r"
    path = tmp_path / "mixed.txt"
    path.write_bytes(original)
    content, buffer = load_lines(str(path))
    buffer.insert_text(20, 4, " edited")
    buffer.insert_text(30, 0, "new line\n")
    save_lines(str(path), buffer.snapshot(), content)
    expected = original.replace(b"line 20\r\n", b"line edited 20\r\n").replace(
        b"line 30\r\n", b"new line\r\nline 30\r\n")
    assert path.read_bytes() == expected
