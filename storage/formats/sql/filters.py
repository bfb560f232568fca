"""A grid's filters in SQL: the operators, typed filter values, and the WHERE clause of one filter
(with ``contains`` as a LIKE whose value stays a bound parameter).

Used by :class:`storage.formats.sql.query.Query` (a server's statements, SQLAlchemy imported there);
:class:`storage.formats.sql.sqlite_query.SqliteQuery` writes the same clauses for SQLite as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported by the functions that build a server's clauses
    from sqlalchemy.sql.elements import ColumnElement

OPS = ("contains", "=", "!=", "<", ">", "between", "is null", "not null")


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: str = ""
    value2: str = ""




def coerce(text: str) -> Any:
    """A typed filter value: an int or float when it reads as one, else the text."""
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    try:
        return float(stripped) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", stripped) else text
    except ValueError:
        return text


class Params:
    """Bound parameters with unique names, collected while a statement is built.

    On a server the parameters are untyped: PostgreSQL then reads a filter's text as the
    column's type (``int_col > '5'``) instead of failing on ``text = bigint``.
    """

    def __init__(self, typed: bool = True) -> None:
        self.values: dict[str, Any] = {}
        self.typed = typed

    def bind(self, value: Any) -> Any:
        from sqlalchemy import bindparam
        from sqlalchemy.types import NullType

        name = f"p{len(self.values)}"
        self.values[name] = value
        return bindparam(name, value) if self.typed else bindparam(name, value, type_=NullType())


def filter_clause(col: ColumnElement, flt: Filter, params: Params) -> ColumnElement | None:
    op = flt.op
    if op == "is null":
        return col.is_(None)
    if op == "not null":
        return col.is_not(None)
    if op == "contains":
        if flt.value == "":
            return None
        return like_clause(col, like_pattern(params.bind(escape_like(flt.value))), params.typed)
    if flt.value == "" and op != "=":
        return None
    value = params.bind(coerce(flt.value) if params.typed else flt.value)
    if op == "=":
        return col == value
    if op == "!=":
        return col != value
    if op == "<":
        return col < value
    if op == ">":
        return col > value
    if op == "between":
        return col.between(value, params.bind(coerce(flt.value2) if params.typed else flt.value2))
    raise ValueError(f"unknown filter operator {op!r}")


def like_pattern(value: Any) -> ColumnElement:
    """'%' + value + '%' as the dialect concatenates strings (``||`` on SQLite and PostgreSQL,
    ``concat()`` on MySQL/MariaDB, where ``||`` means OR); the value stays a bound parameter."""
    from sqlalchemy import String, literal_column

    percent = literal_column("'%'", type_=String)
    return percent + value + percent


def like_clause(col: ColumnElement, pattern: Any, sqlite: bool) -> ColumnElement:
    """Case-insensitive ``contains`` as SQLite's LIKE is; a server compares the value as text."""
    from sqlalchemy import Text, cast

    if sqlite:
        return col.like(pattern, escape="\\")
    return cast(col, Text).ilike(pattern, escape="\\")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
