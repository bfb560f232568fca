"""The labelled nodes of a safely loaded pickle: what the file would import or call, never done.

Containers and primitives of a pickle load as ordinary Python values; everything the safe loader
refuses to run becomes one of these nodes. They compare by identity (shared references and cycles
stay shared). ``parts()`` lists a node's named children in display order and ``set_part`` edits one,
so a tree view can show and edit them like container items.

A ``GlobalNode`` is itself a class (its type is the metaclass ``GlobalNode``): the C unpickler only
accepts a type for NEWOBJ, and a class lets the node stand in for the global on the unpickler's
stack. Calling it, or NEWOBJ on it, makes a ``CallNode``; the opcodes that would change the class
itself (BUILD, APPEND(S), SETITEM(S), ADDITEMS) are recorded in ``mutations``, never applied.
"""

from __future__ import annotations

from typing import Any, cast


class _NoState:
    """The sentinel of a CallNode that no BUILD opcode applied state to."""

    _instance: _NoState | None = None

    def __new__(cls) -> _NoState:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_STATE"

    def __reduce__(self) -> str:
        return "NO_STATE"


NO_STATE = _NoState()
_PREVIEW = 40


def preview(value: Any) -> str:
    """A short, never recursive text for a value inside a label."""
    if isinstance(value, str | bytes):
        text = repr(value)
        return text if len(text) <= _PREVIEW else text[:_PREVIEW - 2] + "…" + text[-1]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4000:
        return f"int of {value.bit_length():,} bits"
    if value is None or isinstance(value, bool | int | float):
        text = repr(value)
        return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "…"
    if isinstance(value, GlobalNode):
        return value.label()
    label = getattr(value, "label", None)
    if callable(label) and isinstance(value, CallNode | PersistentNode | BufferNode | CostlyKey):
        return value.label()
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return f"{type(value).__name__}(…)" if not isinstance(value, tuple | list | dict) else "…"


def _new_call(cls: GlobalNode, *args: Any, **kwargs: Any) -> CallNode:
    """NEWOBJ / NEWOBJ_EX on a global: ``cls.__new__(cls, *args, **kwargs)``, recorded."""
    if kwargs:
        return CallNode(cls, args, "newobj_ex", dict(kwargs))
    return CallNode(cls, args, "newobj")


