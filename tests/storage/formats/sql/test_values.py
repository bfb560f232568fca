"""Editors' storage helpers: field kinds, dates written back in their stored shape, error columns."""

from __future__ import annotations

import datetime

import pytest

from storage.formats.sql.values import (
    constraint_columns,
    field_kind,
    from_moment,
    parse_number,
    time_format,
    to_moment,
)


@pytest.mark.parametrize(("value", "decl", "moment"), [
    ("2024-01-05", "DATE", datetime.datetime(2024, 1, 5)),
    ("2024-01-05T10:11:12.123Z", "DATETIME", datetime.datetime(2024, 1, 5, 10, 11, 12, 123000)),
    ("2024-01-05 10:11", "TIMESTAMP", datetime.datetime(2024, 1, 5, 10, 11)),
    ("10:11:12", "TIME", datetime.datetime(2000, 1, 1, 10, 11, 12)),
    (1_700_000_000, "DATETIME", datetime.datetime(2023, 11, 14, 22, 13, 20)),
    (1_700_000_000_123, "TIMESTAMP", datetime.datetime(2023, 11, 14, 22, 13, 20, 123000)),
    (2460000.5, "DATE", datetime.datetime(2023, 2, 25)),
])
def test_moments_round_trip_in_their_stored_shape(value, decl, moment) -> None:
    fmt = time_format(value, decl)
    assert fmt is not None and to_moment(value, fmt) == moment
    stored = from_moment(moment, fmt)
    assert stored == value and type(stored) is type(value)
    later = from_moment(moment + datetime.timedelta(days=1, hours=1), fmt)
    assert type(later) is type(value) and later != value


def test_field_kinds_follow_the_declared_type_but_never_mangle_values() -> None:
    assert field_kind("INTEGER", 5) == "integer"
    assert field_kind("INTEGER", "abc") == "text"  # text in an INTEGER column stays text
    assert field_kind("REAL", 1.5) == "real" and field_kind("NUMERIC(10,2)", None) == "real"
    assert field_kind("DATE", "2020-01-01") == "date"
    assert field_kind("DATE", 1_700_000_000) == "datetime"  # Unix seconds hold a time too
    assert field_kind("DATETIME", "not a date") == "text"
    assert field_kind("TIME", None) == "time"
    assert field_kind("TEXT", b"\x00") == "blob" and field_kind("", 3) == "integer"


def test_numbers_parse_within_64_bits() -> None:
    assert parse_number("9223372036854775807", "integer") == 2**63 - 1
    assert parse_number("9223372036854775808", "integer") is None
    assert parse_number("1.5", "integer") is None and parse_number("1e3", "real") == 1000.0
    assert parse_number("nan", "real") is None


def test_constraint_errors_name_their_columns() -> None:
    cols = ["n", "na me", "qty", "a"]
    assert constraint_columns("NOT NULL constraint failed: t.na me (table 't')", "t", cols) == ["na me"]
    assert constraint_columns("UNIQUE constraint failed: t.n, t.a", "t", cols) == ["n", "a"]
    assert constraint_columns("CHECK constraint failed: qty > 0", "t", cols) == ["qty"]
    assert constraint_columns("cannot store TEXT value in INTEGER column t.a", "t", cols) == ["a"]
    assert constraint_columns("FOREIGN KEY constraint failed", "t", cols) == []
