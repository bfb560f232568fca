"""The safe loader's allowlist: exact (module, name) pairs it may rebuild, and how.

``resolve(module, name, resolved, careful, budget)`` gives what ``find_class`` returns for an
allowlisted global (``resolved``: ``pickle_danger.resolve_global``'s answer for the file's protocol):
in fast mode the real C type itself for types whose constructor is harmless with any arguments
(the C unpickler then calls it at full speed); in careful mode, and always for the rest, a
``GlobalNode`` whose ``build`` checks the argument types and rebuilds the value, or keeps the call
as a node. Nothing here imports a module the file names; NumPy is imported only when the file
references a NumPy global.
"""

from __future__ import annotations

import builtins
import collections
import datetime
import decimal
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from storage.formats.objects.pickle.danger import Resolved, classify, idiom_call, shaped_call, verdict_of
from storage.formats.objects.pickle.keys import FREE as FREE_KEY
from storage.formats.objects.pickle.keys import KeyGuard
from storage.formats.objects.pickle.nodes import CallNode, GlobalNode

if TYPE_CHECKING:  # imported lazily at run time (_numpy, _node)
    from storage.formats.objects.pickle.pending import PendingList

Builder = Callable[[tuple], Any]
_LATIN1 = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"})
# Types whose constructor only builds a small value from its arguments (it never calls them, never
# allocates much): the fast path hands the C unpickler the type itself.
FAST: dict[tuple[str, str], Any] = {("builtins", n): getattr(builtins, n)
                                    for n in ("int", "float", "complex", "bool", "object", "slice", "range")}
FAST.update({("datetime", n): getattr(datetime, n) for n in ("date", "time", "datetime", "timedelta",
                                                                "timezone")})
# Types that copy their argument: called through a builder that charges the copy to the load's
# budget, so one big memoized list passed to ``list()`` a million times cannot fill the memory.
COPYING: dict[tuple[str, str], Any] = {("builtins", n): getattr(builtins, n)
                                       for n in ("tuple", "list", "dict", "set", "frozenset")}
COPYING[("collections", "OrderedDict")] = collections.OrderedDict
COPYING[("decimal", "Decimal")] = decimal.Decimal
_FACTORIES = frozenset({list, dict, set, frozenset, int, float, complex, str, bytes, bytearray, tuple, bool,
                        collections.OrderedDict})  # defaultdict factories: they build empty values
_SIMPLE_DTYPE = re.compile(r"^[<>|=]?[a-zA-Z]{1,2}\d{0,3}(\[[a-zA-Z]{1,2}\])?$")


class LimitError(Exception):
    """A safety limit was reached; the message is for the user."""


class CopyBudget:
    """How many more items or bytes the rebuilt values of one load may copy, and (``keys``) how
    many more steps it may spend hashing dict keys and set members (``pickle_keys``)."""

    __slots__ = ("keys", "left")

    def __init__(self, left: int) -> None:
        self.left = left
        self.keys = KeyGuard(left)

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise LimitError("the pickle rebuilds far more data than it holds (a copy bomb)")


_HASHING = frozenset({set, frozenset, dict, collections.OrderedDict})


def _cheap_to_hash(real: Any, items: Any, budget: CopyBudget) -> bool:
    """Whether building ``real(items)`` hashes only keys within the load's budget (a tuple is
    checked too: it may become a key later, and the C unpickler would hash it unchecked)."""
    keys = budget.keys
    if real is tuple:  # the Python unpickler checks every key it hashes; the C one is told this cost
        return keys.checks_sites or keys.cost(tuple(items)) <= FREE_KEY
    if real is dict or real is collections.OrderedDict:
        if isinstance(items, dict):
            return True  # its keys were checked when it was built
        items = [pair[0] for pair in items if isinstance(pair, tuple | list) and pair]
    if all(keys.fits(item) for item in items):
        return True
    keys.refused += 1
    return False


def _copying(real: Any, budget: CopyBudget) -> Builder:
    def build(args: tuple) -> Any:
        if args:
            try:
                budget.spend(len(args[0]))
            except TypeError:  # no length: a node, or something the real type would refuse anyway
                if not isinstance(args[0], int | float | complex):
                    return NotImplemented
            if (real in _HASHING or real is tuple) and not isinstance(args[0], int | float | complex):
                try:
                    if not _cheap_to_hash(real, args[0], budget):
                        return NotImplemented
                except TypeError:
                    return NotImplemented
        try:
            return real(*args)
        except (TypeError, ValueError, OverflowError, ArithmeticError, KeyError):
            return NotImplemented
    return build


