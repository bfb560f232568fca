"""Bound the work of hashing untrusted dict keys and set members before any hash is computed.

A tuple's hash visits every item, and a pickle can share one tuple many times through the memo:
40 levels of ``t = (t, t)`` make a 150-byte key whose hash takes 2**40 steps, in C, with no way
to interrupt it. So every key a load would hash is measured first as a DAG (each shared tuple is
measured once, remembered by identity) against a per-key and a per-load budget:

- the careful Python unpickler asks ``KeyGuard.admit`` for every dict key and set member; a key
  over budget is kept unhashed inside a ``CostlyKey`` node (shown in the tree with a note);
- the C unpickler cannot be interrupted, so ``costly_keys`` first walks the opcodes with the
  costs alone (no values are built) and sends a file that would hash too much to the careful
  Python unpickler instead. The walk is compiled (``storage/formats/objects/pickle/_keywalk.c``, built by
  ``pip install``)
  so that it costs a tenth of the load it guards; ``python_costly_keys`` is the same walk in
  Python, used when the extension was not built and as the reference the tests compare it with.

The costs are hash steps: a tuple is 1 plus its items, a frozenset 1 plus its size (its hash is
cached and made from its members' stored hashes), an int grows with its digits, anything else is 1
(strings and bytes cache their hash; our nodes hash by identity).
"""

from __future__ import annotations

import struct
from typing import Any

from storage.formats.objects.pickle.nodes import CostlyKey

FREE = 64  # keys this cheap are never charged to the budget
# Strings and bytes hash with a per-process random key, so a file cannot make them collide. Ints,
# floats and tuples of them hash by a public formula: n keys with one hash make a dict probe n**2/2
# times (20,000 colliding ints took 2.6 s, 80,000 would take 40). A load with more such "open" keys
# than this goes to the careful unpickler, which counts equal hashes and keeps a key that shares its
# hash with more than ``SAME_HASH`` others unhashed.
OPEN_KEYS = 4096
SAME_HASH = 32

def _leaf(value: Any) -> int:
    if isinstance(value, frozenset):
        return 1 + len(value)
    if isinstance(value, int):
        return 1 + (value.bit_length() >> 11)
    return 1


class KeyGuard:
    """Measures keys (as DAGs, remembering shared tuples) and charges them to one load's budget."""

    __slots__ = ("_hashes", "_keep", "_sizes", "checks_sites", "colliding", "left", "per_key", "refused")

    def __init__(self, budget: int, per_key: int | None = None) -> None:
        self.left = budget
        self.per_key = budget if per_key is None else per_key
        self.checks_sites = False  # True under the Python unpickler: it admits every key itself
        self.refused = 0  # keys kept unhashed (CostlyKey) or containers kept as calls
        self.colliding = 0  # of those, keys kept unhashed because too many others share their hash
        self._sizes: dict[int, int] = {}
        self._keep: list[tuple] = []  # measured tuples stay alive, so their ids stay theirs
        self._hashes: dict[int, int] = {}  # hash -> how many admitted open keys have it

    def cost(self, value: Any) -> int:
        """Hash steps of ``value``, capped just above the per-key limit (linear in its DAG)."""
        if not isinstance(value, tuple):
            return _leaf(value)
        cap, sizes = self.per_key + 1, self._sizes
        if id(value) in sizes:
            return sizes[id(value)]
        todo = [value]
        while todo:
            item = todo[-1]
            if id(item) in sizes:
                todo.pop()
                continue
            pending = [child for child in item if isinstance(child, tuple) and id(child) not in sizes]
            if pending:
                todo.extend(pending)
                continue
            todo.pop()
            total = 1
            for child in item:
                total += sizes[id(child)] if isinstance(child, tuple) else _leaf(child)
                if total >= cap:
                    total = cap
                    break
            sizes[id(item)] = total
            self._keep.append(item)
        return sizes[id(value)]

    def fits(self, value: Any) -> bool:
        """Charge ``value``'s hash to the budget; False (nothing charged) when it is over."""
        if type(value) in (str, bytes, float, bool) or value is None:
            return True
        steps = self.cost(value)
        if steps <= FREE:
            return True
        if steps > self.per_key or steps > self.left:
            return False
        self.left -= steps
        return True

    def admit(self, key: Any) -> Any:
        """``key`` itself when hashing it is within budget and its hash is not shared by too many
        others, else a ``CostlyKey`` holding it."""
        if not self.fits(key):
            self.refused += 1
            return CostlyKey(key, self.cost(key))
        kind = type(key)
        if kind is str or kind is bytes or key is None or kind is bool or (
                kind is int and -2**31 <= key < 2**31):  # random hashes, or an int's own value
            return key
        try:
            digest = hash(key)  # affordable: ``fits`` measured it
        except TypeError:
            return key  # unhashable: the container reports it as the real loader would
        seen = self._hashes.get(digest, 0) + 1
        self._hashes[digest] = seen
        if seen <= SAME_HASH:
            return key
        self.refused += 1
        self.colliding += 1
        return CostlyKey(key, self.cost(key), shared=seen)


