"""A tree of Python values read safely from a pickle, edited by path (the Objects tab's document).

The values are what ``pickle_safe`` made: plain containers and scalars, a few rebuilt types
(datetime, Decimal, numpy arrays) and labelled nodes (``CallNode`` and friends) that are never
called. Edits go by path, like ``JsonDoc``: a path is the keys from the root — dict keys as
they are, positions in lists, tuples and sets, part names ("args", "state") in a call node.
Tuples and frozensets cannot change, so an edit inside one rebuilds it and puts the new one
in its parent, up to the first mutable container.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import reprlib
from collections.abc import Sequence
from itertools import islice
from typing import Any

from storage.core.errors import KnownError, UnsupportedError
from storage.formats.objects.pickle.nodes import CallNode, CostlyKey, PersistentNode

Path = Sequence[Any]
SEQUENCES = (list, tuple)
SETS = (set, frozenset)


class ObjectEditError(KnownError):
    """An edit that the value at the path cannot take."""


# -- ints too long for str(): Python refuses more than 4,300 digits (int_max_str_digits) -----
HUGE_INT_BITS = 14_000  # about 4,200 digits: str() still works below this
DECIMAL_DIGITS_SHOWN = 50_000  # above this the digits are given in hex (linear time)


def is_huge_int(value: Any) -> bool:
    return type(value) is int and value.bit_length() > HUGE_INT_BITS


def _decimal(value: int) -> str:
    """Decimal digits of a non-negative int of any size, in pieces str() accepts."""
    if value.bit_length() <= HUGE_INT_BITS:
        return str(value)
    half = int(value.bit_length() * 0.30103) // 2
    high, low = divmod(value, 10**half)
    return _decimal(high) + _decimal(low).zfill(half)


def int_digit_count(value: int) -> int:
    """How many decimal digits ``value`` has (without its sign), from its bit length."""
    value = abs(value)
    guess = int((value.bit_length() - 1) * 0.30102999566398120) + 1
    return guess + 1 if value >= 10**guess else guess


def int_summary(value: int) -> str:
    """'int of 5,000 digits' for an int too long to print in a cell."""
    sign = "negative " if value < 0 else ""
    return f"{sign}int of {int_digit_count(value):,} digits"


def int_full_text(value: int) -> str:
    """All the digits: decimal up to ``DECIMAL_DIGITS_SHOWN``, else hexadecimal ('0x…')."""
    sign = "-" if value < 0 else ""
    if int_digit_count(value) <= DECIMAL_DIGITS_SHOWN:
        return sign + _decimal(abs(value))
    return sign + hex(abs(value))


def int_text(value: int) -> str:
    """str(value), or its summary when it is too long for str()."""
    return int_summary(value) if is_huge_int(value) else str(value)


def parse_int(text: str) -> int:
    """An int from decimal text of any length (int() refuses over 4,300 digits), or 0x/0o/0b."""
    text = text.strip().replace("_", "")
    if text[:2].lower() in ("0x", "0o", "0b") or text[1:3].lower() in ("0x", "0o", "0b"):
        return int(text, 0)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if not digits.isdigit() or not digits.isascii():
        return int(text)  # raises ValueError with Python's message
    value = 0
    for start in range(0, len(digits), 4000):
        chunk = digits[start:start + 4000]
        value = value * 10**len(chunk) + int(chunk)
    return sign * value


class _ShortRepr(reprlib.Repr):
    """reprlib with huge ints summarised (repr() would raise) and nodes by their label."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxtuple, self.maxlist, self.maxdict, self.maxset = 4, 8, 8, 6, 8
        self.maxfrozenset, self.maxstring, self.maxother, self.maxlong = 8, 80, 80, 80

    def repr_int(self, value: int, level: int) -> str:
        return f"<{int_summary(value)}>" if is_huge_int(value) else super().repr_int(value, level)

    def repr_instance(self, value: Any, level: int) -> str:
        label = getattr(value, "label", None)
        if isinstance(value, CallNode | PersistentNode | CostlyKey) and callable(label):
            return f"<{label()}>"
        return super().repr_instance(value, level)


