"""Issue 14 §2: small hostile files never freeze, crash or fill the memory.

Each hostile file is built here. Opens that would run away run in a child process with an
address-space limit and a generous timeout, so a regression fails (or is killed) instead of
hanging the suite; what the user sees (a node, a note, a message) is asserted in the answer.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from storage.formats.objects.doc import (
    ObjectDoc,
    edit_text,
    int_full_text,
    int_summary,
    parse_int,
    short_repr,
)
from storage.formats.objects.pickle.keys import KeyGuard, costly_keys
from storage.formats.objects.pickle.nodes import CostlyKey
from storage.formats.objects.pickle.safe import load_safe
from storage.formats.objects.pickle.write import dump_tree

ROOT = Path(__file__).resolve().parents[1]
CHILD_MEMORY = 1536 * 1024**2  # address space for a child: the interpreter, NumPy and the work


def run_bounded(code: str, timeout: float = 120, memory: int = CHILD_MEMORY) -> dict:
    """Run ``code`` in a child with an address-space cap; it prints one JSON object."""
    prelude = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
        sys.path.insert(0, {str(ROOT)!r})
    """)
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def nested_key_pickle(depth: int = 40, kind: bytes = b"\x86") -> bytes:
    """``{t: 1}`` where ``t0 = ()`` and ``t(i+1) = (t(i), t(i))``: each level is shared through the
    memo, so the file is tiny and hashing ``t`` visits 2**depth tuples."""
    out = io.BytesIO()
    out.write(b"\x80\x02}q\x00)q\x010")
    for _ in range(depth):
        out.write(b"h\x01h\x01" + kind + b"q\x010")
    out.write(b"h\x01K\x01s.")
    return out.getvalue()


def nested_member_pickle(depth: int = 40) -> bytes:
    """``frozenset({t})`` (protocol 4 FROZENSET) with the same shared tuple."""
    out = io.BytesIO()
    out.write(b"\x80\x04)\x94")
    for _ in range(depth):
        out.write(b"h\x00h\x00\x86q\x000")
    out.write(b"(h\x00\x91.")
    return out.getvalue()


def nested_set_call_pickle(depth: int = 40) -> bytes:
    """``builtins.set([t])`` through REDUCE: the safe loader's own set builder would hash ``t``."""
    out = io.BytesIO()
    out.write(b"\x80\x02cbuiltins\nset\nq\x02)q\x010")
    for _ in range(depth):
        out.write(b"h\x01h\x01\x86q\x010")
    out.write(b"h\x02]h\x01a\x85R.")
    return out.getvalue()


# -- keys whose hash would never end ---------------------------------------------------------
def test_the_nested_key_file_really_is_exponential() -> None:
    """The file is what the issue describes: a real (small) load of it hashes 2**depth tuples."""
    small = pickle.loads(nested_key_pickle(12))
    (key,) = small
    assert KeyGuard(10**9).cost(key) == 2**13 - 1  # each level counted as often as it is reached
    assert len(nested_key_pickle(40)) < 400


@pytest.mark.parametrize("make", [nested_key_pickle, nested_member_pickle, nested_set_call_pickle])
def test_a_key_too_costly_to_hash_opens_promptly_as_a_node(make) -> None:
    answer = run_bounded(f"""
        import json
        from storage.formats.objects.pickle.safe import load_safe
        from storage.formats.objects.doc import ObjectDoc
        from tests.test_bounds import {make.__name__}
        load = load_safe({make.__name__}())
        value = load.value
        members = list(value) if isinstance(value, dict | set | frozenset) else []
        labels = [m.label() for m in members if hasattr(m, "label")]
        print(json.dumps({{"type": type(value).__name__, "labels": labels, "engine": load.engine,
                          "text": repr(value)[:300] if not members else ""}}))
    """)
    if make is nested_set_call_pickle:  # kept as the call it is, with its (unhashed) list
        assert answer["type"] == "CallNode" and "builtins.set" in answer["text"]
        return
    assert answer["engine"] == "python"  # the C unpickler was never given the file
    assert len(answer["labels"]) == 1 and "not hashed" in answer["labels"][0]


