"""The JSON tab's storage layer: strict parsing, located errors, saving, the edit API."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.core.errors import WriteError
from storage.formats.json.doc import (
    JsonDoc,
    JsonEditError,
    convert,
    parse_number,
    resolve_query,
    to_dotted,
    to_pointer,
)
from storage.formats.json.io import (
    JsonFormat,
    JsonParseError,
    find_duplicate_keys,
    read_json,
    read_jsonl,
    write_json,
)
from storage.formats.json.search import count_nodes, search
from tests.conftest import corpus_dir


def _suite_files(prefix: str) -> list[str]:
    from tests.conftest import CORPUS

    folder = CORPUS / "JSONTestSuite" / "test_parsing"
    if not folder.is_dir():
        return ["absent"]
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix))


@pytest.mark.parametrize("name", _suite_files("y_"))
def test_suite_accepts_valid_files(name: str) -> None:
    path = corpus_dir("JSONTestSuite", "test_parsing") / name
    load = read_json(str(path))
    assert json.loads(path.read_bytes()) == load.value


@pytest.mark.parametrize("name", _suite_files("n_"))
def test_suite_rejects_invalid_files_with_a_location(name: str) -> None:
    path = corpus_dir("JSONTestSuite", "test_parsing") / name
    with pytest.raises(JsonParseError) as info:
        read_json(str(path))
    assert info.value.location.line is not None and info.value.location.line >= 1
    assert info.value.location.column is not None


@pytest.mark.parametrize("name", _suite_files("i_"))
def test_suite_implementation_defined_files_never_crash(name: str) -> None:
    path = corpus_dir("JSONTestSuite", "test_parsing") / name
    try:
        read_json(str(path))
    except JsonParseError as exc:
        assert exc.location.line is not None


def test_error_has_line_column_and_snippet(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n  "b": [1, 2,, 3]\n}\n')
    with pytest.raises(JsonParseError) as info:
        read_json(str(path))
    error = info.value
    assert (error.location.line, error.location.column) == (3, 14)
    assert '"b": [1, 2,, 3]' in error.snippet and error.snippet.endswith("^")
    assert error.text.startswith("{\n")


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"), (b" \n\t  \n", "empty"), (b'{"a": "\xff"}', "UTF-8"),
    (b"[NaN]", "NaN"), (b"[1e99999]", "too large"), (b"[Infinity]", "Infinity"),
])
def test_bad_inputs_are_reported(tmp_path, content: bytes, words: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(JsonParseError) as info:
        read_json(str(path))
    assert words.lower() in str(info.value).lower()
    assert path.read_bytes() == content  # never modified


def test_million_level_nesting_is_a_located_error_not_a_crash(tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 1_000_000 + "]" * 1_000_000)
    with pytest.raises(JsonParseError) as info:
        read_json(str(path))
    assert "nesting too deep" in info.value.message
    assert info.value.location.line == 1 and info.value.location.column == 901


def test_deep_nesting_in_a_worker_thread_is_also_an_error(tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    errors = []

    def run() -> None:
        try:
            read_json(str(path))
        except JsonParseError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert errors and "nesting" in errors[0].message


def test_lone_surrogates_open_and_save_as_escapes(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b'["\\ud800", "ok \\u00e9"]')
    load = read_json(str(path))
    assert load.value == ["\ud800", "ok é"]
    write_json(str(path), load.value, JsonFormat(indent=None, compact=True, trailing_newline=False))
    assert path.read_bytes() == '["\\ud800","ok é"]'.encode()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_encodings_with_bom_open_and_save_the_same_way(tmp_path, encoding: str) -> None:
    path = tmp_path / "e.json"
    path.write_bytes('{"k": "é ✓"}\n'.encode(encoding))
    load = read_json(str(path))
    assert load.value == {"k": "é ✓"} and load.fmt.bom
    write_json(str(path), load.value, load.fmt)
    assert path.read_bytes() == '{"k": "é ✓"}\n'.encode(encoding)


def test_big_integers_exact_and_key_order_kept(tmp_path) -> None:
    path = tmp_path / "n.json"
    text = '{\n    "z": 123456789012345678901234567890,\n    "a": -18446744073709551617,\n    "m": 1.5\n}\n'
    path.write_text(text)
    load = read_json(str(path))
    assert list(load.value) == ["z", "a", "m"]
    assert load.value["z"] == 123456789012345678901234567890
    assert load.fmt.indent == 4 and load.fmt.trailing_newline
    write_json(str(path), load.value, load.fmt)
    assert path.read_text() == text


def test_compact_and_no_trailing_newline_are_kept(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"a":[1,2],"b":"ü"}')
    load = read_json(str(path))
    write_json(str(path), load.value, load.fmt)
    assert path.read_text(encoding="utf-8") == '{"a":[1,2],"b":"ü"}'


def test_nan_is_refused_on_save_and_the_file_is_untouched(tmp_path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[1]")
    with pytest.raises(WriteError, match="NaN or Infinity"):
        write_json(str(path), [float("nan")], JsonFormat())
    assert path.read_text() == "[1]"


def test_save_keeps_permissions(tmp_path) -> None:
    path = tmp_path / "p.json"
    path.write_text("[1]")
    os.chmod(path, 0o640)
    write_json(str(path), [2], JsonFormat())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_duplicate_keys_found_by_the_second_pass(tmp_path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"a": 1, "b": {"x": 1, "x": 2}, "a": 3}')
    load = read_json(str(path))
    assert load.value == {"a": 3, "b": {"x": 2}}
    assert sorted(find_duplicate_keys(str(path))) == ["a", "x"]


def test_jsonl_reports_bad_lines_and_writes_them_back(tmp_path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"id": 1}\n{"id": \n\n{"id": 3}\n')
    load = read_jsonl(str(path))
    assert load.records == [{"id": 1}, {"id": 3}]
    assert [n for n, _ in load.bad] == [2]
    doc = JsonDoc.from_load(load)
    doc.set_value([1, "id"], 4)
    doc.save(str(path))
    assert path.read_text() == '{"id":1}\n{"id": \n{"id":4}\n'


def test_jsonl_with_only_bad_lines_is_an_error(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n")
    with pytest.raises(JsonParseError, match="line 1"):
        read_jsonl(str(path))


# -- round trips ---------------------------------------------------------------------------------

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
_values = st.recursive(_scalars, lambda children: st.lists(children, max_size=5)
                       | st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=30)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=_values, indent=st.sampled_from([None, 0, 2, 4, "\t"]), compact=st.booleans())
def test_round_trip_keeps_values_order_and_big_ints(tmp_path, value, indent, compact) -> None:
    path = tmp_path / "r.json"
    write_json(str(path), value, JsonFormat(indent=indent, compact=compact))
    again = read_json(str(path)).value
    assert again == value
    assert json.dumps(again) == json.dumps(value)  # same key order, same exact integers


# -- edit API ----------------------------------------------------------------------------------------

def test_edit_api_and_its_inverses() -> None:
    doc = JsonDoc({"a": 1, "b": [1, 2, 3], "c": {"y": 1, "x": 2}})
    assert doc.set_value(["a"], "one") == 1
    doc.insert(["b"], 1, 1, "new")
    assert doc.root["b"] == [1, "new", 2, 3]
    assert doc.remove(["b"], 1) == (1, "new")
    doc.insert([], 1, "between", True)
    assert list(doc.root) == ["a", "between", "b", "c"]
    with pytest.raises(JsonEditError):
        doc.insert([], 0, "a", 0)
    assert doc.rename([], 1, "renamed") == "between"
    assert list(doc.root) == ["a", "renamed", "b", "c"]
    doc.move([], 0, 3)
    assert list(doc.root) == ["renamed", "b", "c", "a"]
    old = doc.reorder(["c"], ["x", "y"])
    assert old == ["y", "x"] and list(doc.root["c"]) == ["x", "y"]


def test_paths_and_queries() -> None:
    root = {"a/b": [{"c~": 1}], "store": {"books": [0, {"title": "T"}]}, "x y": 1}
    assert to_pointer(["a/b", 0, "c~"]) == "/a~1b/0/c~0"
    assert to_dotted(["store", "books", 1, "title"]) == "$.store.books[1].title"
    assert to_dotted(["x y"]) == '$["x y"]'
    assert resolve_query(root, "/a~1b/0/c~0") == ["a/b", 0, "c~"]
    assert resolve_query(root, "$.store.books[1].title") == ["store", "books", 1, "title"]
    assert resolve_query(root, '$["x y"]') == ["x y"]
    with pytest.raises(JsonEditError):
        resolve_query(root, "/store/books/7")


def test_convert_and_numbers() -> None:
    assert convert("12", "number") == 12 and convert(3, "string") == "3"
    assert convert([1, 2], "object") == {"0": 1, "1": 2} and convert({"a": 1}, "array") == [1]
    assert convert(1, "null") is None and convert(0, "boolean") is False
    assert parse_number("123456789012345678901234567890") == 123456789012345678901234567890
    assert parse_number("1e400") is None and parse_number("01") is None


def test_search_plain_regex_and_limits() -> None:
    root = {"name": "Ada", "list": [{"name": "Grace"}, "adams"], "n": 42}
    assert search(root, "ada") == [["name"], ["list", 1]]
    assert search(root, "name", values=False) == [["name"], ["list", 0, "name"]]
    assert search(root, r"^\d+$", regex=True) == [["n"]]
    assert search(root, "a", limit=1) == [["name"]]
    assert count_nodes(list(range(10)), 1000) == 11


def test_inspect_uses_the_same_strict_rules(tmp_path) -> None:
    from storage.inspect.report import inspect_path

    path = tmp_path / "huge.json"
    path.write_text('{"a": [1,\n 1e99999]}')
    report = inspect_path(str(path))
    assert report["error"]["line"] == 2 and "too large" in report["error"]["message"]
    path.write_text('{"a": 1, "a": 2, "b": [[[]]]}')
    summary = inspect_path(str(path))["summary"]
    assert summary["duplicate_keys"] == ["a"] and summary["max_depth"] == 4


def test_gc_paused_restores_the_collector_and_can_freeze() -> None:
    import gc

    from storage.core.gc_pause import gc_paused

    gc.unfreeze()  # a big document an earlier test opened froze its objects (the accepted cost)
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        with gc_paused(freeze=True):
            kept = [{"a": [i]} for i in range(100)]
        assert gc.get_freeze_count() > 0 and gc.isenabled()
    finally:
        gc.unfreeze()
    with pytest.raises(ValueError), gc_paused(freeze=True):
        raise ValueError
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    del kept


def test_inspect_and_the_editor_accept_the_same_files() -> None:
    from storage.inspect.report import inspect_path

    folder = corpus_dir("JSONTestSuite", "test_parsing")
    disagree = []
    for path in sorted(folder.iterdir()):
        report = inspect_path(str(path))
        if report.get("format") != "json":
            continue  # sniffed as something else (text, binary): inspect does not parse it as JSON
        try:
            read_json(str(path))
            editor_ok = True
        except JsonParseError:
            editor_ok = False
        if editor_ok != (not report.get("error")):
            disagree.append(path.name)
    assert disagree == []


def _not_utf8_suite_files() -> list[str]:
    """The JSONTestSuite files whose bytes are not valid UTF-8 (and have no BOM)."""
    from tests.conftest import CORPUS

    folder = CORPUS / "JSONTestSuite" / "test_parsing"
    if not folder.is_dir():
        return ["absent"]
    names = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if data[:2] in (b"\xff\xfe", b"\xfe\xff") or "utf16" in path.name:
            continue  # UTF-16: another encoding, not broken UTF-8
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            names.append(path.name)
    return names


@pytest.mark.parametrize("name", _not_utf8_suite_files())
def test_invalid_utf8_is_located_by_line_column_and_byte_in_the_window_and_inspect(name: str) -> None:
    from storage.inspect.report import inspect_path, render_text

    path = corpus_dir("JSONTestSuite", "test_parsing") / name
    data = path.read_bytes()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = bom + exc.start
    before = data[bom:bad].decode("utf-8")
    line, column = before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1
    with pytest.raises(JsonParseError) as info:  # what the window shows
        read_json(str(path))
    where = info.value.location
    assert (where.line, where.column, where.offset) == (line, column, bad)
    assert f"byte {bad}" in str(info.value) and f"line {line}, column {column}" in str(info.value)
    assert info.value.snippet.endswith("^")
    report = inspect_path(path)  # and what inspect says
    assert report["error"]["line"] == line and report["error"]["column"] == column
    assert report["error"]["offset"] == bad
    assert f"line {line}, column {column}, offset {bad}" in render_text(report)


def test_invalid_utf8_after_multibyte_characters_counts_columns_in_characters(tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes('{"a": 1,\n "é€": "\xff"}'.encode().replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(JsonParseError) as info:
        read_json(str(path))
    assert (info.value.location.line, info.value.location.column) == (2, 9)
    assert info.value.location.offset == path.read_bytes().index(b"\xff")
