"""Turn any loaded object into the neutral tree that ``trusted_load`` sends across the process boundary.

Runs in the trusted child only. Exact built-in scalars, containers, dates, ``Decimal`` and numpy arrays
stay themselves; everything else becomes a ``Repr`` with its attributes as children. Shared references
and cycles are kept (memo by id, as pickle does), and the walk is iterative: each container is a
generator on an explicit stack, so a 200,000-deep list cannot overflow the C stack. Depth and node
limits cut the tree with ``Repr(cut=True)`` markers rather than failing.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Generator, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from time import perf_counter
from typing import Any

from storage.formats.objects.trusted.load import Repr

REPR_LIMIT = 10_000
REPR_BUDGET = 5.0  # seconds
_LEAVES = frozenset({type(None), bool, int, float, complex, str, bytes, Decimal, date, timedelta})
_CLOCKS = frozenset({datetime, time})  # plain values when naive or with a fixed-offset timezone
_ZONES = frozenset({type(None), timezone})
# Objects whose __dict__ is the world (modules, classes, functions): shown by repr only.
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
           types.CodeType, types.FrameType)
_BASES = (dict, list, tuple, set, frozenset, bytearray, bytes, str, int, float, complex)

Gen = Generator[Any, Any, Any]


class NpyPayload:
    """A numpy array as ``.npy`` bytes; the parent rebuilds it with ``np.load(allow_pickle=False)``."""

    __slots__ = ("data", "scalar")

    def __init__(self, data: bytes, scalar: bool) -> None:
        self.data = data
        self.scalar = scalar

    def __reduce__(self) -> tuple:
        from storage.formats.objects.trusted.load import _array_from_npy

        return (_array_from_npy, (self.data, self.scalar))


def type_name(obj: Any) -> str:
    """``module.QualName`` of the object's type, or just the name for builtins."""
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module in (None, "builtins") else f"{module}.{name}"


def safe_repr(obj: Any) -> str:
    """``repr(obj)`` capped at 10 kB; a failing repr becomes a message, never an exception."""
    try:
        text = repr(obj)
        if not isinstance(text, str):
            text = f"<repr returned {type(text).__name__}>"
    except Exception as exc:
        try:
            detail = str(exc)
        except Exception:
            detail = "?"
        text = f"<repr failed: {type(exc).__name__}: {detail[:500]}>"
    if len(text) > REPR_LIMIT:
        text = f"{text[:REPR_LIMIT]}… ({len(text):,} characters in all)"
    return text


def _slot_items(obj: Any) -> list[tuple[str, Any]]:
    """The values in the object's ``__slots__``, under their declared names."""
    found = []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            attr = f"_{cls.__name__.lstrip('_')}{name}" if name.startswith("__") and not name.endswith("__") \
                else name
            try:
                found.append((name, getattr(obj, attr)))
            except Exception:
                continue
    return found


