"""The first look at a pickle, before the full safe load: its top-level summary and, when it can be
told for sure, its verdict.

Loading a 40 MB pickle safely takes about a second; the window shows these first:

- ``first_look`` reads only the head of the file (of its decompressed stream for pandas' .pkl.gz
  and compressed joblib files) and follows its first opcodes in Python, building
  the first items of the top-level container when they are plain values (strings, numbers, bytes,
  containers of them). A read-only preview, replaced by the real tree when the load finishes.
- ``plain_verdict`` walks every opcode at C speed (``_keywalk.plain_census``) and vouches for the
  verdict only when the file is surely plain data that the safe load will read without a finding:
  then the verdict is exactly what the load reports ("Safe", nothing in the details). Anything it
  cannot vouch for (a global, a call, a damaged stream, costly keys, data after the pickle) answers
  None, and the window says "checking…" until the load has the verdict. It never guesses.
"""

from __future__ import annotations

import io
import os
import pickletools
from dataclasses import dataclass
from typing import Any

from storage.core.errors import KnownError

HEAD_BYTES = 256 * 1024  # the first look reads no more than this
FIRST_ITEMS = 100  # top-level items in the preview
MAX_OPCODES = 20_000  # opcodes the preview follows at most
MAX_INT_BITS = 256  # larger ints end the preview (their text could be huge)
OPERANDS = 3  # the most stack entries an opcode the preview does not follow takes (NEWOBJ_EX)


@dataclass
class FirstLook:
    """The top of a pickle: its kind of value and its first items (``preview``, a container of the
    same kind holding them), or the whole value when it was small enough (``complete``)."""

    type_name: str
    preview: Any
    shown: int  # top-level items in ``preview``
    complete: bool = False
    noun: str = "items"  # what ``shown`` counts ("keys" for a shelf, whose preview lists them)
    total: int | None = None  # how many there are, when the first look knows


@dataclass
class PlainCensus:
    """What the C walk counted in a plain-data pickle: the top-level value's kind and item count."""

    type_name: str
    items: int


class _Stop(Exception):
    """The preview ends here (an opcode it does not follow, or enough items)."""


