"""Labels and saves of compressed and Python 2 pickles (issue 14 §4, what test_fidelity left).

pandas' ``to_pickle('x.pkl.gz')`` files are pickles with a compression, not joblib files; a
``.pkl.zip`` saves back as a zip with its one member; a Python 2 pickle's byte strings stay byte
strings on save. Every file is built here (by pandas when it is installed, else byte for byte as
pandas writes them); saved files are read back by pandas, or by the decompressor and pickle.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gui.objects.document import ObjectsDocument
from storage.formats.objects.file import open_objects, save_objects
from storage.inspect.report import exit_code, inspect_path
from storage.sniff.detect import sniff
from tests.support.gui_helpers import launch, wait_documents

try:
    import pandas as pd
except ImportError:  # not a dependency: the files are then written as pandas writes them
    pd = None

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def frame() -> object:
    table = {"a": [1, 2, 3], "text": ["x", "café", "z"]}
    return pd.DataFrame(table) if pd is not None else table


def same(a: object, b: object) -> bool:
    return a.equals(b) if hasattr(a, "equals") else a == b


def to_pickle(value: object, path: Path) -> None:
    """``pandas.to_pickle(value, path)``: the compression inferred from the name."""
    if pd is not None:
        pd.to_pickle(value, path)
        return
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    suffix = path.suffix
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.name[:-4], data)  # pandas names the member after the archive
        return
    packed = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
              ".zst": lambda d: __import__("zstandard").ZstdCompressor().compress(d)}[suffix](data)
    path.write_bytes(packed)


def read_pickle(path: Path) -> object:
    """``pandas.read_pickle(path)``, or the same by hand when pandas is missing."""
    if pd is not None:
        return pd.read_pickle(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            (name,) = archive.namelist()
            return pickle.loads(archive.read(name))
    raw = path.read_bytes()
    unpack = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress,
              ".zst": lambda d: __import__("zstandard").ZstdDecompressor().decompressobj().decompress(d)}
    return pickle.loads(unpack[path.suffix](raw))


def pandas_files(folder: Path, value: object) -> dict[str, Path]:
    """``to_pickle`` with the compression inferred from the name, as users call it."""
    out = {}
    for ext, name in COMPRESSIONS.items():
        if name == "zstd" and not _has("zstandard"):
            continue
        out[name] = folder / f"frame.pkl{ext}"
        to_pickle(value, out[name])
    return out


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# -- 1. labels: a compressed pickle is a pickle, joblib's files stay joblib ---------------------------

def test_pandas_compressed_pickles_are_labelled_pickle_with_their_compression(tmp_path: Path) -> None:
    df = frame()
    for compression, path in pandas_files(tmp_path, df).items():
        found = sniff(path)
        assert (found.format, found.detail["compression"]) == ("pickle", compression), found.reason
        assert "to_pickle" in found.reason
        report = inspect_path(path)
        assert report["format"] == "pickle" and report["summary"]["compression"] == compression
        assert report["ok"] and exit_code(report) == 0, report["findings"]
        result = open_objects(str(path), found.format)
        assert (result.kind, result.compression) == ("pickle", compression)
        assert not result.doc.read_only


def test_a_hostile_gzip_pickle_keeps_its_verdict(tmp_path: Path) -> None:
    payload = b"\x80\x04cposix\nsystem\n\x8c\x0etouch /tmp/pwn\x85R."
    path = tmp_path / "frame.pkl.gz"
    path.write_bytes(gzip.compress(payload))
    report = inspect_path(path)
    assert report["format"] == "pickle" and report["summary"]["compression"] == "gzip"
    assert exit_code(report) == 1
    assert any(f.get("global") == "posix.system" and f["severity"] == "dangerous" for f in report["findings"])
    as_joblib = inspect_path(_renamed(path, tmp_path / "frame.joblib"))  # how it was judged before
    assert as_joblib["format"] == "joblib"
    assert _verdict(report) == _verdict(as_joblib)
    result = open_objects(str(path), "pickle")
    assert result.worst == "dangerous" and ("posix", "system") in result.globals


def _renamed(path: Path, other: Path) -> Path:
    other.write_bytes(path.read_bytes())
    return other


def _verdict(report: dict) -> list:
    return sorted((f["severity"], f.get("global")) for f in report["findings"])


def test_real_joblib_files_stay_joblib(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    with_array = tmp_path / "model.pkl.gz"
    joblib.dump({"w": np.arange(5.0)}, with_array, compress=("gzip", 3))
    late = tmp_path / "late.pkl.bz2"  # the first array after a long vocabulary: far past the sniffed start
    joblib.dump({"vocabulary": [f"word {i:06d}" for i in range(20_000)], "w": np.ones(3)}, late,
                compress=("bz2", 3))
    named = tmp_path / "plain.joblib"  # no array, but the name says joblib wrote it
    joblib.dump({"n": 1}, named, compress=("gzip", 3))
    zlib_plain = tmp_path / "plain.bin"  # zlib streams are joblib's own (pandas does not write them)
    joblib.dump({"n": 1}, zlib_plain, compress=("zlib", 3))
    for path in (with_array, late, named, zlib_plain):
        found = sniff(path)
        assert found.format == "joblib", (path.name, found.reason)
        assert inspect_path(path)["format"] == "joblib"
    assert "decompressed byte" in sniff(late).reason
    result = open_objects(str(late), "pickle")  # a folder listing's quick sniff: the open still knows
    assert result.kind == "joblib" and result.doc.value["w"].tolist() == [1.0, 1.0, 1.0]


def test_the_window_says_pickle_gzip_and_saves_what_pandas_reads(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "settings.pkl.gz"
    to_pickle({"n": 1, "name": "café"}, path)
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, ObjectsDocument)
    assert window.format_label.text() == "PICKLE (gzip)"
    assert document.facts.text().startswith("pickle (gzip)")
    index = document.view.model.index_for_path([0, "n"]).siblingAtColumn(1)
    assert document.view.model.setData(index, "2")
    assert window.save_current()
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # still gzip
    assert read_pickle(path) == {"n": 2, "name": "café"}


# -- 2. .pkl.zip: Save rewrites the archive with its one member ------------------------------------

def test_a_pandas_zip_pickle_saves_with_the_same_member_and_compression(tmp_path: Path) -> None:
    df = frame()
    path = tmp_path / "frame.pkl.zip"
    to_pickle(df, path)
    with zipfile.ZipFile(path) as archive:
        (before,) = archive.infolist()
    assert sniff(path).format == "pickle"
    assert inspect_path(path)["summary"]["compression"] == "zip"
    result = open_objects(str(path), "pickle")
    assert result.compression == "zip" and not result.doc.read_only
    saved = tmp_path / "saved.pkl.zip"
    save_objects(result, str(saved))
    with zipfile.ZipFile(saved) as archive:
        (after,) = archive.infolist()
    assert (after.filename, after.compress_type) == (before.filename, before.compress_type)
    assert same(read_pickle(saved), df)


def test_a_stored_zip_member_stays_stored(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("export", pickle.dumps({"a": [1, 2]}, protocol=4))
    result = open_objects(str(path), sniff(path).format)
    result.doc.value["a"].append(3)
    save_objects(result, str(path))
    with zipfile.ZipFile(path) as archive:
        (info,) = archive.infolist()
        assert (info.filename, info.compress_type) == ("export", zipfile.ZIP_STORED)
        assert pickle.loads(archive.read(info)) == {"a": [1, 2, 3]}


def test_the_window_saves_a_pkl_zip(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "table.pkl.zip"
    to_pickle({"rows": 3}, path)
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert document.can_save() and "read-only" not in document.facts.text()
    assert window.format_label.text() == "PICKLE (zip)"
    index = document.view.model.index_for_path([0, "rows"]).siblingAtColumn(1)
    assert document.view.model.setData(index, "4")
    assert window.save_current()
    assert read_pickle(path) == {"rows": 4}
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["table.pkl"]


# -- 3. Python 2 byte strings stay byte strings ----------------------------------------------------

def _sb(raw: bytes) -> bytes:
    return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING, as Python 2 wrote str


def _bu(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE, as Python 2 wrote unicode


def py2_protocol2() -> bytes:
    """Python 2's pickle.dumps({'name': 'caf\\xe9', u'euro': u'\\u20ac', 'long': 300 * 'x' + '\\xff',
    'list': ['na\\xefve', 'plain']}, 2), written out opcode by opcode."""
    return (b"\x80\x02}q\x00(" + _sb(b"name") + _sb(b"caf\xe9") + _bu("euro") + _bu("\u20ac")
            + _sb(b"long") + b"T" + struct.pack("<i", 301) + b"x" * 300 + b"\xff"
            + _sb(b"list") + b"]q\x01(" + _sb(b"na\xefve") + _sb(b"plain") + b"eu.")


def strings(data: bytes) -> list[tuple[str, str]]:
    """(opcode family, text) of every string opcode of a protocol 1-2 pickle, in order."""
    out = []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
            out.append(("bytes", arg))
        elif "UNICODE" in op.name:
            out.append(("unicode", arg))
    return out


def test_saving_a_python2_pickle_keeps_its_byte_strings(tmp_path: Path) -> None:
    data = py2_protocol2()
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)
    expected = pickle.loads(data, encoding="latin1")
    path = tmp_path / "py2.pkl"
    path.write_bytes(data)
    result = open_objects(str(path), "pickle")
    assert result.encoding == "latin1" and result.protocol == 2
    saved = tmp_path / "saved.pkl"
    save_objects(result, str(saved))  # no edits
    out = saved.read_bytes()
    assert strings(out) == strings(data)
    ops = [op.name for op, _, _ in pickletools.genops(out)]
    assert "BINSTRING" in ops and "SHORT_BINSTRING" in ops
    assert b"U\x04caf\xe9" in out and b"T" + struct.pack("<i", 301) + b"x" * 300 + b"\xff" in out
    assert pickle.loads(out, encoding="latin1") == expected
    # what Python 2 reads: str where it wrote str, unicode where it wrote unicode
    assert pickle.loads(out, encoding="bytes") == pickle.loads(data, encoding="bytes")
    assert pickle.loads(out, encoding="bytes")[b"long"] == b"x" * 300 + b"\xff"
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(out)  # as the original: the library that wrote it reads it, plain pickle.load does not


def test_python2_byte_strings_in_protocols_0_and_1(tmp_path: Path) -> None:
    path = tmp_path / "py2.pkl"
    path.write_bytes(py2_protocol2())
    expected = pickle.loads(py2_protocol2(), encoding="latin1")
    result = open_objects(str(path), "pickle")
    for protocol in (0, 1):
        saved = tmp_path / f"saved{protocol}.pkl"
        save_objects(result, str(saved), protocol)
        out = saved.read_bytes()
        assert pickle.loads(out, encoding="bytes") == pickle.loads(py2_protocol2(), encoding="bytes")
        assert pickle.loads(out, encoding="latin1") == expected
    assert b"S'caf\\xe9'\n" in (tmp_path / "saved0.pkl").read_bytes()  # Python 2's repr of the str
    assert strings((tmp_path / "saved1.pkl").read_bytes()) == strings(py2_protocol2())
    save_objects(result, str(tmp_path / "saved4.pkl"), 4)  # Python 3 protocols: text, as Python 3 writes
    assert all(kind == "unicode" for kind, _ in strings((tmp_path / "saved4.pkl").read_bytes()))


def test_a_python2_protocol0_pickle_round_trips(tmp_path: Path) -> None:
    data = b"(dp0\nS'caf\\xe9'\np1\nS'it\\'s'\np2\nsVuni\np3\nS\"q\\\"\"\np4\ns."
    expected = pickle.loads(data, encoding="latin1")
    path = tmp_path / "p0.pkl"
    path.write_bytes(data)
    result = open_objects(str(path), "pickle")
    save_objects(result, str(tmp_path / "out.pkl"))
    out = (tmp_path / "out.pkl").read_bytes()
    assert pickle.loads(out, encoding="latin1") == expected
    assert pickle.loads(out, encoding="bytes") == pickle.loads(data, encoding="bytes")
    assert b"S'caf\\xe9'\n" in out and b"Vuni\n" in out


def test_save_as_compresses_as_pandas_infers_from_the_new_name(tmp_path: Path) -> None:
    value = {"n": 1, "text": "café"}
    path = tmp_path / "frame.pkl.gz"
    to_pickle(value, path)
    result = open_objects(str(path), "pickle")
    targets = {"plain.pkl": None, "other.pkl.bz2": "bz2", "other.pkl.xz": "xz", "other.pkl.zip": "zip"}
    for name, compression in targets.items():
        save_objects(result, str(tmp_path / name))
        assert sniff(tmp_path / name).detail.get("compression", "zip" if name.endswith(".zip") else None) \
            == compression, name
        assert read_pickle(tmp_path / name) == value, name
    with zipfile.ZipFile(tmp_path / "other.pkl.zip") as archive:
        assert archive.namelist() == ["other.pkl"]  # named after the archive, as pandas does
    explicit = tmp_path / "frame.bin"  # to_pickle(..., compression="gzip") under a name that says nothing
    explicit.write_bytes(gzip.compress(pickle.dumps(value)))
    result = open_objects(str(explicit), "pickle")
    save_objects(result, str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes()[:2] == b"\x1f\x8b"  # the name says nothing: kept


def test_the_window_save_as_a_plain_name_writes_a_plain_pickle(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "frame.pkl.xz"
    to_pickle({"rows": 3}, path)
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert document.save_as(str(tmp_path / "frame.pkl"))
    assert pickle.loads((tmp_path / "frame.pkl").read_bytes()) == {"rows": 3}
    assert window.format_label.text() == "PICKLE" and document.facts.text().startswith("pickle ·")
    assert document.save_as(str(tmp_path / "again.pkl.gz"))
    assert read_pickle(tmp_path / "again.pkl.gz") == {"rows": 3}
    assert window.format_label.text() == "PICKLE (gzip)"


def test_recovered_edits_of_a_compressed_pickle_restore_as_a_copy_in_its_container(tmp_path: Path) -> None:
    from storage.recovery.payload import pack, write_copy

    body = pickle.dumps({"rows": 5}, protocol=4)
    member = {"name": "table.pkl", "compress_type": zipfile.ZIP_DEFLATED}
    write_copy(str(tmp_path / "table.pkl.zip"), pack("pickle", {"container": "pickle", "compression": "zip",
                                                                "member": member, "protocol": 4}, body))
    with zipfile.ZipFile(tmp_path / "table.pkl.zip") as archive:
        assert archive.namelist() == ["table.pkl"] and pickle.loads(archive.read("table.pkl")) == {"rows": 5}
    write_copy(str(tmp_path / "frame.pkl.gz"), pack("pickle", {"container": "pickle", "compression": "gzip",
                                                               "member": None, "protocol": 4}, body))
    assert read_pickle(tmp_path / "frame.pkl.gz") == {"rows": 5}


def test_the_byte_string_walk_follows_every_argument_kind() -> None:
    from storage.formats.objects.pickle.py2 import byte_strings

    # protocol 0: GLOBAL's two lines, INT, FLOAT, STRING in both quotes, UNICODE, then BINSTRING
    data = (b"(cdatetime\ndate\nI5\nF2.5\nS'a\\'b'\nS\"\\xe9\"\nVboth\nS'both'\nU\x03two" + b"(lp0\n"
            + b"T\x03\x00\x00\x00abc" + b"\x8a\x02\xff\x00" + b"t.")
    assert byte_strings(data) == {"a'b", "é", "two", "abc"}  # "both" was also unicode: left as text
    assert byte_strings(data[:20]) == set()  # cut short: what was read so far
    assert byte_strings(b"\x80\x02U\x02ab." + b"U\x02cd.") == {"ab"}  # stops at this pickle's STOP
    assert byte_strings(b"\x80\x02U\x02ab.", limit=3) == set()  # too long to walk


def test_a_python2_pickle_with_a_numpy_array_saves_its_strings_and_array(tmp_path: Path) -> None:
    from tests.storage.formats.objects.test_fidelity import py2_pickle

    path = tmp_path / "py2_array.pkl"
    path.write_bytes(py2_pickle())
    result = open_objects(str(path), "pickle")
    save_objects(result, str(tmp_path / "saved.pkl"))
    out = (tmp_path / "saved.pkl").read_bytes()
    assert b"U\x04caf\xe9" in out
    assert b"U\x03\x81\xe9\xff" in out and b"_codecs" not in out  # the array data: a py2 str
    loaded = pickle.loads(out, encoding="latin1")
    assert loaded["name"] == "café" and loaded["array"].tolist() == [0x81, 0xE9, 0xFF]


def test_trust_and_load_reads_a_compressed_pickle_as_pandas_does(tmp_path: Path) -> None:
    from storage.formats.objects.trusted.load import trusted_load

    value = {"n": 1, "items": [1, 2]}
    for compression, path in pandas_files(tmp_path, value).items():
        assert trusted_load(path, "pickle").value == value, compression
    zipped = tmp_path / "frame.pkl.zip"
    to_pickle(value, zipped)
    assert trusted_load(zipped, "pickle").value == value


def test_other_bytes_keep_a_unicode_argument_that_python2_can_encode() -> None:
    from storage.formats.objects.pickle.write import dump_tree

    out = dump_tree({"s": "é", "b": b"\xff\xe9x"}, 2, py2_strings=frozenset({"é"}))
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(out)]
    assert ("SHORT_BINSTRING", "é") in ops
    assert ("BINUNICODE", "\xff\xe9x") in ops  # codecs.encode(u'...', 'latin1'): Python 2 encodes unicode
    assert pickle.loads(out, encoding="bytes") == {"s": b"\xe9", "b": b"\xff\xe9x"}


def test_the_files_tab_lists_a_compressed_pickle_with_its_compression(qtbot, tmp_path: Path) -> None:
    from gui.files.browser import FORMAT_COLUMN
    from storage.inspect.fileinfo import file_info

    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "frame.pkl.bz2"
    to_pickle({"n": 1}, path)
    assert file_info(str(path))["format"] == "pickle (bz2)"
    window = launch(qtbot, tmp_path / "settings")
    browser = window.page("files").browser
    browser.set_root(str(folder))
    model = browser.model

    def fmt() -> str:
        return model.data(model.index(str(path), FORMAT_COLUMN))

    fmt()
    qtbot.waitUntil(lambda: fmt() == "pickle (bz2)", timeout=10_000)