# -- the opcode walk for the C unpickler -----------------------------------------------------
class _Costly(Exception):
    """The walk found a key over budget (or could not follow the stream)."""


_CALL_COST = FREE  # what a call's result may cost to hash (our builders keep bigger ones as nodes)
# Walk entries are ``cost << 1 | open`` (``_walk``).
_LEAF_ENTRY = 1 << 1  # a string, bytes, small int, None, bool or empty container: cost 1, hashed at random
_OPEN_LEAF = 1 << 1 | 1  # a float, a LONG int, a global…: cost 1, but the file chooses its hash
_CALL_ENTRY = _CALL_COST << 1 | 1
# What each opcode byte does to the walk (``_walk``): one kind number per byte, 0 for unknown bytes.
(_UNKNOWN, _LEAF, _SHORT, _COUNTED, _FIXED, _MEMOIZE, _BINPUT, _BINGET, _MARK, _SETITEMS, _APPENDS,
 _TUPLE1, _TUPLE2, _TUPLE3, _TUPLE, _SETITEM, _APPEND, _LINE, _CALL, _OTHER) = range(20)
_KIND = [_UNKNOWN] * 256
_WIDTH = [0] * 256
_FORMAT: list[str] = [""] * 256
for _code in b"N\x88\x89])}\x8f\x97":
    _KIND[_code] = _LEAF
for _code, _fmt in ((0x8C, "<B"), (ord("U"), "<B"), (ord("C"), "<B"), (0x8A, "<B")):
    _KIND[_code], _FORMAT[_code] = _SHORT, _fmt
for _code, _fmt in ((ord("T"), "<i"), (ord("B"), "<I"), (0x8E, "<Q"), (0x96, "<Q"), (ord("X"), "<I"),
                    (0x8D, "<Q"), (0x8B, "<i")):
    _KIND[_code], _FORMAT[_code], _WIDTH[_code] = _COUNTED, _fmt, struct.calcsize(_fmt)
for _code, _width in ((ord("J"), 4), (ord("K"), 1), (ord("M"), 2), (ord("G"), 8), (0x82, 1), (0x83, 2),
                      (0x84, 4), (0x80, 1), (0x95, 8)):
    _KIND[_code], _WIDTH[_code] = _FIXED, _width
for _code, _kind, _width in ((0x94, _MEMOIZE, 0), (ord("q"), _BINPUT, 1), (ord("r"), _BINPUT, 4),
                             (ord("h"), _BINGET, 1), (ord("j"), _BINGET, 4), (ord("("), _MARK, 0),
                             (ord("u"), _SETITEMS, 0), (ord("e"), _APPENDS, 0), (0x85, _TUPLE1, 0),
                             (0x86, _TUPLE2, 0), (0x87, _TUPLE3, 0), (ord("t"), _TUPLE, 0),
                             (ord("s"), _SETITEM, 0), (ord("a"), _APPEND, 0), (ord("R"), _CALL, 0),
                             (0x81, _CALL, 0), (0x93, _CALL, 0)):
    _KIND[_code], _WIDTH[_code] = _kind, _width