class Converter:
    """One conversion: memo, counters and limits."""

    def __init__(self, max_nodes: int = 2_000_000, max_depth: int = 1000) -> None:
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.nodes = 0
        self.repr_count = 0
        self.truncated = False
        self._memo: dict[int, Any] = {}
        self._keep: list[Any] = []  # originals stay alive so their ids are never reused
        self._repr_seconds = 0.0
        self._np = sys.modules.get("numpy")  # only a file that loaded numpy can hold arrays

    def convert(self, root: Any) -> Any:
        """The neutral tree for ``root``: each generator yields a child and is sent its conversion."""
        value, gen = self._visit(root, 0)
        if gen is None:
            return value
        stack: list[tuple[Gen, int]] = [(gen, 0)]
        send: Any = None
        while stack:
            gen, depth = stack[-1]
            try:
                child = gen.send(send)
            except StopIteration as stop:
                stack.pop()
                send = stop.value
                continue
            except Exception as exc:  # one odd object must not lose the whole tree
                stack.pop()
                send = self._failed(exc)
                continue
            try:
                send, sub = self._visit(child, depth + 1)
            except Exception as exc:
                send, sub = self._failed(exc, child), None
            if sub is not None:
                stack.append((sub, depth + 1))
                send = None
        return send

    def _remember(self, obj: Any, value: Any) -> None:
        self._memo[id(obj)] = value
        self._keep.append(obj)

    def _failed(self, exc: Exception, obj: Any = None) -> Repr:
        self.truncated = True
        return Repr("?" if obj is None else type_name(obj),
                    f"<could not be shown: {type(exc).__name__}: {exc}>"[:REPR_LIMIT], cut=True)

    def _more(self, count: int) -> Repr:
        self.truncated = True
        return Repr("…", f"<{count:,} more not shown: over the limit of {self.max_nodes:,} values>", cut=True)

    def _visit(self, obj: Any, depth: int) -> tuple[Any, Gen | None]:
        """``(value, None)`` when done at once, or ``(placeholder, generator)`` for a container."""
        cls = type(obj)
        if cls in _LEAVES or (cls in _CLOCKS and type(obj.tzinfo) in _ZONES):
            self.nodes += 1
            return obj, None
        memo = self._memo.get(id(obj))
        if memo is not None:
            return memo, None
        self.nodes += 1
        if depth > self.max_depth:
            self.truncated = True
            return Repr(type_name(obj), f"<not shown: nested more than {self.max_depth} levels deep>",
                        cut=True), None
        if cls is bytearray:
            value = bytearray(obj)
            self._remember(obj, value)
            return value, None
        if cls is list:
            target: Any = []
            self._remember(obj, target)
            return target, self._fill_list(obj, target)
        if cls is dict:
            target = {}
            self._remember(obj, target)
            return target, self._fill_dict(list(obj.items()), target)
        if cls is set:
            target = set()
            self._remember(obj, target)
            return target, self._fill_set(list(obj), target)
        if cls is tuple or cls is frozenset:
            return None, self._immutable(obj, list(obj), cls)
        if self._np is not None:
            payload = self._numpy(obj)
            if payload is not None:
                self._remember(obj, payload)
                return payload, None
        rep = Repr(type_name(obj), self._repr(obj))
        self.repr_count += 1
        self._remember(obj, rep)
        return rep, self._fill_repr(obj, rep)

    def _repr(self, obj: Any) -> str:
        """``safe_repr`` until reprs have taken ``REPR_BUDGET`` seconds in all: nested objects whose
        repr includes their children's make the total quadratic, and the tree shows the children anyway."""
        if self._repr_seconds > REPR_BUDGET:
            return "<repr skipped: the object's reprs took too long in all>"
        started = perf_counter()
        text = safe_repr(obj)
        self._repr_seconds += perf_counter() - started
        return text

    def _numpy(self, obj: Any) -> NpyPayload | None:
        """``.npy`` bytes for a plain array or numpy scalar without objects, else None."""
        np = self._np
        assert np is not None  # called only once numpy is loaded (_convert checks)
        if type(obj) is np.ndarray and not obj.dtype.hasobject:
            scalar = False
        elif isinstance(obj, np.generic) and not obj.dtype.hasobject:
            scalar, obj = True, np.asarray(obj)
        else:
            return None
        import io

        buffer = io.BytesIO()
        np.save(buffer, obj, allow_pickle=False)
        return NpyPayload(buffer.getvalue(), scalar)

    # The fills take plain scalars inline (no generator round trip): most of a big tree is leaves.

    def _fill_list(self, items: Sequence[Any], target: list) -> Gen:
        index, limit = 0, self.max_nodes
        while index < len(items):  # by index: a list may not be snapshotted cheaply
            if self.nodes >= limit:
                target.append(self._more(len(items) - index))
                break
            item = items[index]
            cls = type(item)
            if cls in _LEAVES or (cls in _CLOCKS and type(item.tzinfo) in _ZONES):
                self.nodes += 1
                target.append(item)
            else:
                target.append((yield item))
            index += 1
        return target

    def _fill_set(self, items: list, target: set) -> Gen:
        limit = self.max_nodes
        for index, item in enumerate(items):
            if self.nodes >= limit:
                target.add(self._more(len(items) - index))
                break
            cls = type(item)
            if cls in _LEAVES or (cls in _CLOCKS and type(item.tzinfo) in _ZONES):
                self.nodes += 1
                target.add(item)
            else:
                target.add((yield item))
        return target

    def _fill_dict(self, pairs: list[tuple[Any, Any]], target: dict) -> Gen:
        limit = self.max_nodes
        for index, (key, item) in enumerate(pairs):
            if self.nodes >= limit:
                target[self._more(len(pairs) - index)] = None
                break
            if type(key) is str:
                self.nodes += 1
                new_key = key
            else:
                new_key = yield key
                try:
                    hash(new_key)
                except TypeError:
                    new_key = safe_repr(key)
            cls = type(item)
            if cls in _LEAVES or (cls in _CLOCKS and type(item.tzinfo) in _ZONES):
                self.nodes += 1
                target[new_key] = item
            else:
                target[new_key] = yield item
        return target

    def _immutable(self, obj: Any, items: list, cls: type) -> Gen:
        """A tuple or frozenset: children first. If a cycle through a mutable child rebuilt this
        object meanwhile (pickle does the same for recursive tuples), that copy wins."""
        done: list = yield from self._fill_list(items, [])
        value = tuple(done) if cls is tuple else frozenset(done)
        existing = self._memo.get(id(obj))
        if existing is not None:
            return existing
        self._remember(obj, value)
        return value

    def _fill_repr(self, obj: Any, rep: Repr) -> Gen:
        """The built-in value inside a subclass, then the attributes."""
        np = self._np
        cls = type(obj)  # not isinstance: a proxy's __class__ may claim to be a dict
        if np is not None and issubclass(cls, np.ndarray):
            if obj.dtype.hasobject:
                items = obj.tolist()
                self._keep.append(items)
                rep.value = yield items
            else:
                rep.value = yield np.asarray(obj)
        elif issubclass(cls, _BASES):
            rep.value = yield from self._base_value(obj)
        if issubclass(cls, _OPAQUE):
            return rep
        try:
            attrs = getattr(obj, "__dict__", None)
            pairs = list(attrs.items()) if isinstance(attrs, dict) else []
            pairs += _slot_items(obj)
        except Exception as exc:
            pairs = [("<attributes failed>", f"{type(exc).__name__}: {exc}")]
        yield from self._fill_dict(pairs, rep.attributes)
        return rep

    def _base_value(self, obj: Any) -> Gen:
        """A subclass's content as its exact built-in base type, children converted."""
        cls = type(obj)
        if issubclass(cls, dict):
            return (yield from self._fill_dict(list(dict.items(obj)), {}))
        if issubclass(cls, list):
            return (yield from self._fill_list(list(list.__iter__(obj)), []))
        if issubclass(cls, set):
            return (yield from self._fill_set(list(set.__iter__(obj)), set()))
        if issubclass(cls, tuple):
            return tuple((yield from self._fill_list(list(tuple.__iter__(obj)), [])))
        if issubclass(cls, frozenset):
            return frozenset((yield from self._fill_list(list(frozenset.__iter__(obj)), [])))
        for base, make in ((int, int.__index__), (float, float.__float__), (complex, complex),
                           (str, str.__str__), (bytes, bytes), (bytearray, bytearray)):
            if issubclass(cls, base):
                try:
                    value = make(obj)
                except Exception:
                    return None
                return value if type(value) is base else None
        return None