def test_the_costly_key_keeps_its_value_is_shown_and_saves_back() -> None:
    load = load_safe(nested_key_pickle(40))
    ((key, value),) = load.value.items()
    assert isinstance(key, CostlyKey) and value == 1
    assert ("suspicious", "1 dict keys or set members would take too long to hash (shared nested tuples: "
            "a hashing bomb); they are shown unhashed") in load.findings
    assert "tuple key, not hashed" in short_repr(key)
    inner = key.key
    for _ in range(40):  # the key itself can be walked level by level
        assert isinstance(inner, tuple) and inner[0] is inner[1]
        inner = inner[0]
    assert inner == ()
    data = dump_tree(load.value, 2)
    assert len(data) < 1000  # shared levels are written once, as the file had them
    again = load_safe(data).value
    assert isinstance(next(iter(again)), CostlyKey)


def test_cheap_keys_stay_real_keys() -> None:
    value = {(1, 2): "a", ("x", (3, 4)): "b", frozenset({1, 2}): "c", 10**50: "d"}
    for protocol in (0, 2, 4, 5):
        assert load_safe(pickle.dumps(value, protocol)).value == value
    shared = ("s",) * 10
    many = {(shared, i): i for i in range(2000)}  # a shared part, linear cost: hashed normally
    loaded = load_safe(pickle.dumps(many, 4))
    assert loaded.value == many and loaded.engine == "c"


def test_the_opcode_walk_agrees_with_the_loader() -> None:
    budget = 10**6
    assert costly_keys(nested_key_pickle(40), 0, budget)
    assert costly_keys(nested_member_pickle(40), 0, budget)
    assert not costly_keys(nested_key_pickle(10), 0, budget)  # 2**11 steps: cheap
    for protocol in range(6):
        plain = pickle.dumps({"a": [1, 2.5, "x" * 300, (1, 2)], (3, "b"): {4, 5}, "n": None}, protocol)
        assert not costly_keys(plain, 0, budget), protocol
    assert costly_keys(b"\x80\x02K\x01", 0, budget)  # no STOP: left to the careful path to report


# -- ints longer than str() allows -------------------------------------------------------------
HUGE = 7**20_000  # 16,902 digits: str() raises ValueError since Python 3.11


def test_huge_int_text_helpers() -> None:
    with pytest.raises(ValueError):
        str(HUGE)
    assert int_summary(HUGE) == "int of 16,902 digits"
    assert int_summary(-HUGE) == "negative int of 16,902 digits"
    digits = int_full_text(HUGE)
    assert len(digits) == 16_902 and parse_int(digits) == HUGE and parse_int("-" + digits) == -HUGE
    assert int_full_text(10**60_000).startswith("0x")  # too many digits: hex, which is linear
    assert edit_text(HUGE) == digits
    assert "16,902 digits" in short_repr([HUGE])
    for value in (0, 9, 10, 99, 100, 10**4000 - 1, 10**4000):
        assert int_summary(value) == f"int of {len(str(value)):,} digits"


def test_the_huge_int_tree_shows_the_digit_count_and_expands(qtmodeltester) -> None:
    from gui.objects.model import ObjectTreeModel

    load = load_safe(pickle.dumps({"n": HUGE, "m": [-HUGE], "small": 5}, 4))
    model = ObjectTreeModel(ObjectDoc(load.value, load.protocol, label="x.pkl"))
    qtmodeltester.check(model, force_py=True)
    index = model.index_for_path([0, "n"])
    assert model.data(index.siblingAtColumn(1)).startswith("int of 16,902 digits")
    assert model.data(index.siblingAtColumn(2)) == "int"
    assert model.hasChildren(index)
    model.fetchMore(index)
    digits = model.index(0, 1, index)
    assert model.data(model.index(0, 0, index)) == "digits"
    assert model.data(digits, 2) == int_full_text(HUGE)  # EditRole: all of them
    qtmodeltester.check(model, force_py=True)