for _code in b"IFLSVPgpci":
    _KIND[_code] = _LINE
for _code in b"d\x90\x91l0123\x92bo.QR\x98":
    if _KIND[_code] == _UNKNOWN:
        _KIND[_code] = _OTHER


try:  # the same walk compiled (storage/formats/objects/pickle/_keywalk.c), built by ``pip install``; optional
    from storage.formats.objects.pickle._keywalk import costly_keys as _compiled_walk
except ImportError:  # pragma: no cover - a source checkout nobody built, or no C compiler
    _compiled_walk = None

COMPILED = _compiled_walk is not None

try:  # the first look's census (storage/formats/objects/first.py); None when not built, or built before it
    from storage.formats.objects.pickle._keywalk import plain_census
except ImportError:  # pragma: no cover
    plain_census = None


def costly_keys(data: bytes | memoryview, start: int, budget: int, per_key: int | None = None,
                open_limit: int = OPEN_KEYS) -> bool:
    """True when loading the pickle at ``start`` with the C unpickler could hash more than the
    budgets allow (or the walk cannot vouch for it). Values are not built: the stack holds costs.

    The compiled walk answers when it was built (it reads the buffer in place, without the GIL);
    ``python_costly_keys`` is the same walk in Python."""
    if _compiled_walk is not None:
        return _compiled_walk(data, start, budget, budget if per_key is None else per_key, open_limit)
    return python_costly_keys(data, start, budget, per_key, open_limit)


def python_costly_keys(data: bytes | memoryview, start: int, budget: int, per_key: int | None = None,
                       open_limit: int = OPEN_KEYS) -> bool:
    """``costly_keys`` in Python: the reference the compiled walk is tested against."""
    try:
        _walk(data, start, budget, budget if per_key is None else per_key, open_limit)
    except _Costly:
        return True
    except (IndexError, KeyError, ValueError, struct.error):
        return True  # a stream the walk cannot follow: the careful path reports it
    return False


