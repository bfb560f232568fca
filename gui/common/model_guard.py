"""Item models never let an exception escape into Qt.

Qt calls ``data()``, ``rowCount()``, ``flags()``… from C++; in some paths PySide6 aborts the whole
process when a Python override raises (a pickle holding a 5,000-digit int made ``str()`` raise
inside ``data()`` and the window vanished). ``guard_model`` wraps the Qt overrides a model class
defines so that an unexpected exception is logged once and becomes a harmless answer: the cell
says what went wrong, a count is 0, an edit is refused.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QModelIndex, Qt

log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=type)
_DISPLAY = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
# Qt override -> what it answers when it raised (a callable gets the call's arguments)
_FALLBACKS: dict[str, Any] = {
    "rowCount": 0, "columnCount": 0, "hasChildren": False, "canFetchMore": False, "fetchMore": None,
    "setData": False, "setHeaderData": False, "headerData": None, "index": lambda *_args: QModelIndex(),
    "parent": lambda *_args: QModelIndex(), "sibling": lambda *_args: QModelIndex(),
    "buddy": lambda *_args: QModelIndex(),
    "flags": lambda *_args: Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable,
    "mimeData": None, "canDropMimeData": False, "dropMimeData": False, "mimeTypes": lambda *_args: [],
    "insertRows": False, "removeRows": False, "moveRows": False, "sort": None,
    "itemData": lambda *_args: {}, "roleNames": lambda *_args: {},
}
_logged: set[tuple[str, str, str]] = set()


def _data_fallback(error: BaseException, _index: Any = None, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    if role in _DISPLAY:
        return f"⚠ cannot show this value ({type(error).__name__})"
    return None


def _wrap(cls_name: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    fallback = _FALLBACKS.get(name)

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            key = (cls_name, name, type(exc).__name__)
            if key not in _logged:  # a view asks for every cell: say it once per kind
                _logged.add(key)
                log.error("%s.%s failed; answered with a fallback", cls_name, name, exc_info=exc)
            if name == "data":
                return _data_fallback(exc, *args, **kwargs)
            return fallback(*args) if callable(fallback) else fallback

    guarded._model_guarded = True  # type: ignore[attr-defined]
    return guarded


def guard_model(cls: _Model) -> _Model:
    """Class decorator: every Qt override ``cls`` itself defines answers instead of raising."""
    for name in ("data", *_FALLBACKS):
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "_model_guarded", False):
            setattr(cls, name, _wrap(cls.__name__, name, method))
    return cls


def is_guarded(cls: type) -> bool:
    """True when every Qt override that ``cls`` or its bases define in Python is guarded."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("PySide6"):
            break
        for name in ("data", *_FALLBACKS):
            method = klass.__dict__.get(name)
            if callable(method) and not getattr(method, "_model_guarded", False):
                return False
    return True