_SHORT_REPR = _ShortRepr()


def short_repr(value: Any) -> str:
    """A bounded repr for labels: nested and shared containers are cut, so it never explodes."""
    return _SHORT_REPR.repr(value)


def repr_parts(value: Any) -> list[tuple[Any, Any]]:
    """A trusted load's Repr: its built-in value (if any) and its attributes, as children."""
    parts: list[tuple[Any, Any]] = []
    if value.value is not None:
        parts.append(("(value)", value.value))
    parts.extend(value.attributes.items())
    return parts


def is_repr(value: Any) -> bool:
    return type(value).__name__ == "Repr" and type(value).__module__ == "storage.formats.objects.trusted.load"


def children_of(value: Any) -> list[tuple[Any, Any]] | None:
    """(key, child) pairs for a container or node, None for a leaf (used for small containers)."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, SEQUENCES):
        return list(enumerate(value))
    if isinstance(value, SETS):
        return list(enumerate(value))
    if isinstance(value, CallNode | PersistentNode | CostlyKey):
        return value.parts()
    if is_repr(value):
        return repr_parts(value)
    if is_huge_int(value):
        return huge_int_parts(value)
    return None


def huge_int_parts(value: int) -> list[tuple[Any, Any]]:
    """The one child of a huge int: its digits, made when the user expands it."""
    name = "hex digits" if int_digit_count(value) > DECIMAL_DIGITS_SHOWN else "digits"
    return [(name, int_full_text(value))]


def child_count(value: Any) -> int:
    if isinstance(value, dict | list | tuple | set | frozenset):
        return len(value)
    if isinstance(value, CallNode | PersistentNode | CostlyKey):
        return len(value.parts())
    if is_repr(value):
        return len(value.attributes) + (value.value is not None)
    return 1 if is_huge_int(value) else 0


def child(value: Any, key: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return value[key]
    if isinstance(value, SETS):
        return next(islice(iter(value), key, None))
    if isinstance(value, CallNode | PersistentNode | CostlyKey) or is_repr(value):
        for name, part in (value.parts() if not is_repr(value) else repr_parts(value)):
            if name == key:
                return part
    if is_huge_int(value):
        for name, part in huge_int_parts(value):
            if name == key:
                return part
    raise KeyError(key)


def type_label(value: Any) -> str:
    """What the Type column shows: Python's name for the type, with the size of containers."""
    if isinstance(value, CallNode):
        return {"reduce": "call", "newobj": "object", "newobj_ex": "object", "inst": "object",
                "obj": "object"}.get(value.kind, "call")
    if isinstance(value, PersistentNode):
        return "persistent id"
    if isinstance(value, type):
        return "global"
    if is_repr(value):
        return value.type_qualname
    name = type(value).__name__
    if type(value).__module__ not in ("builtins", "datetime", "decimal", "collections"):
        name = f"{type(value).__module__}.{name}"
    if isinstance(value, dict | list | tuple | set | frozenset):
        return f"{name} ({len(value):,})"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{name} {value.dtype} {tuple(value.shape)}"
    return name


# -- typed edits of scalars -------------------------------------------------------------------
EDIT_TYPES = ("str", "int", "float", "bool", "None", "bytes", "complex", "Decimal", "datetime",
              "date", "list", "tuple", "dict", "set")