def test_a_model_method_that_raises_answers_instead(qtmodeltester, caplog) -> None:
    from PySide6.QtCore import QModelIndex, Qt

    from gui.objects.model import ObjectTreeModel

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

        def __repr__(self) -> str:
            raise RuntimeError("boom")

    model = ObjectTreeModel(ObjectDoc([Boom()], 4, label="x.pkl"))
    cell = model.index_for_path([0, 0]).siblingAtColumn(1)
    assert model.data(cell) == "⚠ cannot show this value (RuntimeError)"
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole) is None
    assert "ObjectTreeModel.data failed" in caplog.text
    assert model.rowCount(QModelIndex()) == 1
    qtmodeltester.check(model, force_py=True)


def test_every_item_model_is_guarded() -> None:
    import importlib
    import pkgutil

    from PySide6.QtCore import QAbstractItemModel

    import gui
    from gui.common.model_guard import is_guarded

    models = []
    for info in pkgutil.walk_packages(gui.__path__, "gui."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, QAbstractItemModel)
                    and value.__module__ == module.__name__):
                models.append(value)
    assert len(models) >= 10
    assert [m.__name__ for m in models if not is_guarded(m)] == []


def test_the_window_shows_the_huge_int_and_the_nested_key_pickles(qtbot, tmp_path: Path) -> None:
    from tests.support.gui_helpers import launch, wait_documents

    huge = tmp_path / "huge.pkl"
    huge.write_bytes(pickle.dumps({"n": HUGE}, 4))
    nested = tmp_path / "nested.pkl"
    nested.write_bytes(nested_key_pickle(40))
    window = launch(qtbot, tmp_path / "settings", huge, nested)
    documents = wait_documents(qtbot, window, 2, timeout=60_000)
    by_name = {Path(d.path).name: d for d in documents}
    model = by_name["huge.pkl"].view.model
    index = model.index_for_path([0, "n"])
    assert model.data(index.siblingAtColumn(1)).startswith("int of 16,902 digits")
    model = by_name["nested.pkl"].view.model
    top = model.index(0, 0)
    while model.canFetchMore(top):
        model.fetchMore(top)
    key = model.index(0, 0, top)
    assert "not hashed" in model.data(key)
    assert model.data(key.siblingAtColumn(1)) == "1"


