"""The compiled key-cost walk (storage/formats/objects/pickle/_keywalk.c) against its Python reference.

The walk decides whether a pickle may go to the C unpickler, which hashes keys and cannot be
interrupted: a walk that says "fits" where the reference says "costly" would freeze the window on a
hashing bomb, so that direction must never happen. On every stream a real pickler writes, the two
agree exactly.
"""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.formats.objects.pickle import keys as pickle_keys
from storage.formats.objects.pickle.keys import costly_keys, python_costly_keys
from storage.formats.objects.pickle.safe import load_safe
from tests.test_bounds import nested_key_pickle, nested_member_pickle, run_bounded

BUDGET = 10**6

compiled = pytest.mark.skipif(not pickle_keys.COMPILED,
                              reason="storage/formats/objects/pickle/_keywalk.c is not built")


def test_the_compiled_walk_is_built_by_the_readme_install() -> None:
    """``pip install -e .`` builds the extension; without it big pickles open five times slower."""
    assert pickle_keys.COMPILED, ("storage/formats/objects/pickle/_keywalk.c was not built: "
                                  "run pip install -e '.[test]'")


def additems_bomb(depth: int = 40) -> bytes:
    """``{1: {2}, t: 3}`` where ``t`` is the shared nested tuple and the set is filled by ADDITEMS.

    The Python walk once pushed a stack entry for ADDITEMS, so the next key was read as a value and
    never charged: the C unpickler then hashed ``t`` (2**40 steps) and the window froze."""
    out = bytearray(b"\x80\x04)\x94")
    for level in range(depth):
        out += b"h" + bytes([level]) + b"h" + bytes([level]) + b"\x86\x94"
    out += b"0}(K\x01\x8f(K\x02\x90h" + bytes([depth]) + b"K\x03u."
    return bytes(out)


# (``builtins.set([t])`` is not the walk's to catch: the safe loader's set builder keeps it as a call.)
HOSTILE = [nested_key_pickle(40), nested_member_pickle(40), nested_key_pickle(40, b"\x87"), additems_bomb(),
           b"\x80\x02K\x01"]


@pytest.mark.parametrize("walk", [python_costly_keys, costly_keys], ids=["python", "compiled"])
def test_both_walks_flag_every_hashing_bomb(walk) -> None:
    for data in HOSTILE:
        assert walk(data, 0, BUDGET), data[:40]
    assert not walk(nested_key_pickle(10), 0, BUDGET)  # 2**11 steps: cheap, the C path may take it


def test_the_additems_bomb_opens_promptly_with_its_key_unhashed() -> None:
    answer = run_bounded("""
        import json
        from storage.formats.objects.pickle.safe import load_safe
        from tests.storage.formats.objects.pickle.test_key_walk import additems_bomb
        load = load_safe(additems_bomb())
        print(json.dumps({"engine": load.engine, "findings": [text for _, text in load.findings]}))
    """, timeout=60)
    assert answer["engine"] == "python"
    assert any("take too long to hash" in text for text in answer["findings"])


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**70, max_value=2**90)
    | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=300),
    lambda inner: (st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.tuples(inner)
                   | st.tuples(inner, inner, inner) | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(st.text(max_size=5) | st.integers() | st.tuples(st.integers()), inner,
                                     max_size=4)
                   | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)
                   | st.sets(st.integers(), max_size=4)),
    max_leaves=30)


@compiled
@settings(max_examples=300, deadline=None)
@given(value=values, protocol=st.integers(min_value=0, max_value=5), share=st.booleans())
def test_the_walks_agree_on_what_picklers_write(value, protocol, share) -> None:
    if share:  # the same object reached twice goes through the memo (BINGET / GET)
        value = {"a": value, (1, "k"): [value, (value, 2)], "s": frozenset({(3, 4)})}
    data = pickle.dumps(value, protocol)
    for limit in (1, 4096):  # with few open keys allowed, their count decides too
        assert costly_keys(data, 0, BUDGET, None, limit) is python_costly_keys(data, 0, BUDGET, None, limit)