def _try(real: Any) -> Builder:
    def build(args: tuple) -> Any:
        try:
            return real(*args)
        except (TypeError, ValueError, OverflowError, ArithmeticError, KeyError):
            return NotImplemented
    return build


def _build_str(args: tuple) -> Any:
    if not args:
        return ""
    return args[0] if len(args) == 1 and type(args[0]) is str else NotImplemented


def _bytes_like(kind: type, budget: CopyBudget) -> Builder:
    """bytes()/bytearray() from bytes or (str, latin-1); never from a size (a memory bomb)."""
    def build(args: tuple) -> Any:
        if not args:
            return kind()
        if isinstance(args[0], str | bytes | bytearray):
            budget.spend(len(args[0]))
        if len(args) == 1 and type(args[0]) in (bytes, bytearray):
            return kind(args[0])
        if len(args) == 2 and type(args[0]) is str and type(args[1]) is str and args[1].lower() in _LATIN1:
            try:
                return kind(args[0].encode("latin-1"))
            except UnicodeEncodeError:
                return NotImplemented
        return NotImplemented
    return build


def _encoder(budget: CopyBudget) -> Builder:
    def build_encode(args: tuple) -> Any:
        """``_codecs.encode(text, 'latin1')``: how protocols 0-2 write bytes."""
        if len(args) == 2 and type(args[0]) is str and type(args[1]) is str and args[1].lower() in _LATIN1:
            budget.spend(len(args[0]))
            try:
                return args[0].encode("latin-1")
            except UnicodeEncodeError:
                return NotImplemented
        return NotImplemented
    return build_encode


def _real(value: Any) -> Any:
    if isinstance(value, GlobalNode) and value.real is not None:
        return value.real
    return value


def _build_defaultdict(args: tuple) -> Any:
    if len(args) == 1:
        factory = _real(args[0])
        if factory is None or (isinstance(factory, type) and factory in _FACTORIES):
            return collections.defaultdict(factory)
    return NotImplemented


def _numpy(name: str, pending: PendingList | None = None,
           budget: CopyBudget | None = None) -> tuple[Builder | None, Any]:
    """(builder, real object) for an allowlisted NumPy global.

    With ``pending`` (the C unpickler's load), dtypes and arrays are made as ``Pending``
    placeholders whose BUILD is checked (``pickle_pending``), and are listed there.
    """
    import numpy as np

    def placed(kind: str, value: Any) -> Any:
        if pending is None:
            return value
        from storage.formats.objects.pickle.pending import Pending

        holder = Pending(kind, value, (budget or CopyBudget(0)).spend)
        pending.append(holder)
        return holder

    if name == "ndarray":
        return None, np.ndarray
    if name == "dtype":
        def build_dtype(args: tuple) -> Any:
            # NumPy < 1.10 wrote the align/copy flags as the ints 0 and 1, later ones as bools
            if (len(args) == 3 and type(args[0]) is str and _SIMPLE_DTYPE.match(args[0])
                    and all(type(f) is bool or (type(f) is int and f in (0, 1)) for f in args[1:])):
                try:
                    return placed("dtype", np.dtype(args[0], bool(args[1]), bool(args[2])))
                except (TypeError, ValueError):
                    return NotImplemented
            return NotImplemented
        return build_dtype, np.dtype
    if name == "matrix":
        return None, np.matrix
    if name == "_reconstruct":
        def build_reconstruct(args: tuple) -> Any:
            # an empty placeholder that BUILD replaces by the array its (checked) state describes
            # (``SlowUnpickler._build_numpy``); a matrix placeholder becomes a matrix view of it
            subtype = _real(args[0]) if len(args) == 3 else None
            if (subtype is np.ndarray or subtype is np.matrix) and type(args[2]) in (bytes, str):
                return placed("array", np.ndarray.__new__(subtype, (0,), "b"))
            return NotImplemented
        return build_reconstruct, None
    if name == "scalar":
        def build_scalar(args: tuple) -> Any:
            if len(args) != 2 or not isinstance(args[0], np.dtype):
                return NotImplemented
            if args[0].hasobject:
                return args[1]
            raw = args[1]
            if type(raw) is str:  # a Python 2 pickle read with encoding='latin1', as NumPy accepts
                try:
                    raw = raw.encode("latin-1")
                except UnicodeEncodeError:
                    return NotImplemented
            if type(raw) is not bytes or len(raw) != args[0].itemsize:
                return NotImplemented
            return np.frombuffer(raw, args[0])[0].copy()
        return build_scalar, None
    if name == "_frombuffer":
        def build_frombuffer(args: tuple) -> Any:
            if (len(args) != 4 or not isinstance(args[0], bytes | bytearray)
                    or not isinstance(args[1], np.dtype)):
                return NotImplemented
            buf, dtype, shape, order = args
            if dtype.hasobject or not isinstance(shape, tuple) or order not in ("C", "F"):
                return NotImplemented
            try:
                return placed("array", np.frombuffer(buf, dtype).reshape(shape, order=order))
            except (TypeError, ValueError):
                return NotImplemented
        return build_frombuffer, None
    return None, None