def parse_scalar(kind: str, text: str) -> Any:
    """``text`` read as a value of type ``kind``; ObjectEditError with the reason otherwise."""
    text = str(text)
    try:
        if kind == "str":
            return text
        if kind == "int":
            return parse_int(text)
        if kind == "float":
            return float(text.strip())
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError("type true or false")
        if kind == "None":
            return None
        if kind == "bytes":
            value = ast.literal_eval(text) if text.strip()[:2] in ("b'", 'b"') else text.encode("utf-8")
            if not isinstance(value, bytes):
                raise ValueError("not a bytes literal")
            return value
        if kind == "complex":
            return complex(text.strip().replace(" ", ""))
        if kind == "Decimal":
            return decimal.Decimal(text.strip())
        if kind == "datetime":
            return dt.datetime.fromisoformat(text.strip())
        if kind == "date":
            return dt.date.fromisoformat(text.strip())
        if kind in ("list", "tuple", "dict", "set"):
            return {"list": list, "tuple": tuple, "dict": dict, "set": set}[kind]()
    except (ValueError, SyntaxError, decimal.InvalidOperation, ArithmeticError) as exc:
        raise ObjectEditError(f"{text!r} is not a valid {kind}: {exc}") from None
    raise ObjectEditError(f"unknown type {kind!r}")


def kind_of(value: Any) -> str | None:
    """The EDIT_TYPES name that edits ``value`` in place, or None when it is not a scalar we edit."""
    for kind, cls in (("bool", bool), ("int", int), ("float", float), ("complex", complex),
                      ("str", str), ("bytes", bytes), ("Decimal", decimal.Decimal),
                      ("datetime", dt.datetime), ("date", dt.date)):
        if type(value) is cls:
            return kind
    return "None" if value is None else None


def edit_text(value: Any) -> str:
    """The text an editor starts with for a scalar."""
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if type(value) is int:
        return int_full_text(value)
    if isinstance(value, dict | list | tuple | set | frozenset | CostlyKey):
        return short_repr(value)  # str() of a shared nested tuple would never end
    return "" if value is None else str(value)