# -- decompression budgets ---------------------------------------------------------------------
def gzip_bomb(total_mb: int, chunk_mb: int = 16) -> bytes:
    """A joblib-style gzip file whose pickle is one BINBYTES8 of ``total_mb`` MB of zeros, made of
    gzip members that each unpack 16 MB (so it is built in a moment)."""
    import gzip
    import struct

    head = gzip.compress(b"\x80\x04\x8e" + struct.pack("<Q", total_mb * 2**20), mtime=0)
    zeros = gzip.compress(b"\0" * (min(chunk_mb, total_mb) * 2**20), 9, mtime=0)
    return head + zeros * max(1, total_mb // chunk_mb) + gzip.compress(b".", mtime=0)


def test_the_budget_is_relative_with_a_floor_and_a_cap() -> None:
    from storage.core.decompression import DECOMPRESSED_FLOOR, MAX_DECOMPRESSED, decompression_limit

    assert decompression_limit(389 * 1024) == DECOMPRESSED_FLOOR  # the 389 KB file: 256 MB
    assert decompression_limit(10 * 2**20) == 1000 * 2**20  # 100 times a 10 MB file
    assert decompression_limit(2**30) == MAX_DECOMPRESSED
    assert decompression_limit(1000, trusted=True) == MAX_DECOMPRESSED


def test_a_joblib_bomb_stops_at_its_budget_in_inspect_and_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "bomb.joblib"
    path.write_bytes(gzip_bomb(2048))  # 2 GB of zeros from 2 MB
    assert path.stat().st_size < 3 * 2**20
    answer = run_bounded(f"""
        import json
        from storage.formats.objects.joblib_io import open_joblib
        from storage.formats.objects.file import open_objects
        result = open_objects({str(path)!r}, "joblib")
        stream, _ = open_joblib({str(path)!r})
        try:
            with stream:
                while stream.read(2**20):
                    pass
        except Exception as exc:
            limit = exc.limit
        print(json.dumps({{"error": result.load_error, "limited": result.size_limited, "limit": limit}}))
    """, memory=1024 * 1024**2)  # less than the bomb: it must stop before
    assert answer["limit"] == 256 * 2**20 and answer["limited"]
    assert "decompresses to more than 256 MB from 2 MB" in answer["error"]
    assert "Open anyway" in answer["error"]
    done = subprocess.run([sys.executable, "main.py", "inspect", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: __import__("resource").setrlimit(
                              __import__("resource").RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY)))
    report = json.loads(done.stdout)
    assert done.returncode == 2 and "more than 256 MB" in report["error"]["message"]


def test_an_npz_bomb_member_is_refused_before_it_is_read(tmp_path: Path) -> None:
    import numpy as np

    from storage.core.errors import DecompressionLimitError
    from storage.formats.objects.file import open_objects
    from storage.formats.objects.npy_io import read_npz

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, small=np.arange(3), zeros=np.zeros(300 * 2**20, np.uint8))
    assert path.stat().st_size < 2**20
    with read_npz(path) as archive:
        assert list(archive.read("small")) == [0, 1, 2]
        with pytest.raises(DecompressionLimitError, match=r"member zeros\.npy decompresses to more than"):
            archive.read("zeros")
    refused = open_objects(str(path), "npz")  # the verdict, without the values
    assert refused.doc is None and refused.size_limited and "decompresses to more than" in refused.load_error
    trusted = open_objects(str(path), "npz", trusted_size=True)  # the user chose Open anyway
    assert trusted.doc.value["zeros"].shape == (300 * 2**20,)


def test_the_window_offers_open_anyway_for_a_bomb(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtCore import Qt

    import storage.core.decompression
    from tests.support.gui_helpers import launch, wait_documents

    monkeypatch.setattr(storage.core.decompression, "DECOMPRESSED_FLOOR", 2 * 2**20)  # a small bomb will do
    path = tmp_path / "bomb.joblib"
    path.write_bytes(gzip_bomb(4, 4))  # 4 MB from ~4 KB: over the 2 MB floor
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: "Open anyway" in document.facts.text())  # beside the verdict
    assert document.result.doc is None and document.result.size_limited
    assert "decompresses to more than 2 MB" in document.facts.text()
    document.facts.linkActivated.emit("open-anyway")
    qtbot.waitUntil(lambda: document.result is not None and document.result.doc is not None, timeout=30_000)
    assert "Open anyway" not in document.facts.text()
    index = document.view.model.index_for_path([0])
    assert "bytes" in document.view.model.data(index.siblingAtColumn(2), Qt.ItemDataRole.DisplayRole)


# -- SQLite: values and queries without bound ------------------------------------------------------
def hostile_db(path: Path, width: int = 200_000_000) -> Path:
    """Views that compute huge values or never end (the file stays a few KB), and a table with
    stored values over a (test-sized) limit."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE t(x);
        INSERT INTO t VALUES (1), (2), (3);
        CREATE VIEW big_text AS SELECT printf('%.*c', {width}, 'x') AS v FROM t;
        CREATE VIEW big_blob AS SELECT zeroblob(1000000000) AS b FROM t;
        CREATE VIEW random AS SELECT randomblob(500000000) AS r FROM t;
        CREATE VIEW never AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)
            SELECT n FROM c WHERE n < 0;
        CREATE TABLE stored(id INTEGER PRIMARY KEY, name TEXT, body TEXT, data BLOB);
        INSERT INTO stored VALUES (1, 'small', 'short', x'0102');
        INSERT INTO stored VALUES (2, 'huge', printf('%.*c', 3000000, 'y'), zeroblob(2500000));
        INSERT INTO stored VALUES (3, 'mid', printf('%.*c', 1000, 'z'), randomblob(300));
    """)
    conn.commit()
    conn.close()
    return path


