"""The safe loader's C path: NumPy and pandas values (placeholders checked at BUILD, then put in place),
the nesting bound that steps over payloads, the protocol of pickles without PROTO."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from storage.formats.objects.pickle import guards as pickle_guards
from storage.formats.objects.pickle.nodes import CallNode
from storage.formats.objects.pickle.safe import load_safe


class Holder:
    """A class the loader does not know: it stays a call node holding the arrays."""

    def __init__(self, values: object) -> None:
        self.values = values


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_arrays_anywhere_in_the_tree_are_real_arrays(protocol: int) -> None:
    shared = np.arange(6.0).reshape(2, 3)
    dtype = np.dtype([("a", "<i4"), ("b", "<f8")])
    inner = np.empty(2, dtype=object)
    inner[0], inner[1] = np.arange(3), "text"
    tree = {"shared": shared, "again": shared, "tuple": (1, shared, np.float32(2.5)),
            "keys": {np.dtype("f8"): "float", dtype: "record"}, "objects": inner,
            "set": frozenset([np.dtype("i2")]), "holder": Holder([np.arange(4), {"x": np.ones(2)}])}
    loaded = load_safe(pickle.dumps(tree, protocol))
    value = loaded.value
    assert loaded.engine == "c"
    assert value["shared"] is value["again"] is value["tuple"][1]
    assert np.array_equal(value["shared"], shared) and type(value["shared"]) is np.ndarray
    assert value["tuple"][2] == np.float32(2.5)
    assert value["keys"] == {np.dtype("f8"): "float", dtype: "record"}
    assert np.array_equal(value["objects"][0], np.arange(3)) and value["objects"][1] == "text"
    assert value["set"] == frozenset([np.dtype("i2")])
    holder = value["holder"]
    assert isinstance(holder, CallNode)
    state = holder.state if isinstance(holder.state, dict) else holder.args
    assert np.array_equal(state["values"][0], np.arange(4))
    assert np.array_equal(state["values"][1]["x"], np.ones(2))


def test_an_array_in_a_cycle_through_a_tuple_falls_back_to_the_python_unpickler() -> None:
    items: list = []
    root = (items, np.arange(3))
    items.append(root)
    loaded = load_safe(pickle.dumps(root, 4))
    assert loaded.engine == "python"
    assert loaded.value[0][0] is loaded.value and np.array_equal(loaded.value[1], np.arange(3))


def test_a_pandas_frame_of_strings_loads_on_the_c_unpickler() -> None:
    pd = pytest.importorskip("pandas")
    names_column = [f"user {i}" for i in range(1000)]
    # pandas 3 with pyarrow installed stores str columns as Arrow arrays: that loads on C too
    arrow = load_safe(pickle.dumps(pd.DataFrame({"name": names_column, "n": range(1000)}), 5))
    assert arrow.engine == "c" and not arrow.dangerous
    frame = pd.DataFrame({"name": pd.Series(names_column, dtype=object), "n": range(1000)})
    loaded = load_safe(pickle.dumps(frame, 5))
    assert loaded.engine == "c" and not loaded.dangerous

    found: list[np.ndarray] = []

    def walk(value: object, seen: set[int]) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, seen)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, seen)
        elif isinstance(value, CallNode):
            for _name, part in value.parts():
                walk(part, seen)

    walk(loaded.value, set())
    names = [array for array in found if array.dtype == object and array.size == 1000]
    assert names and list(names[0].ravel()) == [f"user {i}" for i in range(1000)]


def test_the_nesting_bound_steps_over_payloads_but_not_over_nesting() -> None:
    deep: object = ()
    for _ in range(50):
        deep = (deep,)
    data = pickle.dumps([b"\x85" * 100_000, "\x85" * 100_000, deep], 4)
    bound = pickle_guards._nesting_bound(data, 0)
    assert 50 <= bound < 1000  # the payloads' bytes that look like TUPLE1 are not counted


def test_the_nesting_bound_counts_every_byte_after_its_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    data = pickle.dumps([(1,)] * 20 + [b"\x85" * 1000], 4)
    monkeypatch.setattr(pickle_guards, "_WALK", 5)
    assert pickle_guards._nesting_bound(data, 0) >= 1000
    monkeypatch.setattr(pickle_guards, "_WALK", 10_000)
    assert pickle_guards._nesting_bound(data, 0) < 1000


def test_a_numpy_value_handed_back_by_a_builder_still_has_its_build_checked() -> None:
    """``scalar(dtype('O'), x)`` returns ``x``: a real dtype on the C stack would get NumPy's own
    ``__setstate__`` (which trusts its state) for the BUILD that follows."""
    import io

    from storage.formats.objects.pickle.allow import CopyBudget
    from storage.formats.objects.pickle.safe import _attempt
    from storage.formats.objects.pickle.unpicklers import LoadState
    from tests.support.pickle_attacks import s4, stack_global

    def dtype(descr: str) -> bytes:
        return stack_global("numpy", "dtype") + s4(descr) + b"\x89\x88\x87R"

    state = b"(K\x03" + s4("<") + b"NN" + b"J\xff\xff\xff\xff" * 2 + b"K\x00tb"
    data = (b"\x80\x04" + stack_global("numpy._core.multiarray", "scalar") + dtype("O8") + dtype("i8")
            + b"\x86R" + state + b".")
    load = LoadState(False, 1000, 2**30, len(data), budget=CopyBudget(2**30))
    with pytest.raises(pickle.UnpicklingError, match="NumPy value cannot be rebuilt"):
        _attempt(io.BytesIO(data), load, False, False)  # the C path, as the first plan runs it


def test_arrays_given_to_slice_are_put_in_place() -> None:
    loaded = load_safe(pickle.dumps(slice(np.arange(2), None, np.dtype("f4")), 4))
    value = loaded.value
    assert type(value) is slice and np.array_equal(value.start, np.arange(2)) and value.step == np.dtype("f4")


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_the_protocol_of_a_pickle_without_proto_comes_from_its_opcodes(protocol: int) -> None:
    data = pickle.dumps([{"a": (1, 2.5)}, "text", b"bytes"] * 100, protocol)
    assert load_safe(data).protocol == protocol


def test_an_array_inside_an_object_arrays_tuple_falls_back_to_the_python_unpickler() -> None:
    items = np.empty(1, dtype=object)
    items[0] = (np.arange(3),)
    loaded = load_safe(pickle.dumps(items, 4))
    assert loaded.engine == "python" and isinstance(loaded.value[0], tuple)
    assert "pending" not in repr(loaded.value[0][0])


def test_numpy_reconstruct_is_judged_on_the_c_path_as_the_python_one_judges_it() -> None:
    """``_reconstruct`` is a shaped call: safe only when every use is the call NumPy writes. The C
    unpickler hides memo GETs, so its stand-in is judged by what is left after the load."""
    arrays = load_safe(pickle.dumps([np.arange(3.0), np.arange(2), np.arange(4.0)], 4))
    assert arrays.engine == "c" and {g.severity for g in arrays.globals} == {"info"}
    data = pickle.dumps([np.arange(3.0)], 2)  # protocol 2: no frames, BINPUT after each global
    name = b"numpy._core.multiarray\n_reconstruct\nq"
    slot = data[data.index(name) + len(name)]
    data = data[:-1] + b"h" + bytes([slot]) + b"a."  # the global itself appended to the list
    loaded = load_safe(data)
    severity = {g.name: g.severity for g in loaded.globals}
    assert loaded.engine == "c" and severity["_reconstruct"] == "suspicious"
