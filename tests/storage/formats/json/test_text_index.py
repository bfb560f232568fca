"""The text view's text and node spans (storage.formats.json.text_index) and JSONPath queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.formats.json.doc import JsonEditError
from storage.formats.json.io import JsonFormat
from storage.formats.json.query import jsonpath_query
from storage.formats.json.text_index import find_span, image_of_text, path_at, serialize_for_view

scalars = st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=25)


def all_paths(value: Any, path: list[Any] | None = None) -> list[list[Any]]:
    path = path or []
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += all_paths(child, [*path, key])
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += all_paths(child, [*path, index])
    return out


def get(value: Any, path: list[Any]) -> Any:
    for key in path:
        value = value[key]
    return value


def node_from_span(data: bytes, span: tuple[int, int], path: list[Any], parent: Any) -> Any:
    text = data[span[0]:span[1]].decode()
    if path and isinstance(parent, dict):  # a member's span starts at its key
        key, end = json.JSONDecoder().raw_decode(text)
        assert key == path[-1]
        text = text[end:].lstrip().removeprefix(":")
    return json.loads(text)


@settings(max_examples=60, deadline=None)
@given(value=values, indent=st.sampled_from([2, 4, "\t"]))
def test_every_node_span_holds_that_node(value: Any, indent: Any) -> None:
    image = serialize_for_view(value, JsonFormat(indent=indent))
    assert json.loads(image.data) == value
    for path in all_paths(value):
        span = find_span(image, value, path)
        assert span is not None, path
        parent = get(value, path[:-1]) if path else None
        assert node_from_span(image.data, span, path, parent) == get(value, path)
        assert path_at(image, value, span[0]) == path  # a click on a node's text finds it


@settings(max_examples=40, deadline=None)
@given(records=st.lists(values, min_size=1, max_size=4))
def test_json_lines_spans(records: list[Any]) -> None:
    image = serialize_for_view(records, lines=True)
    for path in all_paths(records)[1:]:
        span = find_span(image, records, path)
        assert span is not None, path
        parent = get(records, path[:-1])
        assert node_from_span(image.data, span, path, parent) == get(records, path)


def test_lines_and_columns_of_text_made_elsewhere() -> None:
    image = image_of_text('{\n  "é": [\n    1\n  ]\n}')
    assert image.line_count == 5 and image.line(1) == '  "é": ['
    span = find_span(image, {"é": [1]}, ["é", 0])
    assert image.line_of(span[0]) == 2 and image.column_of(span[0]) == 4
    assert find_span(image, {"é": [1]}, ["missing"]) is None


def test_jsonpath_paths_filters_and_errors() -> None:
    doc = {"a": [{"x": 1}, {"x": 5, "y": {"z": 2}}], "b c": 3}
    assert jsonpath_query(doc, "$.a[*].x") == [["a", 0, "x"], ["a", 1, "x"]]
    assert jsonpath_query(doc, "$.a[?(@.x > 2)]") == [["a", 1]]
    assert jsonpath_query(doc, "$..z") == [["a", 1, "y", "z"]]
    assert jsonpath_query(doc, "$['b c']") == [["b c"]]
    assert jsonpath_query(doc, "$.a[-1]") == [["a", 1]]
    assert jsonpath_query(doc, "$.nothing") == []
    assert len(jsonpath_query({"n": list(range(50))}, "$.n[*]", limit=10)) == 10
    with pytest.raises(JsonEditError, match="not a JSONPath"):
        jsonpath_query(doc, "$.a[")


def test_diff_with_disk_compares_values_not_formatting(tmp_path) -> None:
    from storage.core.line_diff import MAX_OUTPUT_LINES, unified_diff
    from storage.formats.json.diff import diff_with_disk

    path = tmp_path / "doc.json"
    path.write_text('{"a": 1, "b": [1, 2]}')  # one line on disk
    same = diff_with_disk({"a": 1, "b": [1, 2]}, str(path), JsonFormat(indent=4), False)
    assert same.identical and same.text == ""
    changed = diff_with_disk({"a": 2, "b": [1, 2]}, str(path), JsonFormat(indent=4), False)
    assert changed.text.splitlines()[4:6] == ['-    "a": 2,', '+    "a": 1,']
    path.write_text('{"a": 1,,}')
    broken = diff_with_disk({"a": 1}, str(path), JsonFormat(), False)
    assert "does not open" in broken.note and '+{"a": 1,,}' in broken.text.splitlines()

    # big inputs: the common head is skipped (hunks keep the file's line numbers), output capped
    old = [f"line {i}" for i in range(200_000)]
    new = [*old[:150_000], "inserted", *old[150_000:]]
    result = unified_diff(old, new)
    assert "@@ -149998,6 +149998,7 @@" in result.text and result.added == 1
    huge = unified_diff(old, [f"other {i}" for i in range(200_000)])
    assert huge.truncated and len(huge.text.splitlines()) == MAX_OUTPUT_LINES + 1


@settings(max_examples=80, deadline=None)
@given(value=values, indent=st.sampled_from([2, "\t"]))
def test_text_written_in_pieces_is_the_text_written_at_once(value: Any, indent: Any) -> None:
    import msgspec

    from storage.formats.json import text_index as json_text_index

    whole = serialize_for_view(value, JsonFormat(indent=indent)).data
    one = msgspec.json.format(msgspec.json.encode(value), indent=1 if indent == "\t" else 2)
    assert whole == (json_text_index._tabs(one) if indent == "\t" else one)
    old = json_text_index.CHUNK, json_text_index.ONE_SHOT
    json_text_index.CHUNK, json_text_index.ONE_SHOT = 2, 3  # every path of the piecewise writer
    try:
        pieces = serialize_for_view(value, JsonFormat(indent=indent)).data
    finally:
        json_text_index.CHUNK, json_text_index.ONE_SHOT = old
    assert pieces == whole


def test_cancelled_text_is_dropped() -> None:
    big = {"rows": [[i, i] for i in range(50_000)]}
    assert serialize_for_view(big, JsonFormat(), cancel=lambda: True) is None