def parse_key(text: str, old: Any) -> Any:
    """A dict key typed by the user: text when the old key was text, else a Python literal if
    it reads as one (``3``, ``(1, 2)``), else the text itself."""
    if isinstance(old, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    try:
        hash(value)
    except TypeError:
        return text
    return value


class ObjectDoc:
    """The value tree of one pickle (or several stacked: ``root`` is then their list)."""

    def __init__(self, root: Any, protocol: int | None, *, stacked: bool = False,
                 label: str | None = None) -> None:
        # With a label the value sits in a one-item list, so the tree shows the value itself as
        # its top row (a scalar or a call at the top still gets a row to select and edit).
        self.label = None if stacked else label
        self.root = [root] if self.label is not None else root
        self.protocol = protocol
        self.stacked = stacked
        self.read_only = False

    @property
    def value(self) -> Any:
        """The pickled value (the list of values when several pickles were stacked)."""
        return self.root[0] if self.label is not None else self.root

    def get(self, path: Path) -> Any:
        value = self.root
        for key in path:
            try:
                value = child(value, key)
            except (KeyError, IndexError, TypeError, StopIteration):
                raise ObjectEditError(f"there is no item {key!r} here any more") from None
        return value

    def _replace(self, path: Path, new: Any) -> Any:
        """Put ``new`` at ``path`` (rebuilding immutable parents); return the old value."""
        if not path:
            old, self.root = self.root, new
            return old
        parent = self.get(path[:-1])
        key = path[-1]
        if isinstance(parent, dict | list):
            old = parent[key]
            parent[key] = new
            return old
        if isinstance(parent, tuple):
            old = parent[key]
            self._replace(path[:-1], (*parent[:key], new, *parent[key + 1:]))
            return old
        if isinstance(parent, SETS):
            items = list(parent)
            old = items[key]
            items[key] = new
            self._rebuild_set(path[:-1], parent, items)
            return old
        if isinstance(parent, CallNode | PersistentNode):
            old = child(parent, key)
            parent.set_part(key, new)
            return old
        raise ObjectEditError(f"a {type(parent).__name__} has no items to change")

    def _rebuild_set(self, path: Path, old: set | frozenset, items: list) -> None:
        try:
            if isinstance(old, frozenset):
                self._replace(path, frozenset(items))
            else:
                old.clear()
                old.update(items)
        except TypeError as exc:
            raise ObjectEditError(f"a set can only hold hashable values: {exc}") from None

    # -- edits: each returns what its inverse needs (the undo commands call them) ---------------
    def set_value(self, path: Path, value: Any) -> Any:
        return self._replace(path, value)

    def insert(self, parent_path: Path, row: int, key: Any, value: Any) -> None:
        parent = self.get(parent_path)
        if isinstance(parent, list):
            parent.insert(row, value)
        elif isinstance(parent, tuple):
            self._replace(parent_path, (*parent[:row], value, *parent[row:]))
        elif isinstance(parent, SETS):
            items = list(parent)
            if value in items:
                raise ObjectEditError(f"the set already holds {value!r}")
            items.insert(row, value)
            self._rebuild_set(parent_path, parent, items)
        elif isinstance(parent, dict):
            if key in parent:
                raise ObjectEditError(f"the key {key!r} already exists")
            try:
                hash(key)
            except TypeError:
                raise ObjectEditError(f"{key!r} cannot be a dict key: it is not hashable") from None
            items = list(parent.items())
            items.insert(row, (key, value))
            parent.clear()
            parent.update(items)
        else:
            raise ObjectEditError(f"items cannot be added to a {type_label(parent)}")

    def remove(self, parent_path: Path, row: int) -> tuple[Any, Any]:
        parent = self.get(parent_path)
        if isinstance(parent, list):
            return row, parent.pop(row)
        if isinstance(parent, tuple):
            self._replace(parent_path, parent[:row] + parent[row + 1:])
            return row, parent[row]
        if isinstance(parent, SETS):
            items = list(parent)
            value = items.pop(row)
            self._rebuild_set(parent_path, parent, items)
            return row, value
        if isinstance(parent, dict):
            items = list(parent.items())
            key, value = items.pop(row)
            parent.clear()
            parent.update(items)
            return key, value
        raise ObjectEditError(f"items cannot be removed from a {type_label(parent)}")

    def move(self, parent_path: Path, row: int, new_row: int) -> None:
        key, value = self.remove(parent_path, row)
        self.insert(parent_path, new_row, key, value)

    def rename(self, parent_path: Path, row: int, new_key: Any) -> Any:
        parent = self.get(parent_path)
        if not isinstance(parent, dict):
            raise ObjectEditError("only dict items have keys")
        items = list(parent.items())
        old = items[row][0]
        if new_key != old and new_key in parent:
            raise ObjectEditError(f"the key {new_key!r} already exists")
        try:
            hash(new_key)
        except TypeError:
            raise ObjectEditError(f"{new_key!r} cannot be a dict key: it is not hashable") from None
        items[row] = (new_key, items[row][1])
        parent.clear()
        parent.update(items)
        return old

    def reorder(self, path: Path, keys: list[Any]) -> list[Any]:
        obj = self.get(path)
        if not isinstance(obj, dict):
            raise ObjectEditError("only a dict's keys can be sorted")
        old = list(obj)
        items = [(k, obj[k]) for k in keys]
        obj.clear()
        obj.update(items)
        return old

    # -- saving ------------------------------------------------------------------------------
    def dumps(self, protocol: int | None = None, **options: Any) -> bytes:
        """The tree as pickle bytes (stacked pickles one after another); UnsupportedError if lossy.

        ``options`` go to ``pickle_write.dump_tree`` (NumPy module names, joblib's array layout)."""
        from storage.formats.objects.pickle.write import dump_tree

        protocol = self.protocol if protocol is None else protocol
        if protocol is None:
            raise UnsupportedError("The pickle protocol is unknown; choose one in Save As.")
        values = self.root if self.stacked or self.label is not None else [self.root]
        return b"".join(dump_tree(value, protocol, **options) for value in values)
