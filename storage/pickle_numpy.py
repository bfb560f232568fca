"""Checks on the BUILD state of NumPy dtypes and arrays before NumPy's own ``__setstate__`` sees it.

NumPy trusts that state: a dtype state whose ``fields`` slot holds an int instead of a dict
crashes the interpreter. The safe loader therefore only rebuilds NumPy values in the Python
unpickler, where BUILD can be checked first; these functions say whether a state has exactly the
shape and types NumPy writes.
"""

from __future__ import annotations

import math
from typing import Any

_ENDIAN = frozenset({"<", ">", "|", "="})
_MAX_DIMS = 64


def _int(value: Any, low: int = -(2**31), high: int = 2**31) -> bool:
    return type(value) is int and low <= value <= high


def _shape(value: Any) -> bool:
    return (type(value) is tuple and len(value) <= _MAX_DIMS
            and all(_int(n, 0, 2**62) for n in value))


def dtype_state_ok(state: Any, np: Any) -> bool:
    """True for ``(version, endian, subarray, names, fields, elsize, alignment, flags[, metadata])``
    with the types NumPy writes (versions 3 and 4)."""
    if type(state) is not tuple or len(state) not in (8, 9):
        return False
    version, endian, subarray, names, fields, elsize, alignment, flags = state[:8]
    if version not in (3, 4) or type(version) is not int or endian not in _ENDIAN or type(endian) is not str:
        return False
    if not (_int(elsize, -1) and _int(alignment, -1) and _int(flags, 0)):
        return False
    if subarray is not None and not (type(subarray) is tuple and len(subarray) == 2
                                     and isinstance(subarray[0], np.dtype) and _shape(subarray[1])):
        return False
    if (names is None) != (fields is None):
        return False
    if names is not None:
        if type(names) is not tuple or not all(type(n) is str for n in names) or type(fields) is not dict:
            return False
        for key, entry in fields.items():
            if type(key) is not str or type(entry) is not tuple or len(entry) not in (2, 3):
                return False
            if not isinstance(entry[0], np.dtype) or not _int(entry[1], 0, 2**62):
                return False
            if len(entry) == 3 and not (entry[2] is None or type(entry[2]) is str):
                return False
        if not set(names) <= set(fields):
            return False
    if len(state) == 9:
        return _metadata_ok(state[8])
    return True


def _metadata_ok(meta: Any) -> bool:
    if meta is None or type(meta) is dict:
        return True
    if type(meta) is tuple and len(meta) == 2 and (meta[0] is None or type(meta[0]) is dict):
        unit = meta[1]  # datetime64 / timedelta64: (unit, num, den, events)
        return (type(unit) is tuple and len(unit) == 4 and type(unit[0]) is bytes and len(unit[0]) <= 8
                and all(_int(n) for n in unit[1:]))
    return False


def array_state_ok(state: Any, np: Any) -> int | None:
    """The number of raw bytes (or items) an ``ndarray.__setstate__`` state would copy, or None
    when it is not ``(version, shape, dtype, is_fortran, data)`` as NumPy writes it."""
    if type(state) is not tuple or len(state) != 5:
        return None
    version, shape, dtype, fortran, raw = state
    if not (_int(version, 0, 16) and _shape(shape) and isinstance(dtype, np.dtype) and type(fortran) is bool):
        return None
    count = math.prod(shape)
    if dtype.hasobject:
        return count if type(raw) is list and len(raw) == count else None
    if type(raw) not in (bytes, bytearray) or len(raw) != count * dtype.itemsize:
        return None
    return len(raw)