class GlobalNode(type):
    """A class or function the pickle names (``module``, ``name``); it is never imported.

    ``build`` (used by the safe loader only) may rebuild an allowlisted value from the call's
    arguments; it returns ``NotImplemented`` to keep the call as a node.
    """

    # set in the class namespace by __new__ (declared here for the type checker only)
    module: str
    name: str
    build: Any
    real: Any
    mutations: list
    key: tuple[str, str]
    protocol: int | None
    finish: Any

    def __new__(mcs, module: str, name: str, build: Any = None, real: Any = None) -> GlobalNode:
        # ``key``: what find_class resolved the name to and ``protocol``: the one in force there
        # (set by the safe loader); ``finish``: how BUILD completes an allowlisted class's NEWOBJ.
        namespace = {"module": module, "name": name, "build": build, "real": real, "mutations": [],
                     "key": (module, name), "protocol": None, "finish": None,
                     "__slots__": (), "__new__": staticmethod(_new_call), "__module__": "pickle_nodes"}
        return super().__new__(mcs, "global", (), namespace)

    def __init__(cls, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        build = cls.build
        if build is not None and not kwargs:
            value = build(args)
            if value is not NotImplemented:
                return value
        if kwargs:
            return CallNode(cls, args, "reduce", dict(kwargs))
        return CallNode(cls, args, "reduce")

    # -- opcodes aimed at the global itself: recorded, never applied ---------------------------
    def __setstate__(cls, state: Any) -> None:
        cls.mutations.append(("build", state))

    def extend(cls, items: Any) -> None:
        cls.mutations.append(("appends", list(items)))

    def append(cls, item: Any) -> None:
        cls.mutations.append(("appends", [item]))

    def __setitem__(cls, key: Any, value: Any) -> None:
        cls.mutations.append(("setitem", (key, value)))

    def add(cls, item: Any) -> None:
        cls.mutations.append(("additems", [item]))

    # -- display ---------------------------------------------------------------------------
    @property
    def qualname(cls) -> str:
        return f"{cls.module}.{cls.name}"

    def severity(cls) -> str:
        """'dangerous', 'suspicious' or 'info' (``storage.formats.objects.pickle.danger.classify``)."""
        from storage.formats.objects.pickle.danger import classify  # its tables: when a global is shown

        return classify(str(cls.module), str(cls.name), cls.protocol)[0]

    def label(cls) -> str:
        return cls.qualname

    def parts(cls) -> list[tuple[str, Any]]:
        return [(f"{op} (on the global itself)", value) for op, value in cls.mutations]

    def set_part(cls, name: str, value: Any) -> None:
        for index, (op, _old) in enumerate(cls.mutations):
            if name == f"{op} (on the global itself)":
                cls.mutations[index] = (op, value)
                return
        raise KeyError(name)

    def __repr__(cls) -> str:
        return f"<global {cls.qualname}>"


class ExtensionNode(GlobalNode):
    """A global named by an extension code (EXT1/2/4) of ``copyreg``'s registry; never looked up."""

    code: int  # set in the class namespace by __new__

    def __new__(mcs, code: int) -> ExtensionNode:
        node = cast(ExtensionNode, super().__new__(mcs, "copyreg extension", str(code)))
        node.code = code
        return node

    def label(cls) -> str:
        return f"extension code {cls.code}"

    def __repr__(cls) -> str:
        return f"<extension {cls.code}>"


class CallNode:
    """A call the pickle asks for (``kind``: reduce, newobj, newobj_ex, inst or obj), not made.

    What later opcodes applied to the result is kept: ``state`` (BUILD, ``NO_STATE`` when none),
    ``list_items`` (APPEND/APPENDS), ``dict_items`` ((key, value) pairs of SETITEM(S)) and
    ``set_items`` (ADDITEMS); each is None when no such opcode came.
    """

    __slots__ = ("args", "dict_items", "func", "kind", "kwargs", "list_items", "set_items", "state")

    def __init__(self, func: Any, args: Any, kind: str = "reduce", kwargs: dict | None = None) -> None:
        self.func, self.args, self.kind, self.kwargs = func, args, kind, kwargs
        self.state: Any = NO_STATE
        self.list_items: list | None = None
        self.dict_items: list | None = None
        self.set_items: list | None = None

    # -- what the unpickler does to the result of a call: recorded --------------------------
    def __setstate__(self, state: Any) -> None:
        if self.state is not NO_STATE:
            raise ValueError("BUILD applied twice to the same object")
        self.state = state

    def extend(self, items: Any) -> None:
        if self.list_items is None:
            self.list_items = []
        self.list_items.extend(items)

    def append(self, item: Any) -> None:
        if self.list_items is None:
            self.list_items = []
        self.list_items.append(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.dict_items is None:
            self.dict_items = []
        self.dict_items.append((key, value))

    def add(self, item: Any) -> None:
        if self.set_items is None:
            self.set_items = []
        self.set_items.append(item)

    def __call__(self, *args: Any, **kwargs: Any) -> CallNode:
        """A call of a call's result (``getattr(x, 'system')('ls')``): recorded too."""
        return CallNode(self, args, "reduce", dict(kwargs) if kwargs else None)

    # -- display and editing -----------------------------------------------------------------
    def label(self) -> str:
        func = preview(self.func)
        args = self.args
        one = isinstance(args, tuple) and len(args) == 1
        inner = preview(args[0]) if one else ("" if args == () else "…")
        text = f"{func}({inner})"
        if isinstance(self.func, GlobalNode) and self.func.severity() == "dangerous":
            text += " — call"
        return text

    def parts(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [("func", self.func), ("args", self.args)]
        if self.kwargs is not None:
            out.append(("kwargs", self.kwargs))
        if self.state is not NO_STATE:
            out.append(("state", self.state))
        for name in ("list_items", "dict_items", "set_items"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, value))
        return out

    def set_part(self, name: str, value: Any) -> None:
        if name not in ("func", "args", "kwargs", "state", "list_items", "dict_items", "set_items"):
            raise KeyError(name)
        setattr(self, name, value)

    def __repr__(self) -> str:
        return f"<call {self.label()}>"


class PersistentNode:
    """A persistent ID (PERSID/BINPERSID): a reference to an object kept outside the pickle."""

    __slots__ = ("pid",)

    def __init__(self, pid: Any) -> None:
        self.pid = pid

    def __call__(self, *args: Any, **kwargs: Any) -> CallNode:
        return CallNode(self, args, "reduce", dict(kwargs) if kwargs else None)

    def __setstate__(self, state: Any) -> None:
        raise ValueError("BUILD applied to a persistent ID")

    def label(self) -> str:
        return f"persistent id {preview(self.pid)}"

    def parts(self) -> list[tuple[str, Any]]:
        return [("pid", self.pid)]

    def set_part(self, name: str, value: Any) -> None:
        if name != "pid":
            raise KeyError(name)
        self.pid = value

    def __repr__(self) -> str:
        return f"<{self.label()}>"


class BufferNode(bytes):
    """An out-of-band buffer (NEXT_BUFFER, protocol 5): its bytes were never in the file.

    It is an empty ``bytes`` so the C unpickler's READONLY_BUFFER accepts it; ``index`` is its
    position among the pickle's out-of-band buffers.
    """

    index: int  # type: ignore[assignment]  # shadows bytes.index on purpose: the buffer's position

    def __new__(cls, index: int) -> BufferNode:
        node = super().__new__(cls, b"")
        node.index = index
        return node

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def __setstate__(self, state: Any) -> None:
        raise ValueError("BUILD applied to an out-of-band buffer")

    def label(self) -> str:
        return f"out-of-band buffer #{self.index}"

    def parts(self) -> list[tuple[str, Any]]:
        return []

    def set_part(self, name: str, value: Any) -> None:
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"<{self.label()}>"


def describe(value: Any) -> str:
    """The display label of any node, or a short text for other values."""
    return preview(value)


class CostlyKey:
    """A dict key or set member whose hash would cost more than the load allows (``pickle_keys``).

    It is kept unhashed: the node hashes by identity, so two equal costly keys stay two entries
    (the real loader would merge them, after hashing for as long as ``steps`` says).
    """

    __slots__ = ("key", "shared", "steps")

    def __init__(self, key: Any, steps: int, shared: int = 0) -> None:
        self.key, self.steps, self.shared = key, steps, shared

    def label(self) -> str:
        kind = type(self.key).__name__
        if self.shared:  # a hash-collision attack: each insertion would probe every earlier one
            return f"{kind} key, not hashed: {self.shared - 1:,} keys before it have the same hash"
        return f"{kind} key, not hashed: hashing it takes over {self.steps - 1:,} steps"

    def parts(self) -> list[tuple[str, Any]]:
        return [("key", self.key)]

    def set_part(self, name: str, value: Any) -> None:
        if name != "key":
            raise KeyError(name)
        self.key = value

    def __repr__(self) -> str:
        return f"<{self.label()}>"
