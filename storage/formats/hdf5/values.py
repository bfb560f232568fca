"""Turning HDF5 values into text safely: strings decoded, references named, nothing huge shown.

Cells and attributes can hold fixed or variable-length strings (bytes in any encoding),
object or region references, enums, opaque blobs, nested compounds and variable-length arrays.
Every function here returns short text and never raises on odd data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_TEXT = 200
MAX_ITEMS = 16


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else text[:limit] + "…"


def decode_bytes(raw: bytes) -> str:
    """UTF-8 when it is, else Latin-1 shown with escapes: never an exception."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def describe_dtype(dtype: np.dtype) -> str:
    """A readable dtype: ``int32``, ``string (vlen, utf-8)``, ``reference``, ``compound {a, b}``."""
    import h5py

    try:
        string = h5py.check_string_dtype(dtype)
        if string is not None:
            size = "vlen" if string.length is None else f"{string.length} bytes"
            return f"string ({size}, {string.encoding})"
        if h5py.check_ref_dtype(dtype) is not None:
            return "region reference" if h5py.check_ref_dtype(dtype) is h5py.RegionReference \
                else "object reference"
        vlen = h5py.check_vlen_dtype(dtype)
        if vlen is not None:
            return f"vlen array of {describe_dtype(np.dtype(vlen))}"
        enum = h5py.check_enum_dtype(dtype)
        if enum is not None:
            names = ", ".join(list(enum)[:6]) + (", …" if len(enum) > 6 else "")
            return f"enum {dtype.base} {{{names}}}"
    except (TypeError, ValueError):
        pass
    if dtype.names:
        fields = ", ".join(dtype.names[:8]) + (", …" if len(dtype.names) > 8 else "")
        return f"compound {{{fields}}}"
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return f"{describe_dtype(base)} × {shape}"
    if dtype.kind == "V":
        return f"opaque ({dtype.itemsize} bytes)"
    return str(dtype)


def format_value(value: Any, dtype: np.dtype | None = None, file: Any = None) -> str:
    """One cell or attribute as a line of text; references are named through ``file``."""
    try:
        return _cut(_format(value, dtype, file))
    except Exception as exc:  # odd data must never break a view
        return f"<cannot show: {type(exc).__name__}>"


def _format(value: Any, dtype: np.dtype | None, file: Any) -> str:
    import h5py

    if isinstance(value, bytes | np.bytes_):
        return decode_bytes(bytes(value))
    if isinstance(value, str):
        return value
    if isinstance(value, h5py.RegionReference):
        return _ref_text(value, file, region=True)
    if isinstance(value, h5py.Reference):
        return _ref_text(value, file)
    if dtype is not None:
        enum = h5py.check_enum_dtype(dtype)
        if enum is not None and isinstance(value, int | np.integer):
            names = {v: k for k, v in enum.items()}
            return f"{names.get(int(value), '?')} ({int(value)})"
    if isinstance(value, np.void):
        if value.dtype.names:
            parts = [f"{name}={_format(value[name], value.dtype[name], file)}"
                     for name in value.dtype.names[:MAX_ITEMS]]
            return "(" + ", ".join(parts) + ")"
        return "0x" + value.tobytes().hex()
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        parts = [_format(v, value.dtype, file) for v in flat[:MAX_ITEMS]]
        more = ", …" if flat.size > MAX_ITEMS else ""
        shape = f" shape {value.shape}" if value.ndim > 1 else ""
        return "[" + ", ".join(parts) + more + "]" + shape
    if isinstance(value, float | np.floating):
        return repr(float(value)) if isinstance(value, np.float64 | float) else str(value)
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _ref_text(ref: Any, file: Any, region: bool = False) -> str:
    if not ref:
        return "<null reference>"
    if file is None:
        return "<reference>"
    try:
        name = file[ref].name
    except Exception:
        return "<dangling reference>"
    return f"→ {name}{' (region)' if region else ''}"


def decode_array(array: np.ndarray, file: Any = None) -> list[list[str]]:
    """A 2-D array of any dtype as rows of display text."""
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    dtype = array.dtype
    if dtype.kind in "iufb" and dtype.names is None:
        if dtype.kind == "f":
            return [[repr(float(v)) if dtype == np.float64 else str(v) for v in row] for row in array]
        return [[str(v) for v in row.tolist()] for row in array]
    return [[format_value(v, dtype, file) for v in row] for row in array]
