"""Writing a safely loaded tree back: values round-trip, opaque nodes come back as they were."""

from __future__ import annotations

import collections
import datetime
import decimal
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.core.atomic import atomic_write_with
from storage.core.errors import UnsupportedError
from storage.formats.objects.pickle.nodes import BufferNode, CallNode, GlobalNode, PersistentNode
from storage.formats.objects.pickle.safe import load_safe
from storage.formats.objects.pickle.write import dump_tree, dump_tree_to
from tests.support.pickle_attacks import nested_lists, no_side_effects, with_persistent_ids


class Point:
    """A class only this test module knows: the loader keeps it as a node, pickle.loads rebuilds it."""

    def __init__(self, x: object, y: object) -> None:
        self.x, self.y = x, y
        self.me = self

    def __eq__(self, other: object) -> bool:
        return type(other) is Point and (self.x, self.y) == (other.x, other.y) and other.me is other


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a: object = None, b: object = None) -> None:
        self.a, self.b = a, b

    def __eq__(self, other: object) -> bool:
        return type(other) is Slotted and (self.a, self.b) == (other.a, other.b)


class Keyword:
    def __new__(cls, *args: object, **kwargs: object) -> Keyword:
        obj = super().__new__(cls)
        obj.args, obj.kwargs = args, kwargs
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple, dict]:
        return self.args, self.kwargs

    def __eq__(self, other: object) -> bool:
        return type(other) is Keyword and (self.args, self.kwargs) == (other.args, other.kwargs)


class Bag(list):
    pass


def round_trip(obj: object, protocol: int) -> object:
    return pickle.loads(dump_tree(load_safe(pickle.dumps(obj, protocol)).value, protocol))


# -- generated values -----------------------------------------------------------------------------

_UTC = st.sampled_from([None, datetime.UTC, datetime.timezone(datetime.timedelta(hours=-5), "EST")])
_ATOMS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.binary(max_size=20), st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=_UTC), st.dates(), st.times(), st.timedeltas(),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_KEYS = st.one_of(st.integers(), st.text(max_size=10), st.tuples(st.integers(), st.text(max_size=5)),
                  st.frozensets(st.integers(), max_size=3))


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=5), st.tuples(children, children),
        st.dictionaries(_KEYS, children, max_size=5), st.sets(_KEYS, max_size=5),
        st.frozensets(st.integers(), max_size=4),
        st.builds(lambda x: [x, x], children),  # a shared reference
        st.builds(lambda x: collections.OrderedDict([("a", x)]), children),
        st.builds(lambda x: bytearray(x), st.binary(max_size=10)),
    )