def _build_counter(budget: CopyBudget) -> Builder:
    def build(args: tuple) -> Any:
        if not args:
            return collections.Counter()
        if len(args) == 1 and type(args[0]) is dict:
            budget.spend(len(args[0]))
            return collections.Counter(args[0])
        return NotImplemented
    return build


def _build_deque(budget: CopyBudget) -> Builder:
    """``deque.__reduce__`` gives ``(deque, ((), maxlen))`` and APPENDS the items to the result."""
    def build(args: tuple) -> Any:
        if not args:
            return collections.deque()
        if len(args) > 2 or type(args[0]) not in (tuple, list):
            return NotImplemented
        maxlen = args[1] if len(args) == 2 else None
        if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
            return NotImplemented
        budget.spend(len(args[0]))
        return collections.deque(args[0], maxlen)
    return build


def _build_fraction(args: tuple) -> Any:
    """``Fraction(numerator, denominator)`` (3.11+) or ``Fraction(text)`` (older)."""
    import fractions

    if (len(args) == 2 and all(type(a) is int and a.bit_length() <= 65_536 for a in args)) or (
            len(args) == 1 and type(args[0]) is str and len(args[0]) <= 10_000):  # gcd of huge ints: slow
        return _try(fractions.Fraction)(args)
    return NotImplemented


def _address(name: str) -> Builder:
    """An ``ipaddress`` value from its int or text (``_IPAddressBase.__reduce__``)."""
    def build(args: tuple) -> Any:
        import ipaddress

        if len(args) == 1 and (type(args[0]) is int or (type(args[0]) is str and len(args[0]) <= 100)):
            try:
                return getattr(ipaddress, name)(args[0])
            except ValueError:
                return NotImplemented
        return NotImplemented
    return build


def _path(name: str) -> Builder:
    """A ``pathlib`` path from its parts; building one touches nothing (a foreign-OS concrete
    path, which the real loader refuses too, stays a call)."""
    def build(args: tuple) -> Any:
        import pathlib

        if all(type(a) is str for a in args):
            try:
                return getattr(pathlib, name)(*args)
            except (TypeError, ValueError, NotImplementedError):
                return NotImplemented
        return NotImplemented
    return build


def _finish_uuid(state: Any) -> Any:
    """``UUID.__setstate__`` with a checked state: the 128-bit int (and its ``is_safe``)."""
    import uuid

    if type(state) is not dict or not set(state) <= {"int", "is_safe"} or type(state.get("int")) is not int:
        return NotImplemented
    try:
        value = uuid.UUID(int=state["int"])
        if "is_safe" in state:
            object.__setattr__(value, "is_safe", uuid.SafeUUID(state["is_safe"]))
    except ValueError:
        return NotImplemented
    return value


def _build_reconstructor(args: tuple) -> Any:
    """``copyreg._reconstructor(cls, object, None)``, protocols 0-1's NEWOBJ: kept as a call that
    BUILD may finish (``finish`` of an allowlisted class)."""
    if (len(args) == 3 and isinstance(args[0], GlobalNode) and args[0].finish is not None
            and _real(args[1]) is object and args[2] is None):
        return CallNode(args[0], (), "newobj")
    return NotImplemented


def _zone(args: tuple) -> Any:
    """``ZoneInfo._unpickle(key, from_cache)``: ``ZoneInfo(key)`` validates the key (a normalised
    relative path below the time-zone folders) and reads only time-zone data."""
    if (len(args) != 2 or type(args[0]) is not str or not 0 < len(args[0]) <= 255
            or type(args[1]) not in (int, bool) or not 0 <= args[1] <= 255):
        return NotImplemented
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(args[0]) if args[1] else zoneinfo.ZoneInfo.no_cache(args[0])
    except (ValueError, KeyError, OSError, TypeError, UnicodeError):
        return NotImplemented


