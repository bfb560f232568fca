"""NumPy dtypes and arrays rebuilt from their BUILD state without NumPy's own ``__setstate__``.

NumPy trusts that state: a dtype state whose ``fields`` slot holds an int, or a timedelta dtype
without its unit, crashes the interpreter. So the safe loader checks the state's shape and types
and then builds the value with NumPy's public constructors, which validate everything; the Python
unpickler puts the new object where the half-built one was.
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


def _fields_spec(names: tuple, fields: dict, elsize: int, np: Any) -> dict:
    spec: dict[str, list] = {"names": [], "formats": [], "offsets": [], "titles": []}
    for name in names:
        entry = fields.get(name)
        if (type(entry) is not tuple or len(entry) not in (2, 3) or not isinstance(entry[0], np.dtype)
                or not _int(entry[1], 0, 2**62)
                or (len(entry) == 3 and not (entry[2] is None or type(entry[2]) is str))):
            raise ValueError("a field of the dtype is not valid")
        spec["names"].append(name)
        spec["formats"].append(entry[0])
        spec["offsets"].append(entry[1])
        spec["titles"].append(entry[2] if len(entry) == 3 else None)
    spec["itemsize"] = elsize  # type: ignore[assignment]
    return spec


def rebuild_dtype(base: Any, state: Any, np: Any) -> Any:
    """The dtype ``base`` (made from its descriptor) becomes once BUILD applies ``state``.

    Raises ValueError or TypeError when the state is not one NumPy writes.
    """
    if type(state) is not tuple or len(state) not in (8, 9):
        raise ValueError("a dtype's state has the wrong length")
    version, endian, subarray, names, fields, elsize, alignment, flags = state[:8]
    meta = state[8] if len(state) == 9 else None
    if (type(version) is not int or version not in (3, 4) or type(endian) is not str or endian not in _ENDIAN
            or not (_int(elsize, -1) and _int(alignment, -1) and _int(flags, 0))):
        raise ValueError("a dtype's state is not valid")
    if base.kind == "V" and (subarray is not None or names is not None):
        if subarray is not None:
            if not (type(subarray) is tuple and len(subarray) == 2 and isinstance(subarray[0], np.dtype)
                    and _shape(subarray[1])):
                raise ValueError("a dtype's subarray is not valid")
            out = np.dtype((subarray[0], subarray[1]))
        else:
            if type(names) is not tuple or not all(type(n) is str for n in names) or type(fields) is not dict:
                raise ValueError("a dtype's fields are not valid")
            out = np.dtype(_fields_spec(names, fields, elsize, np), align=bool(flags & 128))
        if out.itemsize != elsize:
            raise ValueError("a dtype's size does not match its fields")
    elif subarray is not None or names is not None or fields is not None:
        raise ValueError("a dtype's state has fields its type cannot have")
    elif elsize not in (-1, base.itemsize):
        raise ValueError("a dtype's size does not match its type")
    else:
        out = base
        if base.kind in "mM":
            out = np.dtype(_datetime_descr(base, endian, meta))
            meta = meta[0] if type(meta) is tuple else None
        elif endian in "<>" and base.byteorder != "|":
            out = base.newbyteorder(endian)
    if meta is not None:
        if type(meta) is not dict:
            raise ValueError("a dtype's metadata is not valid")
        out = np.dtype(out, metadata=meta)
    return out


def _datetime_descr(base: Any, endian: str, meta: Any) -> str:
    if not (type(meta) is tuple and len(meta) == 2 and (meta[0] is None or type(meta[0]) is dict)):
        raise ValueError("a datetime dtype has no unit")
    unit = meta[1]
    if not (type(unit) is tuple and len(unit) == 4 and type(unit[0]) is bytes and unit[0].isalpha()
            and len(unit[0]) <= 8 and all(_int(n, 1) for n in unit[1:]) and unit[2:] == (1, 1)):
        raise ValueError("a datetime dtype's unit is not valid")
    order = endian if endian in "<>=" else ""
    count = "" if unit[1] == 1 else str(unit[1])
    return f"{order}{base.kind}8[{count}{unit[0].decode('ascii')}]"


def rebuild_array(state: Any, np: Any, spend: Any) -> Any:
    """The array ``(version, shape, dtype, is_fortran, data)`` describes, built by NumPy's public
    constructors (``spend(n)`` is charged for the copy). Raises ValueError when not valid."""
    if type(state) is not tuple or len(state) != 5:
        raise ValueError("an array's state has the wrong length")
    version, shape, dtype, fortran, raw = state
    if not (_int(version, 0, 16) and _shape(shape) and isinstance(dtype, np.dtype) and type(fortran) is bool):
        raise ValueError("an array's state is not valid")
    count = math.prod(shape)
    order = "F" if fortran else "C"
    if dtype.hasobject:
        if type(raw) is not list or len(raw) != count:
            raise ValueError("an object array's items are not valid")
        spend(count)
        flat = np.empty(count, dtype=dtype)
        plain = dtype == np.dtype(object)
        for index, item in enumerate(raw):
            if not plain and type(item) is not tuple:  # a structured item with object fields
                raise ValueError("an item of a structured array is not a tuple")
            flat[index] = item
        return flat.reshape(shape, order=order)
    if type(raw) not in (bytes, bytearray) or len(raw) != count * dtype.itemsize:
        raise ValueError("an array's data does not match its shape and dtype")
    spend(len(raw))
    return np.frombuffer(bytearray(raw), dtype=dtype, count=count).reshape(shape, order=order)
