"""NumPy values built by the C unpickler: a placeholder checks BUILD's state, then takes its place.

NumPy's own ``__setstate__`` trusts its state (a crafted dtype state crashes the interpreter), and
the C unpickler calls whatever ``__setstate__`` the object on its stack has. So on the C path the
NumPy builders of ``pickle_allow`` return a :class:`Pending` instead of the dtype or array: BUILD
calls its ``__setstate__``, which rebuilds the value from the checked state (``pickle_numpy``).
After the load, :func:`settle` puts each value where its placeholder went. Most placeholders are
consumed by a builder or by an array's state and never reach the tree (their reference count
says so), so the tree is walked only when one did. This keeps NumPy and pandas pickles on the C
unpickler instead of the pure-Python one (10-20 times slower).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from typing import Any

from storage.formats.objects.pickle.nodes import NO_STATE, CallNode, GlobalNode, PersistentNode
from storage.formats.objects.pickle.numpy_build import rebuild_array, rebuild_dtype


class Pending:
    """A dtype or array on the C unpickler's stack; ``value`` is what it stands for."""

    __slots__ = ("__weakref__", "kind", "spend", "value")

    def __init__(self, kind: str, value: Any, spend: Callable[[int], None]) -> None:
        self.kind, self.value, self.spend = kind, value, spend

    def __setstate__(self, state: Any) -> None:
        import numpy as np

        try:
            if self.kind == "dtype":
                self.value = rebuild_dtype(self.value, _unwrapped_dtype_state(state), np)
            else:
                value = rebuild_array(_unwrapped_array_state(state), np, self.spend)
                if type(self.value) is np.matrix:  # 2-D: its own __array_finalize__ refuses more
                    if value.ndim != 2:
                        raise ValueError("a matrix's state is not 2-D")
                    value = value.view(np.matrix)
                self.value = value
        except (TypeError, ValueError) as exc:
            raise pickle.UnpicklingError(f"a NumPy value cannot be rebuilt: {exc}") from None

    def __hash__(self) -> int:
        return hash(self.value)  # an array is unhashable, as it is for the real loader

    def __repr__(self) -> str:
        return f"<pending {self.kind}>"


class PendingList(list):
    """The placeholders of one C load, and the ids of the strings its builders handed back (a
    ``str()`` or an object ``scalar`` passes its argument through): a global named by one of those
    was computed while loading."""

    def __init__(self) -> None:
        super().__init__()
        self.strings: set[int] = set()


class Unsettled(Exception):
    """A placeholder sits in a reference cycle through a tuple: only the Python unpickler can
    rebuild that (its memo is patched at BUILD time)."""


def held(value: Any, pending: PendingList, spend: Callable[[int], None]) -> Any:
    """A builder's result: a real NumPy dtype or array (``scalar`` of an object dtype hands back its
    argument) goes behind a placeholder again, so a BUILD aimed at it is checked too."""
    if type(value) is str:
        pending.strings.add(id(value))
        return value
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.dtype | np.ndarray):
        holder = Pending("dtype" if isinstance(value, np.dtype) else "array", value, spend)
        pending.append(holder)
        return holder
    return value


def unwrap(value: Any) -> Any:
    return value.value if type(value) is Pending else value


def unwrap_args(args: tuple) -> tuple:
    """A builder's arguments with placeholders replaced by their values (top level only)."""
    for item in args:
        if type(item) is Pending:
            return tuple(unwrap(a) for a in args)
    return args


def _unwrapped_dtype_state(state: Any) -> Any:
    """A dtype's BUILD state with its sub-dtypes unwrapped, whatever the layout (``pickle_numpy``
    reads them all): in its own slots, a subarray's ``(dtype, shape)`` and the fields'
    ``{name: (dtype, offset[, title])}``."""
    if type(state) is not tuple:
        return state
    return tuple(_unwrapped_slot(slot) for slot in state)


def _unwrapped_slot(slot: Any) -> Any:
    if type(slot) is Pending:
        return slot.value
    if type(slot) is tuple and slot and type(slot[0]) is Pending:
        return (slot[0].value, *slot[1:])
    if type(slot) is dict and any(type(entry) is tuple and entry and type(entry[0]) is Pending
                                  for entry in slot.values()):
        return {name: _unwrapped_slot(entry) if type(entry) is tuple else entry
                for name, entry in slot.items()}
    return slot


def _unwrapped_array_state(state: Any) -> Any:
    """An array's BUILD state with its dtype, and the items of an object array, unwrapped."""
    if type(state) is not tuple:
        return state
    return tuple([unwrap(item) for item in slot] if type(slot) is list
                 and Pending in set(map(type, slot)) else unwrap(slot) for slot in state)  # C-speed test


# -- putting the values in place ------------------------------------------------------------------
_IMMUTABLE = (tuple, frozenset, slice)  # slice: the C unpickler calls it itself with any arguments
_CALL_PARTS = ("func", "args", "kwargs", "state", "list_items", "dict_items", "set_items")
_SCALARS = frozenset({str, bytes, int, float, bool, type(None), complex, bytearray})


