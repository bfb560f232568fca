"""A small SQLite tokenizer for editing the CREATE statements kept in ``sqlite_master``.

SQLite's own parser is not reachable from Python, and PRAGMAs do not report CHECK constraints,
collations or generated columns. A table rebuild therefore edits the original CREATE TABLE text
item by item (split at top-level commas), which keeps every clause it does not touch verbatim.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from storage.core.errors import UnsupportedError

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


@dataclass(frozen=True)
class Token:
    kind: str  # space, comment, string, quoted, word, other
    text: str
    start: int

    @property
    def ident(self) -> str | None:
        """The identifier this token names (unquoted), or None for strings, symbols and spaces."""
        if self.kind == "word":
            return self.text
        if self.kind == "quoted":
            body = self.text[1:-1]
            return body if self.text[0] == "[" else body.replace(self.text[0] * 2, self.text[0])
        return None


def tokens(sql: str) -> list[Token]:
    return [Token(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(sql)]


def mentions(sql: str, name: str) -> bool:
    """Whether ``sql`` uses ``name`` as an identifier (case-insensitive, quoted or not)."""
    low = name.lower()
    return any((t.ident or "").lower() == low for t in tokens(sql))


@dataclass
class CreateTable:
    """A CREATE TABLE statement split into its head, its column/constraint items and its tail."""

    head: str  # "CREATE TABLE name ("
    items: list[str]
    tail: str  # ") WITHOUT ROWID" and the like

    def column_name(self, item: str) -> str | None:
        """The column an item defines, or None for a table constraint."""
        first = next((t for t in tokens(item) if t.kind not in ("space", "comment")), None)
        if first is None or (first.kind == "word" and first.text.upper() in CONSTRAINT_WORDS):
            return None
        return first.ident if first.ident is not None else first.text

    def columns(self) -> list[str]:
        return [n for n in (self.column_name(i) for i in self.items) if n is not None]

    def index_of(self, column: str) -> int:
        low = column.lower()
        for pos, item in enumerate(self.items):
            name = self.column_name(item)
            if name is not None and name.lower() == low:
                return pos
        raise UnsupportedError(f"Column {column!r} is not in the table's definition")

    def render(self, new_head: str | None = None) -> str:
        return (new_head or self.head) + "\n  " + ",\n  ".join(self.items) + "\n" + self.tail


def split_create_table(sql: str) -> CreateTable:
    """Split ``CREATE TABLE x (...) tail``; refuse CREATE TABLE … AS SELECT and virtual tables."""
    toks = tokens(sql)
    words = [t.text.upper() for t in toks if t.kind == "word"][:3]
    if words[:2] == ["CREATE", "VIRTUAL"]:
        raise UnsupportedError("A virtual table's columns are defined by its module: it cannot be rebuilt")
    depth = 0
    open_at = close_at = -1
    cuts: list[int] = []
    for tok in toks:
        if tok.kind != "other":
            continue
        if tok.text == "(":
            depth += 1
            if depth == 1 and open_at < 0:
                open_at = tok.start
        elif tok.text == ")":
            depth -= 1
            if depth == 0 and open_at >= 0 and close_at < 0:
                close_at = tok.start
        elif tok.text == "," and depth == 1 and close_at < 0:
            cuts.append(tok.start)
    if open_at < 0 or close_at < 0:
        raise UnsupportedError("This table was created with CREATE TABLE … AS SELECT or its SQL "
                               "could not be read; it cannot be rebuilt")
    bounds = [open_at, *cuts, close_at]
    items = [sql[a + 1:b].strip() for a, b in itertools.pairwise(bounds)]
    return CreateTable(sql[:open_at + 1], items, sql[close_at:])


def head_named(create: CreateTable, quoted_name: str) -> str:
    """The head of ``create`` with the table's name replaced (``CREATE TABLE "new_x" (``)."""
    toks = tokens(create.head)
    significant = [t for t in toks if t.kind not in ("space", "comment")]
    # CREATE [TEMP] TABLE [IF NOT EXISTS] [schema .] name (
    name_at = len(significant) - 2
    start = significant[name_at].start
    if name_at >= 2 and significant[name_at - 1].text == ".":
        start = significant[name_at - 2].start
    keep = create.head[:start]
    return keep + quoted_name + " ("