class IdiomUse:
    """How a generic callable (``builtins.getattr``) was used in one load: safe only when every time
    it was on the stack, its idiom's exact call consumed it (``pickle_danger.IDIOMS``); suspicious
    when some of those calls were ``getattr(Class, 'name')`` whose result was never called."""

    __slots__ = ("attribute", "called", "exact", "node", "pushes")

    def __init__(self) -> None:
        self.node: GlobalNode | None = None
        self.pushes = 0
        self.exact = 0
        self.attribute = 0
        self.called = False

    @property
    def misused(self) -> bool:
        return self.pushes != self.exact + self.attribute or self.called


class FetchedAttribute(CallNode):
    """``getattr(Class, 'name')`` kept as a call (an enum member); calling it, or NEWOBJ on it,
    is what would make it code, so that is noted on the getattr's ``IdiomUse``."""

    __slots__ = ("use",)

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(cls, FetchedAttribute):  # NEWOBJ: ``obj.__new__(obj, *args)``
            cls.use.called = True
            return CallNode(cls, args, "newobj_ex" if kwargs else "newobj", dict(kwargs) if kwargs else None)
        return super().__new__(cls)

    def __init__(self, use: IdiomUse, func: Any, args: tuple) -> None:
        super().__init__(func, args)
        self.use = use

    def __call__(self, *args: Any, **kwargs: Any) -> CallNode:
        self.use.called = True
        return super().__call__(*args, **kwargs)


def _severity(node: GlobalNode) -> str:
    protocol = node.protocol
    return classify(node.module, node.name)[0] if protocol is None else verdict_of(
        node.module, node.name, protocol)[1][0]


def idiom_node(module: str, name: str, func: tuple[str, str], use: IdiomUse) -> GlobalNode:
    """The stand-in of a generic callable: its exact idiom call gives ``ZoneInfo._unpickle``,
    ``getattr(Class, 'name')`` a ``FetchedAttribute``."""
    node: GlobalNode

    def build(args: tuple) -> Any:
        target = args[0] if len(args) == 2 and type(args[0]) is GlobalNode else None  # not an EXT code
        if target is None:
            return NotImplemented
        kind = idiom_call(func, target.key, _severity(target), args[1])
        if kind == "exact":
            use.exact += 1
            return GlobalNode(args[0].module, f"{args[0].name}._unpickle", _zone)
        if kind == "attribute":
            use.attribute += 1
            return FetchedAttribute(use, node, args)
        return NotImplemented
    node = GlobalNode(module, name, build)
    use.node = node
    return node


def _pytz(key: tuple[str, str], args: tuple) -> Any:
    """The tzinfo ``pytz._p`` / ``_UTC`` / ``FixedOffset`` returns, without calling ``_p``: it
    adds a new local time to the zone's shared table when the pickled one is unknown; this keeps
    the call. Only when pytz is installed and knows the zone name (``all_timezones_set``)."""
    try:
        import pytz
    except ImportError:
        return NotImplemented
    if key[1] == "_UTC":
        return pytz.utc
    if key[1] == "FixedOffset":  # cached by pytz: one instance per offset (at most 2,879)
        return pytz.FixedOffset(args[0])
    zone = args[0]
    if zone not in pytz.all_timezones_set:
        return NotImplemented
    try:
        tz = pytz.timezone(zone)
    except (KeyError, ValueError, OSError, UnicodeError):
        return NotImplemented
    if len(args) == 1:
        return tz
    utc, dst = datetime.timedelta(seconds=args[1]), datetime.timedelta(seconds=args[2])
    local = getattr(tz, "_tzinfos", {})
    found = local.get((utc, dst, args[3]))
    if found is None:  # as pytz: an abbreviation the database renamed since
        found = next((t for t in local.values() if t._utcoffset == utc and t._dst == dst), None)
    return NotImplemented if found is None else found


