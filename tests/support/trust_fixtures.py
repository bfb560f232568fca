"""Classes the trusted-load tests pickle; the child imports them through ``extra_path``."""

from __future__ import annotations

import enum
from collections import namedtuple


class Point:
    """A plain object with a ``__dict__``."""

    def __init__(self, x: int, y: int, tags: list[str]) -> None:
        self.x = x
        self.y = y
        self.tags = tags

    def __repr__(self) -> str:
        return f"Point({self.x}, {self.y})"


class Slotted:
    """An object whose state lives in ``__slots__`` (one name-mangled)."""

    __slots__ = ("__secret", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.__secret = 42


class BadRepr:
    """An object whose ``repr`` raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Payload:
    """Unpickling it runs ``code`` (only ever pickled in tests)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


Pair = namedtuple("Pair", "left right")


class Color(enum.IntEnum):
    RED = 1


class Tag(str):
    """A str subclass with an attribute."""


class Liar:
    """Claims to be a dict (as mocks and proxies do) but is not one."""

    @property
    def __class__(self):
        return dict
