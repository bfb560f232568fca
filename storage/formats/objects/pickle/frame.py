"""pandas DataFrames and Series of a safely loaded pickle, rebuilt as a plain :class:`FrameTable`.

The safe loader (``pickle_safe``) never imports pandas: a pickled frame arrives as a tree of
``CallNode``s around NumPy arrays (``pandas.DataFrame`` → ``BlockManager`` → blocks → arrays). This
module reads that tree the way pandas' own ``__setstate__``/``_unpickle_block`` would, for the
layouts pandas 1.x, 2.x and 3.x write: the manager's 4-tuple state (``"0.14.1"`` blocks) or its
reduce of ``_unpickle_block`` calls, ``_new_Index`` for Index, RangeIndex and MultiIndex, and the
extension arrays (Categorical, Datetime/TimedeltaArray with or without a time zone, the nullable
masked arrays, ``StringArray`` and pyarrow-backed ``ArrowStringArray`` from their Arrow buffers).

Columns stay lazy: a column keeps its arrays and formats only the rows asked for
(:meth:`FrameColumn.values` / :meth:`FrameColumn.cells`), so a million-row frame becomes a table
in time proportional to its number of columns. A column whose dtype is not understood keeps its
raw value and says why; a frame whose blocks do not fit its axes raises :class:`FrameError`.
NumPy 2-D and structured arrays become the same table (:func:`array_table`).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storage.formats.objects.pickle.nodes import CallNode, GlobalNode
from storage.formats.objects.pickle.numpy_build import rebuild_array

MAX_TEXT = 200  # characters of one cell's text
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class FrameError(ValueError):
    """A pickled DataFrame whose parts contradict each other (blocks that do not fit the axes)."""


# -- columns ---------------------------------------------------------------------------------
Take = Callable[[int, int], list[Any]]  # rows start..stop as Python values (None: missing)


@dataclass
class FrameColumn:
    """One column of a table (or one level of its index): a name, a dtype label and the rows.

    ``take(start, stop)`` returns Python values, ``None`` where a value is missing (NaN stays NaN
    in float columns, as pandas keeps it); ``why`` is set when the dtype could not be rebuilt and
    ``raw`` then holds what the pickle had for it.
    """

    name: str
    dtype: str
    length: int
    take: Take
    text: Callable[[Any], str] | None = None
    why: str = ""
    raw: Any = None
    is_index: bool = False
    implicit: bool = False  # an unnamed RangeIndex 0..n-1: the row numbers, not data

    def __len__(self) -> int:
        return self.length

    def values(self, start: int = 0, stop: int | None = None) -> list[Any]:
        stop = self.length if stop is None else min(stop, self.length)
        start = max(0, start)
        return self.take(start, stop) if stop > start else []

    def cells(self, start: int, stop: int) -> list[str]:
        show = self.text or default_text
        return [show(value) for value in self.values(start, stop)]


@dataclass
class FrameTable:
    """A DataFrame, Series or array as rows × named columns; the index comes first, as columns."""

    kind: str  # "DataFrame", "Series", "ndarray"
    rows: int
    columns: list[FrameColumn]
    notes: list[str] = field(default_factory=list)

    @property
    def index_columns(self) -> int:
        return sum(1 for column in self.columns if column.is_index)

    def header(self, col: int) -> str:
        return self.columns[col].name

    def tile(self, r0: int, r1: int, c0: int, c1: int) -> list[list[str]]:
        """Rows r0..r1 of columns c0..c1 as text (safe on a worker: nothing is shared)."""
        columns = [column.cells(r0, r1) for column in self.columns[c0:c1]]
        return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(r0, r1)]


def default_text(value: Any) -> str:
    if value is None:
        return "<NA>"
    if isinstance(value, float):
        return "NaN" if value != value else repr(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return _np_time_text(value)
    if isinstance(value, str):
        text = value
    elif isinstance(value, CallNode | GlobalNode):
        text = value.label()
    else:
        try:
            text = str(value)
        except Exception:  # a rebuilt value whose str fails: its type name
            text = f"<{type(value).__name__}>"
    text = text.replace("\n", "⏎")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _np_time_text(value: Any) -> str:
    if np.isnat(value):
        return "NaT"
    if isinstance(value, np.timedelta64):
        return str(_timedelta(value))
    text = str(value).replace("T", " ")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _timedelta(value: np.timedelta64) -> str:
    """A timedelta as pandas prints it: '1 days 02:00:00', '0 days 00:00:00.5', '-1 days +23:59:59'."""
    ns = int(value.astype("timedelta64[ns]").astype(np.int64))
    days, rest = divmod(ns, 86_400 * 10**9)  # floor: a negative duration is -n days + a positive time
    seconds, frac = divmod(rest, 10**9)
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    tail = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{days} days {'+' if days < 0 else ''}{h:02d}:{m:02d}:{s:02d}{tail}"


def _array_column(name: str, array: np.ndarray, dtype: str | None = None) -> FrameColumn:
    """A 1-D NumPy array as a column (object arrays hand back their items as they are)."""
    kind = array.dtype.kind
    if kind in "mM":
        def take(a: int, b: int) -> list[Any]:
            return list(array[a:b])
    elif kind == "O":
        def take(a: int, b: int) -> list[Any]:
            return [_missing_to_none(v) for v in array[a:b].tolist()]
    else:
        def take(a: int, b: int) -> list[Any]:
            return array[a:b].tolist()
    return FrameColumn(name, dtype or _dtype_label(array.dtype), len(array), take)


@functools.lru_cache(maxsize=256)
def _dtype_label(dtype: np.dtype) -> str:
    return str(dtype)  # NumPy's str of a dtype is slow, and a wide frame asks once per column


def _missing_to_none(value: Any) -> Any:
    return None if isinstance(value, GlobalNode) and value.name in ("NA", "NaT") else value


def _raw_column(name: str, length: int | None, raw: Any, why: str) -> FrameColumn:
    """A column whose dtype is not rebuilt: the arrays of its length (of the first array's, for an
    index) found inside ``raw`` (a PeriodArray's ordinals, an IntervalArray's left and right…),
    side by side as "a | b"."""
    arrays = _raw_arrays(raw, length)
    length = len(arrays[0]) if arrays else length or 0
    if not arrays:
        def take(a: int, b: int) -> list[Any]:
            return ["<not rebuilt>"] * (b - a)
        return FrameColumn(name, "unknown", length, take, why=why, raw=raw)
    parts = [_array_column(name, array) for array in arrays]

    def take_raw(a: int, b: int) -> list[Any]:
        if len(parts) == 1:
            return parts[0].values(a, b)
        return [" | ".join(map(default_text, row)) for row in zip(*(p.values(a, b) for p in parts),
                                                                  strict=True)]
    label = "raw " + " | ".join(part.dtype for part in parts)
    return FrameColumn(name, label, length, take_raw, why=why, raw=raw)


def _raw_arrays(raw: Any, length: int | None, limit: int = 4) -> list[np.ndarray]:
    """Up to ``limit`` 1-D arrays of ``length`` items inside ``raw`` (a bounded walk of its parts)."""
    found: list[np.ndarray] = []
    todo: list[tuple[Any, int]] = [(raw, 0)]
    seen = 0
    while todo and len(found) < limit and seen < 10_000:
        item, depth = todo.pop(0)
        seen += 1
        item = _ndarray(item)
        if isinstance(item, np.ndarray):
            flat = item[0] if item.ndim == 2 and item.shape[0] == 1 else item
            if flat.ndim == 1 and flat.dtype.names is None and len(flat) == (
                    length if length is not None else len(flat)):
                found.append(flat)
                length = len(flat)
            continue
        if depth >= 6:
            continue
        if isinstance(item, CallNode):
            children = [part for _name, part in item.parts() if _name != "func"]
        elif isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        todo.extend((child, depth + 1) for child in children)
    return found


# -- reading the node tree -------------------------------------------------------------------
def _global(value: Any) -> GlobalNode | None:
    return value if isinstance(value, GlobalNode) else None


def _call_of(value: Any) -> tuple[str, str] | None:
    """(module, name) of the global a CallNode calls, else None."""
    if isinstance(value, CallNode) and isinstance(value.func, GlobalNode):
        return str(value.func.module), str(value.func.name)
    return None


def _is_pandas(value: Any, *names: str) -> bool:
    called = _call_of(value)
    return called is not None and called[0].startswith("pandas") and called[1] in names


def _state_dict(node: CallNode) -> dict:
    state = node.state
    if isinstance(state, dict):
        return state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (None, slots)
        return state[1]
    return {}


def is_frame(value: Any) -> bool:
    """Whether ``value`` is the pickled form of a pandas DataFrame or Series (cheap)."""
    return _is_pandas(value, "DataFrame", "Series") and isinstance(value.state, dict) and (
        "_mgr" in value.state or "_data" in value.state)


def frame_table(value: Any) -> FrameTable:
    """The table a pickled DataFrame or Series holds. Raises FrameError when its parts contradict
    each other, ValueError when ``value`` is not a frame."""
    if not is_frame(value):
        raise ValueError("not a pickled pandas DataFrame or Series")
    try:
        return _frame_table(value)
    except FrameError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise FrameError(f"its parts are not what pandas writes ({exc})") from None


def _frame_table(value: CallNode) -> FrameTable:
    kind = str(value.func.name)
    state = value.state
    manager = state.get("_mgr", state.get("_data"))
    axes, blocks = _manager_parts(manager)
    if kind == "Series":
        if len(axes) != 1 or len(blocks) != 1:
            raise FrameError("a pickled Series has not one axis and one block")
        index = _index_columns(axes[0])
        rows = _axis_length(index, axes[0])
        name = state.get("_name", state.get("name"))
        column = _values_column(_label(name) if name is not None else "0", blocks[0][0], rows, row_of_2d=0)
        if column.length != rows:
            raise FrameError(f"a pickled Series has {rows:,} index labels but {column.length:,} values")
        return FrameTable("Series", rows, [*index, column])
    if len(axes) != 2:
        raise FrameError(f"a pickled DataFrame's manager has {len(axes)} axes, not 2")
    names, header_count = _column_labels(axes[0])
    index = _index_columns(axes[1])
    rows = _axis_length(index, axes[1])
    columns: list[FrameColumn | None] = [None] * header_count
    for values, placement in blocks:
        places = _placement(placement, header_count)
        for row, place in enumerate(places):
            if columns[place] is not None:
                raise FrameError(f"two blocks of the pickled DataFrame both hold column {place}")
            column = _values_column(names[place], values, rows, row_of_2d=row if len(places) else 0,
                                    block_rows=len(places))
            if column.length != rows:
                raise FrameError(f"column {names[place]!r} of the pickled DataFrame has {column.length:,} "
                                 f"values but the index has {rows:,} labels (the blocks do not fit)")
            columns[place] = column
    missing = [names[i] for i, c in enumerate(columns) if c is None]
    if missing:
        raise FrameError(f"no block of the pickled DataFrame holds column {missing[0]!r}")
    return FrameTable("DataFrame", rows, [*index, *(c for c in columns if c is not None)])


def _manager_parts(manager: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """(axes, [(block values, placement)]) from either manager layout pandas writes."""
    if not _is_pandas(manager, "BlockManager", "SingleBlockManager"):
        raise FrameError("the DataFrame's data is not a pandas BlockManager")
    args = manager.args
    if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], tuple | list) and (
            isinstance(args[1], list | tuple)):  # pandas >= 2.1: BlockManager(blocks, axes)
        blocks = []
        for block in args[0]:
            if not _is_pandas(block, "_unpickle_block", "new_block") or not isinstance(block.args, tuple) \
                    or len(block.args) < 2:
                raise FrameError("a block of the pickled DataFrame is not one pandas writes")
            blocks.append((block.args[0], block.args[1]))
        return list(args[1]), blocks
    state = manager.state
    if isinstance(state, tuple) and len(state) == 4 and isinstance(state[3], dict) and "0.14.1" in state[3]:
        extra = state[3]["0.14.1"]
        if not isinstance(extra, dict) or not isinstance(extra.get("blocks"), list):
            raise FrameError("the pickled DataFrame's block list is damaged")
        out = []
        for block in extra["blocks"]:
            if not isinstance(block, dict) or "values" not in block or "mgr_locs" not in block:
                raise FrameError("a block of the pickled DataFrame is damaged")
            out.append((block["values"], block["mgr_locs"]))
        axes = extra.get("axes")
        if not isinstance(axes, list):
            raise FrameError("the pickled DataFrame's axes are damaged")
        return axes, out
    raise FrameError("the pickled DataFrame's manager has a layout this version does not read")


def _placement(placement: Any, count: int) -> list[int]:
    if isinstance(placement, slice):
        start, stop, step = placement.start or 0, placement.stop, placement.step or 1
        if not all(type(v) is int for v in (start, stop, step)) or step <= 0 or stop > count or start < 0:
            raise FrameError("a block of the pickled DataFrame is placed outside its columns")
        return list(range(start, stop, step))
    if _is_pandas(placement, "BlockPlacement") and isinstance(placement.args, tuple) and placement.args:
        return _placement(placement.args[0], count)
    if isinstance(placement, np.ndarray) and placement.dtype.kind in "iu" and placement.ndim == 1:
        places = placement.tolist()
    elif isinstance(placement, list) and all(type(p) is int for p in placement):
        places = placement
    else:
        raise FrameError("a block of the pickled DataFrame has no valid column placement")
    if any(not 0 <= p < count for p in places):
        raise FrameError("a block of the pickled DataFrame is placed outside its columns")
    return places


def _label(value: Any) -> str:
    if isinstance(value, tuple):
        return " / ".join(_label(v) for v in value)
    if isinstance(value, str):
        return value
    return default_text(value)


# -- indexes -------------------------------------------------------------------------------------
def _index_parts(node: Any) -> tuple[str, dict]:
    """(class name, the dict ``_new_Index`` gets) of a pickled Index."""
    called = _call_of(node)
    if (called is not None and called[0].startswith("pandas") and called[1].startswith("_new_")
            and isinstance(node.args, tuple) and len(node.args) == 2):  # _new_Index, _new_DatetimeIndex…
        cls = _global(node.args[0])
        data = node.args[1]
        if cls is not None and isinstance(data, dict):
            return str(cls.name), data
    if _call_of(node) is not None and str(node.func.module).startswith("pandas"):  # very old layouts
        return str(node.func.name), _state_dict(node)
    if isinstance(node, np.ndarray):  # pandas < 0.x wrote bare arrays as axes
        return "Index", {"data": node}
    raise FrameError("an axis of the pickled DataFrame is not a pandas Index")


def _index_levels(node: Any) -> list[FrameColumn]:
    """An Index as one column per level (names from the index; unnamed → "" for now)."""
    cls, data = _index_parts(node)
    if cls == "RangeIndex":
        start, stop, step = data.get("start", 0), data.get("stop"), data.get("step", 1)
        if not all(type(v) is int for v in (start, stop, step)) or step == 0:
            raise FrameError("a RangeIndex of the pickled DataFrame is not valid")
        span = range(start, stop, step)  # type: ignore[arg-type]  # all three checked int above
        column = FrameColumn(_name(data.get("name")), "int64 (range)", len(span),
                             lambda a, b: list(span[a:b]), is_index=True,
                             implicit=data.get("name") is None and start == 0 and step == 1)
        return [column]
    if cls == "MultiIndex":
        levels, codes, names = data.get("levels"), data.get("codes", data.get("labels")), data.get("names")
        if (not isinstance(levels, list | tuple) or not isinstance(codes, list | tuple)
                or len(levels) != len(codes)):
            raise FrameError("a MultiIndex of the pickled DataFrame is not valid")
        names = list(names) if isinstance(names, list | tuple) else [None] * len(levels)
        out = []
        names += [None] * (len(levels) - len(names))
        for level, code, name in zip(levels, codes, names, strict=False):
            level_column = _index_levels(level)[0]
            code = _ndarray(code)
            if not isinstance(code, np.ndarray):
                raise FrameError("the codes of a pickled MultiIndex are not an array")
            out.append(_coded_column(_name(name), code, level_column, level_column.dtype, index=True))
        return out
    values = data.get("data")
    if values is None:  # IntervalIndex keeps left and right: the raw arrays are shown
        column = _raw_column(_name(data.get("name")), None, data, f"{cls} is not a type this reader rebuilds")
        if not column.length and _raw_arrays(data, None) == []:
            raise FrameError(f"a pickled {cls} has no data")
        column.is_index = True
        return [column]
    column = _values_column(_name(data.get("name")), values, None)
    if cls in ("DatetimeIndex", "TimedeltaIndex") and data.get("tz") is not None and column.dtype.startswith(
            "datetime64[") and "," not in column.dtype:
        column = _tz_column(column.name, np.asarray(values), data.get("tz"))
    column.is_index = True
    return [column]


def _name(value: Any) -> str:
    return "" if value is None else _label(value)


def _index_columns(axis: Any) -> list[FrameColumn]:
    columns = _index_levels(axis)
    for position, column in enumerate(columns):
        if not column.name:
            column.name = "index" if len(columns) == 1 else f"level_{position}"
    return columns


def _axis_length(columns: list[FrameColumn], _axis: Any) -> int:
    lengths = {column.length for column in columns}
    if len(lengths) != 1:
        raise FrameError("the levels of a pickled MultiIndex differ in length")
    return lengths.pop()


def _column_labels(axis: Any) -> tuple[list[str], int]:
    levels = _index_levels(axis)
    length = _axis_length(levels, axis)
    if length > 1_000_000:
        raise FrameError(f"the pickled DataFrame claims {length:,} columns")
    texts = [[_label(v) for v in level.values()] for level in levels]
    names = [" / ".join(parts) for parts in zip(*texts, strict=True)] if len(texts) > 1 else texts[0]
    return names, length


# -- values: NumPy arrays and pandas extension arrays -------------------------------------------
def _ndarray(value: Any) -> Any:
    """``value``, or the plain array a pickled ndarray subclass of old pandas holds (``FrozenNDArray``,
    written through NumPy's ``_reconstruct``), rebuilt by ``pickle_numpy``'s checked constructor."""
    called = _call_of(value)
    if (called is not None and called[1] == "_reconstruct" and isinstance(value.args, tuple) and value.args
            and isinstance(value.args[0], GlobalNode) and str(value.args[0].module).startswith("pandas")
            and isinstance(value.state, tuple)):
        return rebuild_array(value.state, np, lambda _n: None)
    return value


def _values_column(name: str, values: Any, rows: int | None, row_of_2d: int = 0,
                   block_rows: int = 1) -> FrameColumn:
    """The column ``values`` holds (row ``row_of_2d`` of a 2-D block), or a raw one that says why."""
    values = _ndarray(values)
    if isinstance(values, np.ndarray):
        if values.ndim == 2:
            if values.shape[0] != block_rows:
                raise FrameError(f"a block of the pickled DataFrame holds {values.shape[0]} columns but is "
                                 f"placed on {block_rows}")
            values = values[row_of_2d]
        elif values.ndim != 1:
            raise FrameError(f"a block of the pickled DataFrame has {values.ndim} dimensions")
        if values.dtype.names is not None:
            return _raw_column(name, len(values), values, "a structured array inside a DataFrame")
        return _array_column(name, values)
    if block_rows != 1 and not isinstance(values, np.ndarray):
        raise FrameError("an extension-array block of the pickled DataFrame is placed on several columns")
    try:
        return _extension_column(name, values)
    except FrameError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        return _raw_column(name, rows, values, f"cannot be rebuilt: {exc}")


def _extension_column(name: str, node: Any) -> FrameColumn:
    called = _call_of(node)
    if called is None:
        if isinstance(node, list | tuple):
            items = list(node)
            return FrameColumn(name, "object", len(items), lambda a, b: items[a:b])
        raise ValueError(f"{type(node).__name__} is not an array")
    module, cls = called
    if cls == "__pyx_unpickle_NDArrayBacked":  # pandas >= 1.4: (cls, sum, None), (dtype, ndarray[, dict])
        inner = _global(node.args[0]) if isinstance(node.args, tuple) and node.args else None
        state = node.state
        if inner is None or not isinstance(state, tuple) or len(state) < 2:
            raise ValueError("an NDArrayBacked array without its state")
        return _backed_column(name, str(inner.name), state[0], state[1])
    state = _state_dict(node)
    if cls in ("Categorical", "DatetimeArray", "TimedeltaArray", "StringArray", "PandasArray",
               "NumpyExtensionArray") and state:
        data = state.get("_ndarray", state.get("_codes", state.get("_data")))
        dtype = state.get("_dtype", state.get("dtype"))
        if cls == "Categorical" and dtype is None:
            dtype = state
        return _backed_column(name, cls, dtype, data)
    if cls in ("IntegerArray", "FloatingArray", "BooleanArray"):
        data, mask = state.get("_data"), state.get("_mask")
        if not isinstance(data, np.ndarray) or not isinstance(mask, np.ndarray) or data.shape != mask.shape:
            raise ValueError("a nullable array's data and mask do not match")
        label = _nullable_label(cls, data, state)
        if data.ndim != 1:
            data, mask = data.reshape(-1), mask.reshape(-1)
        return _masked_column(name, label, data, mask)
    if cls in ("ArrowStringArray", "ArrowStringArrayNumpySemantics", "ArrowExtensionArray"):
        arrow = state.get("_pa_array", state.get("_data"))
        column = _arrow_column(name, arrow)
        if cls != "ArrowExtensionArray":
            column.dtype = "string"
        return column
    raise ValueError(f"{module}.{cls} is not a dtype this reader rebuilds")


def _nullable_label(cls: str, data: np.ndarray, state: dict) -> str:
    if cls == "BooleanArray":
        return "boolean"
    kind = data.dtype.kind
    bits = data.dtype.itemsize * 8
    if kind in "iuf":
        return {"i": "Int", "u": "UInt", "f": "Float"}[kind] + str(bits)
    return _dtype_label(data.dtype)


def _masked_column(name: str, label: str, data: np.ndarray, mask: np.ndarray) -> FrameColumn:
    def take(a: int, b: int) -> list[Any]:
        values, missing = data[a:b].tolist(), mask[a:b].tolist()
        return [None if m else v for v, m in zip(values, missing, strict=True)]
    return FrameColumn(name, label, len(data), take)


def _backed_column(name: str, cls: str, dtype: Any, data: Any) -> FrameColumn:
    if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[0] == 1:
        data = data[0]  # a 2-D DatetimeArray block of one column
    if not isinstance(data, np.ndarray) or data.ndim != 1:
        raise ValueError(f"a {cls} without its array")
    if cls == "Categorical":
        categories, ordered = _categorical_dtype(dtype)
        label = "category (ordered)" if ordered else "category"
        return _coded_column(name, data, categories, label)
    if cls == "DatetimeArray":
        if isinstance(dtype, np.dtype):
            return _array_column(name, data)
        tz = _tz_of(dtype)
        if tz is None:
            raise ValueError("a datetime dtype whose time zone cannot be read")
        return _tz_column(name, data, tz)
    if cls == "TimedeltaArray":
        return _array_column(name, data)
    if cls in ("StringArray", "PandasArray", "NumpyExtensionArray"):
        column = _array_column(name, data)
        if cls == "StringArray":
            column.dtype = "string"
        return column
    raise ValueError(f"pandas.{cls} is not a dtype this reader rebuilds")


def _categorical_dtype(dtype: Any) -> tuple[FrameColumn, bool]:
    state = _state_dict(dtype) if isinstance(dtype, CallNode) else dtype if isinstance(dtype, dict) else {}
    categories = state.get("categories")
    if categories is None:
        raise ValueError("a categorical dtype without its categories")
    return _index_levels(categories)[0], bool(state.get("ordered"))


def _coded_column(name: str, codes: np.ndarray, categories: FrameColumn, label: str,
                  index: bool = False) -> FrameColumn:
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise ValueError("categorical codes that are not integers")
    levels = categories.values()
    if len(codes) and int(codes.max(initial=-1)) >= len(levels):
        raise ValueError("categorical codes beyond the categories")

    def take(a: int, b: int) -> list[Any]:
        return [None if c < 0 else levels[c] for c in codes[a:b].tolist()]
    return FrameColumn(name, label, len(codes), take, text=categories.text, is_index=index)


def _tz_of(dtype: Any) -> Any:
    """The tzinfo (or zone name) of a pickled DatetimeTZDtype."""
    state = _state_dict(dtype) if isinstance(dtype, CallNode) else {}
    return state.get("tz", state.get("_tz"))


def _tz_name(tz: Any) -> str:
    if isinstance(tz, str):
        return tz
    if isinstance(tz, _dt.tzinfo):
        return str(getattr(tz, "key", None) or getattr(tz, "zone", None) or tz)
    if isinstance(tz, CallNode) and isinstance(tz.args, tuple) and tz.args and isinstance(tz.args[0], str):
        return tz.args[0]  # pytz._p('Europe/Paris', …) or dateutil's tz.gettz
    if isinstance(tz, GlobalNode):
        return "UTC" if tz.name in ("utc", "UTC") else tz.qualname
    return default_text(tz)


def _zone(tz: Any) -> _dt.tzinfo | None:
    """A real tzinfo for the zone, to show local times (zoneinfo; None when not found)."""
    if isinstance(tz, _dt.tzinfo):
        return tz
    name = _tz_name(tz)
    if name.upper() == "UTC":
        return _dt.UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ValueError, OSError, ImportError, LookupError):
        return None


def _tz_column(name: str, data: np.ndarray, tz: Any) -> FrameColumn:
    """Datetimes kept in UTC (values: naive UTC ``datetime64``), shown in their zone."""
    if data.dtype.kind != "M":
        raise ValueError("a time-zone datetime whose data are not datetimes")
    zone = _zone(tz)
    unit = np.datetime_data(data.dtype)[0]

    def take(a: int, b: int) -> list[Any]:
        return list(data[a:b])

    def text(value: Any) -> str:
        if value is None or np.isnat(value):
            return "NaT"
        if zone is None:
            return _np_time_text(value) + " UTC"
        us = int(value.astype("datetime64[us]").astype(np.int64))
        try:
            local = (_EPOCH + _dt.timedelta(microseconds=us)).astimezone(zone)
        except (OverflowError, ValueError):
            return _np_time_text(value) + " UTC"
        return local.isoformat(sep=" ")
    return FrameColumn(name, f"datetime64[{unit}, {_tz_name(tz)}]", len(data), take, text=text)


# -- pyarrow arrays (pandas' ArrowStringArray and friends) --------------------------------------
_ARROW_STRINGS = {"string": np.int32, "utf8": np.int32, "large_string": np.int64, "large_utf8": np.int64}
_ARROW_NUMBERS = {"int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8", "uint8": "u1", "uint16": "u2",
                  "uint32": "u4", "uint64": "u8", "float": "f4", "float32": "f4", "double": "f8",
                  "float64": "f8", "halffloat": "f2", "float16": "f2"}


def _buffer(node: Any) -> bytes | bytearray | memoryview | None:
    if node is None:
        return None
    called = _call_of(node)
    if called is not None and called[1] in ("py_buffer", "foreign_buffer") and isinstance(node.args, tuple) \
            and node.args and isinstance(node.args[0], bytes | bytearray | memoryview):
        return node.args[0]
    if isinstance(node, bytes | bytearray):
        return node
    raise ValueError("an Arrow buffer this reader cannot read")


@dataclass
class _ArrowPiece:
    length: int
    take: Take


def _arrow_piece(node: Any) -> tuple[str, _ArrowPiece]:
    called = _call_of(node)
    if called is None or called[1] != "_restore_array" or not isinstance(node.args, tuple) or not node.args:
        raise ValueError("an Arrow array this reader cannot read")
    parts = node.args[0]
    if not isinstance(parts, tuple) or len(parts) < 5:
        raise ValueError("an Arrow array whose state is damaged")
    typ, length, _nulls, offset, buffers = parts[:5]
    typ_call = _call_of(typ)
    alias = typ.args[0] if typ_call and typ_call[1] == "type_for_alias" and typ.args else None
    if not isinstance(alias, str) or type(length) is not int or type(offset) is not int or length < 0 \
            or offset < 0 or not isinstance(buffers, list):
        raise ValueError("an Arrow array of a type this reader cannot read")
    validity = _buffer(buffers[0]) if buffers else None
    valid = None
    if validity is not None:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        if len(bits) < offset + length:
            raise ValueError("an Arrow validity buffer that is too short")
        valid = bits[offset:offset + length].astype(bool)
    if alias in _ARROW_STRINGS and len(buffers) == 3:
        raw_offsets = _buffer(buffers[1])
        data = _buffer(buffers[2]) or b""
        width = np.dtype(_ARROW_STRINGS[alias]).itemsize
        if raw_offsets is None or (len(raw_offsets) < (offset + length + 1) * width and length):
            raise ValueError("an Arrow string array whose offsets are too short")
        offsets = (np.frombuffer(raw_offsets, dtype=_ARROW_STRINGS[alias], count=offset + length + 1)[offset:]
                   if length else np.zeros(1, dtype=np.int64))
        if length and (offsets[0] < 0 or offsets[-1] > len(data) or np.any(np.diff(offsets) < 0)):
            raise ValueError("an Arrow string array whose offsets do not fit its data")
        blob = bytes(data)

        def take(a: int, b: int) -> list[Any]:
            ends = offsets[a:b + 1].tolist()
            out: list[Any] = [blob[ends[i]:ends[i + 1]].decode("utf-8", "replace") for i in range(b - a)]
            if valid is not None:
                out = [v if ok else None for v, ok in zip(out, valid[a:b].tolist(), strict=True)]
            return out
        return "string", _ArrowPiece(length, take)
    if (alias in _ARROW_NUMBERS or alias == "bool") and len(buffers) == 2:
        raw = _buffer(buffers[1]) or b""
        if alias == "bool":  # one bit per value, as the validity bitmap
            bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
            if len(bits) < offset + length:
                raise ValueError("an Arrow array whose data are too short")
            array = bits[offset:offset + length].astype(bool)
        else:
            dtype = np.dtype("<" + _ARROW_NUMBERS[alias])
            if len(raw) < (offset + length) * dtype.itemsize:
                raise ValueError("an Arrow array whose data are too short")
            array = np.frombuffer(raw, dtype=dtype, count=offset + length)[offset:]

        def take_numbers(a: int, b: int) -> list[Any]:
            out = array[a:b].tolist()
            if valid is not None:
                out = [v if ok else None for v, ok in zip(out, valid[a:b].tolist(), strict=True)]
            return out
        return f"{alias}[pyarrow]", _ArrowPiece(length, take_numbers)
    raise ValueError(f"the Arrow type {alias} is not one this reader rebuilds")


def _arrow_column(name: str, node: Any) -> FrameColumn:
    """An Arrow array or chunked array (``pyarrow.lib.chunked_array([chunks], type)``) as a column."""
    called = _call_of(node)
    if called is not None and called[1] == "chunked_array" and isinstance(node.args, tuple) and node.args \
            and isinstance(node.args[0], list | tuple):
        pieces = [_arrow_piece(chunk) for chunk in node.args[0]]
    else:
        pieces = [_arrow_piece(node)]
    label = pieces[0][0] if pieces else "string"
    chunks = [piece for _label_, piece in pieces]
    starts = np.cumsum([0] + [c.length for c in chunks]).tolist()
    total = starts[-1]

    def take(a: int, b: int) -> list[Any]:
        out: list[Any] = []
        for chunk, begin in zip(chunks, starts, strict=False):
            lo, hi = max(a, begin), min(b, begin + chunk.length)
            if lo < hi:
                out.extend(chunk.take(lo - begin, hi - begin))
        return out
    return FrameColumn(name, label, total, take)


# -- NumPy arrays --------------------------------------------------------------------------------
def _sub_arrays(values: np.ndarray, start: int, stop: int) -> list[str]:
    """Each row's sub-array of a structured array's field, as text."""
    return [np.array2string(x, threshold=8) for x in values[start:stop]]


def array_table(array: np.ndarray) -> FrameTable:
    """A 2-D array (one column per column) or a 1-D structured array (one per field) as a table."""
    if array.ndim == 1 and array.dtype.names:
        columns = []
        for field_name in array.dtype.names:
            values = array[field_name]
            if values.ndim == 1:
                columns.append(_array_column(field_name, values))
            else:  # a sub-array field: each row's sub-array as text
                columns.append(FrameColumn(field_name, str(values.dtype) + str(values.shape[1:]), len(values),
                                           functools.partial(_sub_arrays, values)))
        return FrameTable("ndarray", len(array), columns)
    if array.ndim == 2:
        return FrameTable("ndarray", array.shape[0],
                          [_array_column(str(i), array[:, i]) for i in range(array.shape[1])])
    raise ValueError("only 2-D and structured arrays become tables")


def table_of(value: Any) -> FrameTable | None:
    """The table ``value`` is (a pickled DataFrame/Series, a 2-D or structured array), else None.
    Raises FrameError for a frame whose parts contradict each other."""
    if is_frame(value):
        return frame_table(value)
    if isinstance(value, np.ndarray) and (value.ndim == 2 or (value.ndim == 1 and value.dtype.names)):
        return array_table(value)
    return None


def frame_caption(value: Any) -> str | None:
    """"DataFrame 1,000 rows × 3 columns" for a pickled frame (read from its axes, without building
    its columns); None when ``value`` is not a frame or its axes cannot be read."""
    if not is_frame(value):
        return None
    try:
        axes, _blocks = _manager_parts(value.state.get("_mgr", value.state.get("_data")))
        rows = _axis_length(_index_levels(axes[-1]), axes[-1])
        if value.func.name == "Series":
            return f"Series of {rows:,} rows"
        return f"DataFrame {rows:,} rows × {_axis_length(_index_levels(axes[0]), axes[0]):,} columns"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def summary(table: FrameTable) -> dict[str, Any]:
    """``inspect``'s ``table`` entry: rows (exact) and each column's name and type (a named or
    non-default index first, as columns)."""
    return {"rows": table.rows, "rows_exact": True,
            "columns": [{"name": c.name, "type": c.dtype} for c in table.columns if not c.implicit]}


__all__ = ["FrameColumn", "FrameError", "FrameTable", "array_table", "frame_caption", "frame_table",
           "is_frame", "summary", "table_of"]