_SCALAR_KEYS = (str, bytes, int, float, bool, type(None))
_LEAVES = frozenset({"BININT", "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "SHORT_BINUNICODE",
                     "BINUNICODE", "BINUNICODE8", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8"})
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_EMPTY = {"EMPTY_DICT": dict, "EMPTY_LIST": list, "EMPTY_TUPLE": tuple, "EMPTY_SET": set}


class _Preview:
    """A tiny stack machine over plain-data opcodes: the first items of the top-level container."""

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.root: Any = None
        self.root_marks = 0  # marks open under the root's items (the root sits just below the first)

    def key(self, value: Any) -> Any:
        if not isinstance(value, _SCALAR_KEYS):  # never hash what a file built (a hashing bomb)
            raise _Stop
        return value

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise _Stop
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def target(self, kind: type) -> Any:
        if not self.stack or not isinstance(self.stack[-1], kind):
            raise _Stop
        return self.stack[-1]

    def push(self, value: Any) -> None:
        if self.root is None and not self.stack and isinstance(value, dict | list | tuple | set):
            self.root = value
        self.stack.append(value)

    def step(self, name: str, arg: Any) -> None:
        if name in ("PROTO", "FRAME"):
            return
        if name in _LEAVES:
            if isinstance(arg, int) and arg.bit_length() > MAX_INT_BITS:
                raise _Stop
            self.push(arg)
        elif name in _CONSTANTS:
            self.push(_CONSTANTS[name])
        elif name in _EMPTY:
            self.push(_EMPTY[name]())
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.stack[-1]
        elif name in ("BINPUT", "LONG_BINPUT"):
            self.memo[arg] = self.stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            self.push(self.memo[arg])
        elif name == "MARK":
            self.marks.append(len(self.stack))
        elif name == "SETITEMS":
            items = self.pop_mark()
            target = self.target(dict)
            for at in range(0, len(items) - 1, 2):
                target[self.key(items[at])] = items[at + 1]
        elif name == "SETITEM":
            value, key = self.stack.pop(), self.stack.pop()
            self.target(dict)[self.key(key)] = value
        elif name == "APPENDS":
            items = self.pop_mark()
            self.target(list).extend(items)
        elif name == "APPEND":
            value = self.stack.pop()
            self.target(list).append(value)
        elif name == "ADDITEMS":
            items = self.pop_mark()
            self.target(set).update(self.key(item) for item in items)
        elif name in ("TUPLE", "LIST"):
            items = self.pop_mark()
            self.push(tuple(items) if name == "TUPLE" else items)
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            items = self.stack[-count:]
            if len(items) < count:
                raise _Stop
            del self.stack[-count:]
            self.push(tuple(items))
        elif name == "POP":
            self.stack.pop()
        else:  # anything else (a global, a call, a text opcode): the load will tell
            raise _Stop

    def items(self) -> int:
        """Top-level items seen so far: in the root, and waiting above its mark."""
        root = self.root
        if root is None or not self.marks or self.marks[0] == 0 or self.stack[self.marks[0] - 1] is not root:
            return len(root) if root is not None else 0
        pending = self._pending()
        return len(root) + (len(pending) // 2 if isinstance(root, dict) else len(pending))

    def _pending(self) -> list[Any]:
        """The finished items above the root's mark. Left out: a container still being filled (under
        a deeper mark), and the last three entries, which the next opcode may take as its operands
        (STACK_GLOBAL takes two strings, NEWOBJ_EX three values): they may be no items at all."""
        start = self.marks[0]
        end = self.marks[1] if len(self.marks) > 1 else len(self.stack)
        keep = end - start - (1 if len(self.marks) > 1 else 0) - OPERANDS
        return self.stack[start:start + keep] if keep > 0 else []

    def preview(self) -> tuple[Any, int]:
        """A copy of the root with the finished items waiting above its mark added."""
        root = self.root
        attached = bool(self.marks) and self.marks[0] > 0 and self.stack[self.marks[0] - 1] is root
        pending = self._pending() if attached else []
        shown: Any
        if isinstance(root, dict):
            shown = dict(root)
            for at in range(0, len(pending) - 1, 2):
                if not isinstance(pending[at], _SCALAR_KEYS):
                    break
                shown[pending[at]] = pending[at + 1]
        elif isinstance(root, list):
            shown = [*root, *pending]
        elif isinstance(root, set):
            shown = set(root) | {item for item in pending if isinstance(item, _SCALAR_KEYS)}
        else:
            shown = tuple(root)
        return shown, len(shown)


def _head(path: str) -> bytes:
    """The first HEAD_BYTES of the pickle: of the file, or of what it decompresses to (pandas'
    .pkl.gz, a compressed joblib file; only that much is decompressed)."""
    from storage.sniff.compressed import compression_of

    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if compression_of(head[:64 * 1024]) is None:
        return head
    from storage.formats.objects.joblib_io import open_joblib

    stream, _name = open_joblib(path)
    with stream:
        return stream.read(HEAD_BYTES)


def _shelf_look(path: str) -> FirstLook | None:
    """A big shelf's keys (read at open, before any value): its first keys as a list."""
    from storage.formats.objects.shelf.io import open_shelf

    try:
        shelf = open_shelf(path)
    except (KnownError, OSError):
        return None
    try:
        if sum(os.path.getsize(name) for name in shelf.files) <= HEAD_BYTES:
            return None  # a small shelf: its values are checked in a moment
        keys = shelf.keys()
    except OSError:
        return None
    finally:
        shelf.close()
    if not keys:
        return None
    return FirstLook("shelf", keys[:FIRST_ITEMS], min(len(keys), FIRST_ITEMS), noun="keys", total=len(keys))


def first_look(path: str, kind: str) -> FirstLook | None:
    """Worker body: the kind and first items of a plain pickle's top-level value, read from its head
    alone (None when its start is not plain data: compressed, a joblib file, a global first...);
    for a big shelf, its first keys."""
    if kind == "shelve":
        return _shelf_look(path)
    if kind not in ("pickle", "joblib"):
        return None
    try:
        head = _head(path)
    except (OSError, KnownError, EOFError, ValueError):
        return None
    if head[:1] != b"\x80" or len(head) < 2 or head[1] < 2:
        return None
    machine = _Preview()
    try:
        for count, (opcode, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(head))):
            if opcode.name == "STOP":
                if not machine.stack:
                    return None
                value = machine.stack[-1]
                size = len(value) if isinstance(value, dict | list | tuple | set) else 0
                return FirstLook(type(value).__name__, value, size, complete=True)
            machine.step(opcode.name, arg)
            if count >= MAX_OPCODES or (count % 64 == 0 and machine.items() > FIRST_ITEMS + OPERANDS):
                break
    except (_Stop, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, OverflowError):
        pass  # the head ends, or an opcode the preview does not follow: show what came before
    if machine.root is None:
        return None
    shown, count = machine.preview()
    if not count:
        return None  # an empty container would say nothing true about the file
    if isinstance(shown, dict | list) and count > FIRST_ITEMS:
        shown = dict(list(shown.items())[:FIRST_ITEMS]) if isinstance(shown, dict) else shown[:FIRST_ITEMS]
        count = FIRST_ITEMS
    return FirstLook(type(shown).__name__, shown, count)


def _plain(data: bytes) -> tuple[int, str, int] | None:
    """The census of one pickle (stop, top-level kind, item count) when ``load_safe`` surely takes
    the C path and reads it without a finding; else None."""
    from storage.formats.objects.pickle import keys
    from storage.formats.objects.pickle.guards import DEFAULT_LIMITS, can_cap, memo_bomb
    from storage.formats.objects.pickle.safe import _NON_SPACE
    from storage.sniff.compressed import compression_of

    census = keys.plain_census
    if census is None:
        return None
    limits = DEFAULT_LIMITS
    if (len(data) < 2 or data[0] != 0x80 or data[1] < 2 or len(data) > limits.max_bytes
            or compression_of(data[:64 * 1024]) is not None or b"joblib.numpy_pickle" in data):
        return None
    counted = census(data, 0)
    if counted is None or _NON_SPACE.search(data, counted[0]) is not None:
        return None  # not plain data, or more pickles, or data after this one: the load reports them
    if keys.costly_keys(data, 0, limits.copy_budget + limits.copy_per_byte * len(data)):
        return None  # the careful Python unpickler would load it, and may report keys
    if not can_cap() and memo_bomb(data, 0):
        return None
    return counted


def plain_verdict(path: str, kind: str) -> tuple[Any, PlainCensus] | None:
    """Worker body: (the verdict ``open_objects`` will report, the top-level value's kind and item
    count) when the file is surely plain data the safe load reads without a finding; else None.

    The verdict is an ``ObjectsFile`` with no global and no finding: "Safe". Every condition in
    ``_plain`` is one under which ``open_objects`` takes the C path of a single pickle and adds
    nothing. A shelf is vouched for when every value is (its census counts the keys)."""
    from storage.core.disk_stamp import read_regular
    from storage.formats.objects.file import ObjectsFile

    if kind == "shelve":
        return _shelf_verdict(path)
    if kind != "pickle":
        return None
    try:
        data, _info = read_regular(path)
    except KnownError:
        return None
    counted = _plain(data)
    if counted is None:
        return None
    verdict = ObjectsFile(os.path.abspath(path), "pickle", protocol=data[1])
    return verdict, PlainCensus(counted[1], counted[2])


def _shelf_verdict(path: str) -> tuple[Any, PlainCensus] | None:
    """Every value of the shelf read once (as ``open_objects`` scans them) and each plain data."""
    from storage.formats.objects.file import MAX_SHELF_SCAN, ObjectsFile
    from storage.formats.objects.shelf.io import open_shelf

    try:
        shelf = open_shelf(path)
    except (KnownError, OSError):
        return None
    try:
        scanned, count = 0, 0
        for _key, raw in shelf.raw_items():
            if isinstance(raw, KnownError):
                return None  # a damaged value: the load reports it
            scanned += len(raw)
            if scanned > MAX_SHELF_SCAN or _plain(raw) is None:
                return None
            count += 1
    except (KnownError, OSError):
        return None
    finally:
        shelf.close()
    return ObjectsFile(os.path.abspath(path), "shelve"), PlainCensus("shelf", count)