_VALUES = st.recursive(_ATOMS, _containers, max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(obj=_VALUES, protocol=st.integers(0, 5))
def test_generated_values_round_trip(obj: object, protocol: int) -> None:
    assert round_trip(obj, protocol) == obj


@pytest.mark.parametrize("protocol", range(6))
def test_shared_references_and_cycles_survive(protocol: int) -> None:
    shared = [1, 2]
    cyclic: list = [shared, shared]
    cyclic.append(cyclic)
    back = round_trip(cyclic, protocol)
    assert back[0] is back[1] and back[2] is back and back[0] == [1, 2]


# -- opaque nodes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", range(6))
def test_opaque_nodes_come_back_as_they_were(protocol: int) -> None:
    slotted = Slotted(1, "b") if protocol >= 2 else Slotted  # protocols 0-1 cannot pickle __slots__
    obj = [collections.Counter("abca"), Point(1, [2]), slotted, Bag([1, 2]), np.arange(3),
           collections.defaultdict(Point), decimal.Decimal("NaN")]
    original = pickle.dumps(obj, protocol)
    tree = load_safe(original).value
    # Counter is allowlisted and rebuilt since issue 14 (it was a kept call); Point stays a node
    assert type(tree[0]) is collections.Counter and isinstance(tree[1], CallNode)
    back = pickle.loads(dump_tree(tree, protocol))
    expected = pickle.loads(original)
    assert back[:4] == expected[:4] and np.array_equal(back[4], expected[4])
    assert back[5].default_factory is Point and back[6].is_nan()


@pytest.mark.parametrize("source", range(2, 6))
def test_keyword_construction_in_every_protocol(source: int) -> None:
    tree = load_safe(pickle.dumps(Keyword(1, k=2), source)).value
    for protocol in range(6):
        assert pickle.loads(dump_tree(tree, protocol)) == Keyword(1, k=2), protocol
    if source >= 4:  # NEWOBJ_EX, spelt for protocols 0-3 as copyreg.__newobj_ex__ (2-3 pickle via partial)
        helper = {g.qualname: g.severity for g in load_safe(dump_tree(tree, 2)).globals}
        assert helper["copyreg.__newobj_ex__"] == "info"


def test_changing_the_protocol_of_opaque_nodes() -> None:
    tree = load_safe(pickle.dumps([Point(1, 2), Bag([3])], 2)).value
    for protocol in range(6):
        assert pickle.loads(dump_tree(tree, protocol)) == [Point(1, 2), Bag([3])]


def test_globals_are_written_without_importing(tmp_path: Path) -> None:
    node = GlobalNode("surely_not_a_module_xyz", "launch")
    tree = [node, node(1, 2), node]
    with no_side_effects(tmp_path):
        outputs = [dump_tree(tree, protocol) for protocol in range(6)]
    for data in outputs:
        again = load_safe(data).value
        assert again[0] is again[2] and again[0].qualname == "surely_not_a_module_xyz.launch"
        assert again[1].func is again[0] and again[1].args == (1, 2)


def test_mutations_of_a_global_are_written_back(tmp_path: Path) -> None:
    data = b"cos\nsystem\n}S'__call__'\nS'x'\nsb."
    tree = load_safe(data).value
    for protocol in range(6):
        again = load_safe(dump_tree(tree, protocol)).value
        assert again.mutations == [("build", {"__call__": "x"})]


def test_persistent_ids_round_trip() -> None:
    tree = load_safe(with_persistent_ids()).value
    for protocol in range(1, 6):
        again = load_safe(dump_tree(tree, protocol)).value
        assert isinstance(again[1], PersistentNode) and again[1].pid == ("file", "/etc/passwd")
    with pytest.raises(UnsupportedError, match="Protocol 0"):
        dump_tree(tree, 0)


def test_what_cannot_be_written_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="out-of-band"):
        dump_tree([BufferNode(0)], 5)
    adds = load_safe(b"\x80\x04\x8c\x02os\x8c\x06system\x93(K\x01\x90.").value
    dump_tree(adds, 4)
    with pytest.raises(UnsupportedError, match="protocol 4"):
        dump_tree(adds, 3)
    with pytest.raises(UnsupportedError, match="keyword"):
        dump_tree(CallNode(GlobalNode("m", "f"), (), "reduce", {"k": 1}), 4)
    with pytest.raises(UnsupportedError, match="does not exist"):
        dump_tree(1, 6)
    with pytest.raises(UnsupportedError, match="tuple"):
        dump_tree(CallNode(GlobalNode("m", "f"), [1]), 2)


def test_deep_nesting_is_written(tmp_path: Path) -> None:
    tree = load_safe(nested_lists(200_000)).value
    path = tmp_path / "deep.pkl"
    atomic_write_with(path, lambda handle: dump_tree_to(tree, handle, 4))
    back = pickle.loads(path.read_bytes())
    depth = 0
    while back:
        back, depth = back[0], depth + 1
    assert depth == 199_999


def test_extension_codes_are_written_back() -> None:
    for data in (b"\x80\x02\x82\xf1)R.", b"\x80\x02\x83\x01\x02)R.", b"\x80\x02\x84\xff\xff\xff\xff)R."):
        tree = load_safe(data).value
        again = load_safe(dump_tree(tree, 2)).value
        assert again.func.code == tree.func.code