SQL_CHILD = """
    import json
    import storage.formats.sql.bounds as bounds, storage.formats.sql.pager as pager_module
    bounds.VALUE_LIMIT = pager_module.VALUE_LIMIT = 2**20  # 1 MB here: the stored values pass it
    pager_module.PAGE_SECONDS = 2
    from storage.core.errors import KnownError
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import QuerySpec
    from storage.formats.sql.sqlite_db import Reader
    reader = Reader(PATH)
    out = {}
    for name, columns, keys in (("big_text", ("v",), ()), ("big_blob", ("b",), ()), ("random", ("r",), ()),
                                ("never", ("n",), ()), ("stored", ("id", "name", "body", "data"), ("id",))):
        pager = Pager(QuerySpec(name, columns, keys))
        try:
            page = reader.run(lambda conn: pager.fetch(conn, 0))
            out[name] = [[v.label() if hasattr(v, "label") else repr(v)[:40] for v in row]
                         for row in page.values]
            out[name + " sizes"] = page.sizes
        except KnownError as exc:
            out[name] = type(exc).__name__ + ": " + str(exc)
        try:
            out[name + " count"] = reader.run(lambda conn: pager.count(conn, 1000))
        except KnownError as exc:
            out[name + " count"] = type(exc).__name__ + ": " + str(exc)
    print(json.dumps(out))
"""


def test_sqlite_pages_never_build_a_huge_value_nor_run_forever(tmp_path: Path) -> None:
    path = hostile_db(tmp_path / "hostile.db")
    answer = run_bounded(SQL_CHILD.replace("PATH", repr(str(path))), memory=1024 * 1024**2)
    for view in ("big_blob", "random"):
        assert answer[view].startswith("KnownError: A value in") and "larger than" in answer[view]
        assert answer[view + " count"] == 3  # counting rows never computes the values
    text = answer["big_text"]  # SQLite 3.40's printf gives NULL past the limit; newer ones fail
    assert text == [["None"]] * 3 or text.startswith(("KnownError: A value in", "TooLongError")), text
    assert answer["never"].startswith("TooLongError: Reading this page ran for more than 2 s")
    assert answer["never count"].startswith("TooLongError: Counting the rows")
    rows = answer["stored"]
    assert rows[0] == ["1", "'small'", "'short'", "b'\\x01\\x02'"]
    assert rows[1][2] == "2.9 MB text — show…" and rows[1][3] == "2.4 MB blob — show…"
    assert rows[2][2].startswith("'zzz") and answer["stored sizes"][2][2:] == [1000, 300]


def test_a_large_stored_value_is_read_whole_on_request(tmp_path: Path) -> None:
    import storage.formats.sql.bounds as bounds
    from storage.formats.sql.bounds import large_value, raised_limit, read_whole
    from storage.formats.sql.sqlite_db import Reader

    path = hostile_db(tmp_path / "hostile.db")
    reader = Reader(str(path))
    try:
        conn = reader.conn
        conn.setlimit(__import__("sqlite3").SQLITE_LIMIT_LENGTH, 2**20)
        value = large_value(conn, "stored", "body", 2, "text")
        assert value.size == 3_000_000 and value.head.startswith(b"yyy")
        assert read_whole(conn, value) == "y" * 3_000_000
        with pytest.raises(Exception, match="too big"):
            conn.execute("SELECT body FROM stored WHERE id = 2").fetchone()
        with raised_limit(conn):
            assert len(conn.execute("SELECT body FROM stored WHERE id = 2").fetchone()[0]) == 3_000_000
        assert conn.getlimit(__import__("sqlite3").SQLITE_LIMIT_LENGTH) == 2**20
        assert bounds.VALUE_LIMIT == 64 * 2**20
    finally:
        reader.close()