def settle(box: list[Any], pending: list[Pending]) -> Any:
    """The loaded value (``box``'s only item, taken out of it) with every placeholder replaced by
    its value; ``pending`` lists all of them.

    Raises ``Unsettled`` when a replacement cannot be made exactly.
    """
    value = box.pop()
    root = value if type(value) is Pending else None  # the caller held it too
    if root is not None:
        value = root.value
    if not _escaped(pending, root):
        return value
    walk = _Walk()
    settled = walk.run(value)
    del walk, value  # the containers the walk replaced go, with their references
    if _escaped(pending, root):  # a placeholder the walk cannot reach (in an object array's tuple)
        raise Unsettled("a NumPy value the tree holds where it cannot be replaced")
    return settled


def _escaped(pending: list[Pending], root: Pending | None) -> bool:
    """Whether any placeholder is referenced from outside ``pending``: one with no more references
    than a fresh one in the same list is not (the fresh one measures what the list and the
    counting hold, on any CPython)."""
    pending.append(Pending("array", None, _no_spend))
    counts = [sys.getrefcount(item) for item in pending if item is not root]
    pending.pop()
    return any(count > counts[-1] for count in counts)


def _no_spend(_amount: int) -> None:
    pass


class _Walk:
    """An iterative post-order walk (trees may nest deeper than Python's recursion limit)."""

    def __init__(self) -> None:
        self.new: dict[int, Any] = {}  # id of a rebuilt tuple/frozenset -> its replacement
        self.done: set[int] = set()
        self.open: set[int] = set()
        self.back: set[int] = set()  # open immutables reached again through a cycle
        self.keep: list[Any] = []  # replaced objects stay alive so their ids are not reused

    def get(self, item: Any) -> Any:
        if type(item) is Pending:
            return item.value
        return self.new.get(id(item), item) if isinstance(item, _IMMUTABLE) else item

    def run(self, root: Any) -> Any:
        todo: list[tuple[Any, bool]] = [(root, False)]
        while todo:
            obj, finish = todo.pop()
            key = id(obj)
            if finish:
                self.open.discard(key)
                self.done.add(key)
                self._rebuild(obj)
                continue
            if key in self.done:
                continue
            if key in self.open:
                if isinstance(obj, _IMMUTABLE):
                    self.back.add(key)
                continue
            children = _children(obj)
            if children is None:
                continue
            self.open.add(key)
            todo.append((obj, True))
            todo.extend((child, False) for child in children
                        if type(child) not in _SCALARS and type(child) is not Pending)
        return self.get(root)

    def _rebuild(self, obj: Any) -> None:
        get = self.get
        if isinstance(obj, list):
            for index, item in enumerate(obj):
                new = get(item)
                if new is not item:
                    obj[index] = new
        elif isinstance(obj, dict):
            if any(get(key) is not key for key in obj):
                pairs = [(get(key), get(item)) for key, item in obj.items()]
                obj.clear()
                try:
                    obj.update(pairs)
                except TypeError as exc:  # an array as a key: the real loader fails too
                    raise pickle.UnpicklingError(str(exc)) from None
            else:
                for key, item in obj.items():
                    new = get(item)
                    if new is not item:
                        obj[key] = new
        elif isinstance(obj, set):
            items = list(obj)
            if any(get(item) is not item for item in items):
                obj.clear()
                try:
                    obj.update(get(item) for item in items)
                except TypeError as exc:
                    raise pickle.UnpicklingError(str(exc)) from None
        elif isinstance(obj, _IMMUTABLE):
            items = _children(obj)
            if any(get(item) is not item for item in items):
                if id(obj) in self.back:
                    raise Unsettled("a NumPy value inside a reference cycle through a tuple")
                try:
                    new = [get(item) for item in items]
                    self.new[id(obj)] = slice(*new) if type(obj) is slice else type(obj)(new)
                except TypeError as exc:
                    raise pickle.UnpicklingError(str(exc)) from None
                self.keep.append(obj)
        elif isinstance(obj, CallNode):
            for name in _CALL_PARTS:
                part = getattr(obj, name)
                new = get(part)
                if new is not part:
                    setattr(obj, name, new)
        elif isinstance(obj, PersistentNode):
            obj.pid = get(obj.pid)


def _children(obj: Any) -> Any:
    if type(obj) is slice:
        return [obj.start, obj.stop, obj.step]
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, list | tuple | set | frozenset):
        return obj
    if isinstance(obj, CallNode):
        return [part for name in _CALL_PARTS
                if (part := getattr(obj, name)) is not None and part is not NO_STATE]
    if isinstance(obj, GlobalNode):
        return [obj.mutations]
    if isinstance(obj, PersistentNode):
        return [obj.pid]
    return None