@compiled
def test_the_compiled_walk_is_never_less_careful_on_damaged_streams() -> None:
    """Byte flips, cuts and insertions in real pickles: the compiled walk may send more files to the
    careful path (e.g. a text memo index with spaces), never fewer."""
    seeds = []
    for protocol in range(6):
        shared = ()
        for _ in range(8):
            shared = (shared, shared)
        seeds += [pickle.dumps({"a": [1, 2.5, "x" * 300, (1, 2)], (3, "b"): {4, 5}, "n": None,
                                "f": frozenset({(1, 2)}), 10**40: b"xy", 2.5: 1, (1.5, 2**70): 3}, protocol),
                  pickle.dumps({shared: [shared, {shared: 1}], frozenset({1.5}): shared}, protocol)]
    rng = random.Random(14)
    for _ in range(20_000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.5:
                data[at] = rng.randrange(256)
            elif roll < 0.75:
                del data[at:at + rng.randint(1, 4)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 4))
        stream = bytes(data)
        limit = rng.choice([0, 1, 3, 4096])  # small limits make the count of open keys decide
        if python_costly_keys(stream, 0, BUDGET, None, limit):
            assert costly_keys(stream, 0, BUDGET, None, limit), (limit, stream)


@compiled
def test_far_memo_indices_and_odd_arguments_are_followed_or_refused() -> None:
    far = b"\x80\x04K\x01r\xff\xff\xff\xff0j\xff\xff\xff\xff\x85."  # LONG_BINPUT 2**32-1, then GET it
    assert costly_keys(far, 0, BUDGET) is python_costly_keys(far, 0, BUDGET) is False
    assert load_safe(far).value == (1,)
    missing = b"\x80\x04K\x01j\x05\x00\x00\x00."  # a GET of an index never put
    assert costly_keys(missing, 0, BUDGET) and python_costly_keys(missing, 0, BUDGET)
    with pytest.raises(ValueError):
        costly_keys(b".", 5, BUDGET, BUDGET)
    view = memoryview(pickle.dumps({(1, 2): 3}, 4))  # a buffer is read in place
    assert costly_keys(view, 0, BUDGET) is False


# -- keys that share one hash ----------------------------------------------------------------------
MERSENNE = 2**61 - 1  # CPython hashes an int to its value modulo this prime


def colliding_ints_pickle(count: int) -> bytes:
    """``{k * (2**61 - 1) + 7: 0 for k in 1..count}``: every key has the hash 7. The dict is written by
    hand (``pickle.dumps`` would have to build it, which is the slow part)."""
    out = bytearray(b"\x80\x04}\x94(")
    for k in range(1, count + 1):
        out += pickle.dumps(k * MERSENNE + 7, 4)[2:-1] + b"K\x00"
        if k % 1000 == 0:
            out += b"u("
    out += b"u."
    return bytes(out)


def test_colliding_keys_go_to_the_careful_path_and_stay_unhashed() -> None:
    data = colliding_ints_pickle(20_000)  # 2.6 s of probing in the C unpickler; quadratic beyond
    assert costly_keys(data, 0, 10**9) and python_costly_keys(data, 0, 10**9)
    answer = run_bounded("""
        import json
        from storage.formats.objects.pickle.safe import load_safe
        from storage.formats.objects.pickle.nodes import CostlyKey
        from tests.storage.formats.objects.pickle.test_key_walk import colliding_ints_pickle
        load = load_safe(colliding_ints_pickle(20_000))
        costly = [key for key in load.value if isinstance(key, CostlyKey)]
        print(json.dumps({"engine": load.engine, "entries": len(load.value), "costly": len(costly),
                          "label": costly[0].label(), "findings": [text for _, text in load.findings]}))
    """, timeout=60)
    assert answer["engine"] == "python"
    assert answer["entries"] == 20_000 and answer["costly"] == 20_000 - 32
    assert answer["label"] == "int key, not hashed: 32 keys before it have the same hash"
    assert any("share one hash" in text for text in answer["findings"])


def test_many_honest_open_keys_still_load_exactly() -> None:
    floats = {i / 7: i for i in range(10_000)}  # over OPEN_KEYS: the careful path, no collisions
    load = load_safe(pickle.dumps(floats, 4))
    assert load.engine == "python" and load.value == floats and not load.findings
    pairs = {(i, i * 2.5): i for i in range(4000)}  # under it: the C unpickler
    load = load_safe(pickle.dumps(pairs, 4))
    assert load.engine == "c" and load.value == pairs
    names = {("user", str(i)): i for i in range(50_000)}  # tuples of strings hash at random
    assert load_safe(pickle.dumps(names, 4)).engine == "c"