def test_the_sqlite_window_shows_large_cells_and_says_why_a_view_cannot_be_read(
        qtbot, qtmodeltester, tmp_path: Path, monkeypatch) -> None:
    import storage.formats.sql.bounds
    import storage.formats.sql.pager
    from gui.sql.document import SqlDocument

    monkeypatch.setattr(storage.formats.sql.bounds, "VALUE_LIMIT", 2**20)
    monkeypatch.setattr(storage.formats.sql.pager, "VALUE_LIMIT", 2**20)
    monkeypatch.setattr(storage.formats.sql.pager, "PAGE_SECONDS", 2)
    path = hostile_db(tmp_path / "hostile.db", width=10_000_000)
    document = SqlDocument(str(path), "sqlite")
    qtbot.addWidget(document)
    document.show()
    qtbot.waitUntil(lambda: document.is_loaded and document.schema is not None, timeout=20_000)

    def show(name: str) -> None:
        document.tree.setCurrentItem(document.tree.items[name])
        qtbot.waitUntil(lambda: document.table is not None and document.table.name == name)

    show("stored")
    model = document.model
    model.index(1, 2).data()
    qtbot.waitUntil(lambda: model.cached_row(1) is not None, timeout=20_000)
    assert model.index(1, 2).data() == "2.9 MB text — show…"
    blob = model.index(1, 3).data()
    assert blob.startswith("BLOB 2,500,000 bytes: 00 00") and blob.endswith("— show…")
    qtmodeltester.check(model, force_py=True)
    document.views.setCurrentWidget(document.record)  # following rows never loads a huge value
    document.grid.setCurrentIndex(model.index(1, 0))
    qtbot.waitUntil(lambda: "read when you double-click" in document.record.label.text())
    assert document.record.field("body").value == "2.9 MB text — show…"
    document.edits.show_record_of(model.index(1, 2))  # what a double-click does: the user asks for it
    qtbot.waitUntil(lambda: document.record.field("body").value == "y" * 3_000_000, timeout=20_000)
    assert document.record.field("data").value == bytes(2_500_000)
    show("big_blob")
    model.index(0, 0).data()
    qtbot.waitUntil(lambda: "larger than" in document.message.text(), timeout=20_000)
    show("never")
    model.index(0, 0).data()
    qtbot.waitUntil(lambda: "ran for more than 2 s" in document.message.text(), timeout=30_000)
    document.close_document()


def test_inspect_of_the_hostile_database_finishes_with_every_view_described(tmp_path: Path) -> None:
    path = hostile_db(tmp_path / "hostile.db")
    done = subprocess.run([sys.executable, "main.py", "inspect", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: __import__("resource").setrlimit(
                              __import__("resource").RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY)))
    report = json.loads(done.stdout)
    views = {v["name"]: v for v in report["summary"]["views"]}
    assert views["big_blob"]["rows"] == 3 and views["random"]["rows"] == 3
    assert views["never"]["rows"] == "not counted: stopped after 5 s"
    assert report["summary"]["quick_check"] == ["ok"]  # the rest of the summary still ran
    assert any("never ends" in f["message"] for f in report["findings"])


def test_the_nested_key_tree_passes_the_model_tester_when_expanded(qtmodeltester) -> None:
    """Every role of every made node, the shared tuple's levels included, answers at once."""
    from gui.objects.model import ObjectTreeModel

    load = load_safe(nested_member_pickle(40))  # a set member: the node itself can be expanded
    model = ObjectTreeModel(ObjectDoc(load.value, load.protocol, label="nested.pkl"))
    index = model.index_for_path([0])
    texts = []
    for _ in range(12):  # down: frozenset -> CostlyKey -> its key -> (t, t) -> t ...
        while model.canFetchMore(index):
            model.fetchMore(index)
        index = model.index(0, 0, index)
        assert index.isValid()
        for column in range(3):
            for role in (0, 2, 3):
                model.data(index.siblingAtColumn(column), role)
        texts.append(model.data(index.siblingAtColumn(1)))
    assert "not hashed" in texts[0] and texts[1:4] == ["(…)"] * 3
    qtmodeltester.check(model, force_py=True)