def _walk(data: bytes | memoryview, start: int, budget: int, per_key: int, open_limit: int) -> None:
    """Follow the opcodes with each stack entry's hash cost; raise ``_Costly`` over budget.

    An entry is ``cost << 1 | open``: ``open`` marks a value whose hash the file chooses (see
    ``OPEN_KEYS``); a tuple or frozenset is open when one of its items is."""
    if not isinstance(data, bytes):
        data = bytes(data)
    stack: list[int] = []
    marks: list[list[int]] = []
    memo: dict[int, int] = {}
    unpack, kinds, widths, formats = struct.unpack_from, _KIND, _WIDTH, _FORMAT
    left, cap, opened = budget, per_key + 1, 0
    pos, end = start, len(data)
    append = stack.append

    def charge(entry: int) -> None:
        nonlocal left, opened
        if entry & 1:
            opened += 1
            if opened > open_limit:
                raise _Costly
        steps = entry >> 1
        if steps > FREE:
            if steps > per_key or steps > left:
                raise _Costly
            left -= steps

    def combine(items: list[int]) -> int:
        """The entry of a tuple of ``items``."""
        opened = 0
        for entry in items:
            opened |= entry
        return min(1 + sum(entry >> 1 for entry in items), cap) << 1 | (opened & 1)

    while pos < end:
        code = data[pos]
        kind = kinds[code]
        pos += 1
        if kind == _BINGET:  # the most frequent opcode of real pickles
            if code == 0x68:
                append(memo[data[pos]])
                pos += 1
            else:
                append(memo[unpack("<I", data, pos)[0]])
                pos += 4
        elif kind == _SHORT:
            pos += 1 + data[pos]
            append(_OPEN_LEAF if code == 0x8A else _LEAF_ENTRY)  # LONG1: an int of any hash
        elif kind == _FIXED:
            pos += widths[code]
            if code != 0x80 and code != 0x95:  # PROTO and FRAME push nothing
                # BININT, BININT1, BININT2: 32-bit ints hash to themselves; floats and EXTs: open
                append(_LEAF_ENTRY if code in (0x4A, 0x4B, 0x4D) else _OPEN_LEAF)
        elif kind == _MEMOIZE:
            memo[len(memo)] = stack[-1]
        elif kind == _LEAF:
            append(_LEAF_ENTRY)
        elif kind == _BINPUT:
            width = widths[code]
            memo[data[pos] if width == 1 else unpack("<I", data, pos)[0]] = stack[-1]
            pos += width
        elif kind == _MARK:
            marks.append(stack)
            stack = []
            append = stack.append
        elif kind in (_SETITEMS, _APPENDS, _TUPLE):
            items = stack
            stack = marks.pop()
            append = stack.append
            if kind == _SETITEMS:
                for entry in items[::2]:
                    charge(entry)
            elif kind == _TUPLE:
                append(combine(items))
        elif kind == _TUPLE2:
            second = stack.pop()
            stack[-1] = combine([stack[-1], second])
        elif kind == _TUPLE1:
            stack[-1] = combine([stack[-1]])
        elif kind == _TUPLE3:
            third, second = stack.pop(), stack.pop()
            stack[-1] = combine([stack[-1], second, third])
        elif kind == _APPEND:
            stack.pop()
        elif kind == _SETITEM:
            stack.pop()
            charge(stack.pop())
        elif kind == _CALL:  # REDUCE, NEWOBJ, STACK_GLOBAL: two in, one out
            stack.pop()
            stack[-1] = _CALL_ENTRY
        elif kind == _COUNTED:
            (length,) = unpack(formats[code], data, pos)
            if length < 0:
                raise _Costly
            pos += widths[code] + length
            append((1 + (length >> 8)) << 1 | 1 if code == 0x8B else _LEAF_ENTRY)
        elif kind == _LINE:
            nl = data.find(b"\n", pos)
            if nl < 0:
                raise _Costly
            arg = data[pos:nl]
            pos = nl + 1
            if code == 0x67:  # GET
                append(memo[int(arg)])
            elif code == 0x70:  # PUT
                memo[int(arg)] = stack[-1]
            elif code == 0x63 or code == 0x69:  # GLOBAL, INST: a second line
                nl = data.find(b"\n", pos)
                if nl < 0:
                    raise _Costly
                pos = nl + 1
                if code == 0x69:
                    stack = marks.pop()
                    append = stack.append
                append(_CALL_ENTRY if code == 0x69 else _OPEN_LEAF)
            else:  # INT, FLOAT, LONG and PERSID are open; STRING and UNICODE hash at random
                append((1 + (len(arg) >> 8)) << 1 | (code not in (0x53, 0x56)))
        elif kind == _OTHER:
            if code == 0x2E:  # STOP
                return
            if code == 0x62:  # BUILD
                stack.pop()
            elif code == 0x32:  # DUP
                append(stack[-1])
            elif code == 0x30:  # POP (of a mark when the stack is empty)
                if stack:
                    stack.pop()
                else:
                    stack = marks.pop()
                    append = stack.append
            elif code == 0x92:  # NEWOBJ_EX
                stack.pop()
                stack.pop()
                stack[-1] = _CALL_ENTRY
            elif code == 0x51 or code == 0x98:  # BINPERSID, READONLY_BUFFER: one in, one out
                stack[-1] = _OPEN_LEAF
            else:  # DICT, ADDITEMS, FROZENSET, LIST, OBJ, POP_MARK: all take a marked slice
                items = stack
                stack = marks.pop()
                append = stack.append
                if code == 0x64 or code == 0x90 or code == 0x91:  # these hash what they take
                    for entry in (items[::2] if code == 0x64 else items):
                        charge(entry)
                if code == 0x91:  # a frozenset is open when a member is
                    append(min(1 + len(items), cap) << 1 | (combine(items) & 1))
                elif code == 0x6F:
                    append(_CALL_ENTRY)
                elif code == 0x64 or code == 0x6C:  # DICT and LIST push what they build; ADDITEMS and
                    append(_LEAF_ENTRY)  # POP_MARK push nothing (the set stays under the mark)
        else:
            raise _Costly  # an opcode the walk does not know: let the careful path judge
    raise _Costly  # no STOP: the careful path reports where the stream breaks