def shaped_node(module: str, name: str, resolved: Resolved, use: IdiomUse, budget: CopyBudget,
                pending: PendingList | None = None) -> GlobalNode:
    """The stand-in of a ``SHAPED_CALLS`` function: a call with the arguments its library writes
    is counted as exact (and rebuilt when it can be); any other use leaves it suspicious.
    ``pending``: the C unpickler's NumPy placeholders (``resolve``)."""
    func = resolved.key
    allowed = resolve(module, name, resolved, True, budget, pending)  # NumPy's _reconstruct: its builder
    inner = allowed.build if isinstance(allowed, GlobalNode) else None

    def build(args: tuple) -> Any:
        if not shaped_call(func, args):
            return NotImplemented
        use.exact += 1
        return inner(args) if inner is not None else _pytz(func, args)
    node = GlobalNode(module, name, build)
    use.node = node
    return node


_NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "matrix"),
          ("numpy.matrixlib.defmatrix", "matrix"),
          ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
          ("numpy.core._internal", "_reconstruct"), ("numpy._core._internal", "_reconstruct"),
          ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
          ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
def _named(make: Callable[[str], Builder], name: str) -> Callable[[CopyBudget], Builder]:
    """A builder factory that makes ``name``'s builder (the budget is not needed)."""
    return lambda _budget: make(name)


_BUILDERS: dict[tuple[str, str], Callable[[CopyBudget], Builder]] = {
    ("collections", "Counter"): _build_counter,
    ("collections", "deque"): _build_deque,
    ("fractions", "Fraction"): lambda _budget: _build_fraction,
    ("copyreg", "_reconstructor"): lambda _budget: _build_reconstructor,
    **{("ipaddress", f"IPv{v}{kind}"): _named(_address, f"IPv{v}{kind}")
       for v in (4, 6) for kind in ("Address", "Network", "Interface")},
    **{(m, n): _named(_path, n) for m in ("pathlib", "pathlib._local")
       for n in ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath")},
    ("builtins", "str"): lambda _budget: _build_str,
    ("builtins", "bytes"): lambda budget: _bytes_like(bytes, budget),
    ("builtins", "bytearray"): lambda budget: _bytes_like(bytearray, budget),
    ("_codecs", "encode"): _encoder,
    ("collections", "defaultdict"): lambda _budget: _build_defaultdict,
}
_REAL_OF_BUILDER = {("builtins", "str"): str, ("builtins", "bytes"): bytes,
                    ("builtins", "bytearray"): bytearray,
                    ("collections", "defaultdict"): collections.defaultdict,
                    ("collections", "Counter"): collections.Counter,
                    ("collections", "deque"): collections.deque}
# Classes rebuilt by NEWOBJ (or ``_reconstructor``) then BUILD: ``finish(state)`` makes the value.
_FINISH: dict[tuple[str, str], Callable[[Any], Any]] = {("uuid", "UUID"): _finish_uuid}


def needs_build_check(key: tuple[str, str]) -> bool:
    """True for the classes whose BUILD state only the Python unpickler may check (``_FINISH``)."""
    return key in _FINISH


def resolve(module: str, name: str, resolved: Resolved, careful: bool, budget: CopyBudget,
            pending: PendingList | None = None) -> Any:
    """What ``find_class`` returns for ``module.name`` (written so; ``resolved`` for the file's
    protocol): a real type, a GlobalNode with a builder, or None when it is not allowlisted.
    ``pending`` is given on the C unpickler's path: builders then see NumPy placeholders as their
    values (``pickle_pending``)."""
    key = resolved.key
    real = FAST.get(key)
    if real is not None:
        return _node(module, name, _try(real), real, pending, budget) if careful else real
    real = COPYING.get(key)
    if real is not None:
        return _node(module, name, _copying(real, budget), real, pending, budget)
    make = _BUILDERS.get(key)
    if make is not None:
        return _node(module, name, make(budget), _REAL_OF_BUILDER.get(key), pending, budget)
    if key in _NUMPY:
        build, real = _numpy(key[1], pending, budget)
        return _node(module, name, build, real, pending, budget)
    finish = _FINISH.get(key)
    if finish is not None:
        node = GlobalNode(module, name)
        node.finish = finish
        return node
    return None


def _node(module: str, name: str, build: Builder | None, real: Any, pending: PendingList | None,
          budget: CopyBudget) -> GlobalNode:
    if pending is None or build is None:
        return GlobalNode(module, name, build, real)
    from storage.formats.objects.pickle.pending import held, unwrap_args

    inner, spend = build, budget.spend
    return GlobalNode(module, name, lambda args: held(inner(unwrap_args(args)), pending, spend), real)
