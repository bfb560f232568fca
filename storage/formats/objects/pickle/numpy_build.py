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


def _text(value: Any) -> str | None:
    """A name NumPy accepts as text: str, or ASCII bytes (a Python 2 pickle read with
    ``encoding='bytes'``), as ``arraydescr_setstate`` converts them."""
    if type(value) is str:
        return value
    if type(value) is bytes:
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


def _dtype_state(state: Any) -> tuple:
    """(version, endian, subarray, names, fields, elsize, alignment, flags, meta) from any state
    tuple NumPy's ``arraydescr_setstate`` reads: 9 items (version 4, metadata), 8 (version 3,
    NumPy 1.6 on), 7 (no flags), 6 (no names) and 5 (no version: version 0)."""
    if type(state) is not tuple or not 5 <= len(state) <= 9:
        raise ValueError("a dtype's state has the wrong length")
    size = len(state)
    flags, meta, names = 0, None, None
    if size == 5:
        version = 0
        endian, subarray, fields, elsize, alignment = state
    elif size == 6:
        version, endian, subarray, fields, elsize, alignment = state
    else:
        version, endian, subarray, names, fields, elsize, alignment = state[:7]
        if size >= 8:
            flags = state[7]
        if size == 9:
            meta = state[8]
    if type(version) is not int or not 0 <= version <= 4:
        raise ValueError(f"a dtype's state has version {version!r}; NumPy reads versions 0 to 4")
    if version <= 1 and fields is not None:
        # versions 0 and 1 kept the names in the fields dict, under the key -1
        if type(fields) is not dict or -1 not in fields:
            raise ValueError("a dtype's fields are not valid")
        fields = dict(fields)
        names = fields.pop(-1)
    endian = _text(endian) if type(endian) is bytes else endian
    if type(flags) is int and -128 <= flags < 0:
        flags += 128  # NumPy kept the flags in a signed char once, and normalizes them so
    return version, endian, subarray, names, fields, elsize, alignment, flags, meta


def _named_fields(names: Any, fields: Any) -> tuple[tuple, dict]:
    """Names and fields with bytes names turned into text, as NumPy does."""
    if type(names) is not tuple or type(fields) is not dict:
        raise ValueError("a dtype's fields are not valid")
    texts, entries = [], {}
    for name in names:
        text = _text(name)
        if text is None or name not in fields:
            raise ValueError("a dtype's field names are not valid")
        texts.append(text)
        entries[text] = fields[name]
    return tuple(texts), entries


def rebuild_dtype(base: Any, state: Any, np: Any) -> Any:
    """The dtype ``base`` (made from its descriptor) becomes once BUILD applies ``state``.

    Every state layout NumPy has written is read (see ``_dtype_state``). Raises ValueError or
    TypeError when the state is not one NumPy writes.
    """
    _version, endian, subarray, names, fields, elsize, alignment, flags, meta = _dtype_state(state)
    if (type(endian) is not str or endian not in _ENDIAN
            or not (_int(elsize, -1) and _int(alignment, -1) and _int(flags, 0, 2**63))):
        raise ValueError("a dtype's state is not valid")
    if (names is None) != (fields is None):
        raise ValueError("a dtype's state has names without fields or fields without names")
    if base.kind == "V" and (subarray is not None or names is not None):
        if subarray is not None:
            if not (type(subarray) is tuple and len(subarray) == 2 and isinstance(subarray[0], np.dtype)
                    and (_shape(subarray[1]) or _int(subarray[1], 0, 2**62))):
                raise ValueError("a dtype's subarray is not valid")
            out = np.dtype((subarray[0], subarray[1]))
        else:
            names, fields = _named_fields(names, fields)
            out = np.dtype(_fields_spec(names, fields, elsize, np), align=bool(flags & 128))
        if out.itemsize != elsize:
            raise ValueError("a dtype's size does not match its fields")
    elif subarray is not None or names is not None or fields is not None:
        raise ValueError("a dtype's state has fields its type cannot have")
    elif elsize not in (-1, base.itemsize) and not (base.kind in "SUV" and elsize > 0 and base.itemsize == 0):
        raise ValueError("a dtype's size does not match its type")
    else:
        out = base
        if base.itemsize == 0 and elsize > 0:  # an unsized 'S'/'U'/'V' takes its size from the state
            if base.kind == "U" and elsize % 4:
                raise ValueError("a dtype's size does not match its type")
            out = np.dtype(f"{base.byteorder if base.kind == 'U' else ''}{base.kind}"
                           f"{elsize // 4 if base.kind == 'U' else elsize}")
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
    name = _text(unit[0]) if type(unit) is tuple and unit else None  # bytes; str from Python 2 pickles
    if not (type(unit) is tuple and len(unit) == 4 and name and name.isascii() and name.isalpha()
            and len(name) <= 8 and all(_int(n, 1) for n in unit[1:]) and unit[2:] == (1, 1)):
        raise ValueError("a datetime dtype's unit is not valid")
    order = endian if endian in "<>=" else ""
    count = "" if unit[1] == 1 else str(unit[1])
    return f"{order}{base.kind}8[{count}{name}]"


def rebuild_array(state: Any, np: Any, spend: Any) -> Any:
    """The array ``(version, shape, dtype, is_fortran, data)`` describes, built by NumPy's public
    constructors (``spend(n)`` is charged for the copy). Raises ValueError when not valid."""
    if type(state) is not tuple or len(state) not in (4, 5):
        raise ValueError("an array's state has the wrong length")
    if len(state) == 4:  # the oldest layout had no version
        state = (0, *state)
    version, shape, dtype, fortran, raw = state
    if type(fortran) is int and fortran in (0, 1):  # NumPy < 1.10 wrote an int
        fortran = bool(fortran)
    if not (_int(version, 0, 16) and _shape(shape) and isinstance(dtype, np.dtype) and type(fortran) is bool):
        raise ValueError("an array's state is not valid")
    if type(raw) is str:  # a Python 2 pickle read with encoding='latin1': NumPy encodes it back
        try:
            raw = raw.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("an array's data is text that is not latin-1") from None
    count = math.prod(shape)
    order = "F" if fortran else "C"
    if dtype.hasobject:
        if type(raw) is not list or len(raw) != count:
            raise ValueError("an object array's items are not valid")
        spend(count)
        if dtype == np.dtype(object):  # each item kept as it is (fromiter never unpacks one)
            return np.fromiter(raw, dtype=dtype, count=count).reshape(shape, order=order)
        flat = np.empty(count, dtype=dtype)
        for index, item in enumerate(raw):
            if type(item) is not tuple:  # a structured item with object fields
                raise ValueError("an item of a structured array is not a tuple")
            flat[index] = item
        return flat.reshape(shape, order=order)
    if type(raw) not in (bytes, bytearray) or len(raw) != count * dtype.itemsize:
        raise ValueError("an array's data does not match its shape and dtype")
    spend(len(raw))
    # A view of the pickle's own bytes, not a copy (read-only when they are ``bytes``)
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order=order)
    if dtype.byteorder in "<>" and not dtype.isnative and dtype.names is None and dtype.metadata is None:
        array = array.astype(dtype.newbyteorder("="))  # NumPy's __setstate__ swaps to native order too
    return array
