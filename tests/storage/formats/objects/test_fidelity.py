"""Real-world fidelity: every file the real loaders read opens, and Save writes what they still load.

Files are built here: Python 2 pickles with latin-1 byte strings, old NumPy dtype states, a joblib
file whose first array starts late, compressed pickles as pandas writes them. Saved files are
checked by the real loaders (pickle, joblib) in a child process.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import pickle
import pickletools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from storage.formats.objects.file import open_objects, save_objects
from storage.formats.objects.pickle.numpy_build import rebuild_dtype
from storage.formats.objects.pickle.safe import load_safe
from storage.inspect.report import exit_code, inspect_path
from storage.sniff.detect import sniff

BENIGN = Path(__file__).parents[3] / "data" / "benign"


def real_load(path: Path, code: str) -> object:
    """Run ``code`` (which reads PATH and prints JSON) in a child process: the real loaders."""
    script = "import json, sys, warnings\nwarnings.simplefilter('ignore')\nPATH = sys.argv[1]\n" + code
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- Python 2 pickles ------------------------------------------------------------------------------

def py2_pickle() -> bytes:
    """What Python 2 wrote for {'name': 'caf\\xe9', 'array': uint8 array} (protocol 2, str = bytes)."""
    dtype = (b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"
             b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
             b"(K\x01K\x03\x85" + dtype + b"\x89U\x03\x81\xe9\xfftb")
    return b"\x80\x02}(U\x04nameU\x04caf\xe9U\x05array" + array + b"u."


def test_a_python2_pickle_with_latin1_strings_opens_as_the_real_loaders_read_it(tmp_path: Path) -> None:
    data = py2_pickle()
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)  # pickle.load's default ASCII stops here
    expected = pickle.loads(data, encoding="latin1")  # what pandas / NumPy / joblib do
    load = load_safe(data)
    assert load.encoding == "latin1"
    assert load.value["name"] == expected["name"] == "café"
    assert load.value["array"].tobytes() == expected["array"].tobytes() == b"\x81\xe9\xff"

    path = tmp_path / "py2.pkl"
    path.write_bytes(data)
    result = open_objects(str(path), "pickle")
    assert result.encoding == "latin1" and result.doc.value["name"] == "café"
    report = inspect_path(path)
    assert report["ok"] and report["summary"]["encoding"] == "latin1"
    assert any("latin-1" in f["message"] for f in report["findings"])
    assert exit_code(report) == 0


def test_the_objects_tab_says_which_encoding_it_used(qtbot, tmp_path: Path) -> None:
    from tests.support.gui_helpers import launch, wait_documents

    path = tmp_path / "py2.pkl"
    path.write_bytes(py2_pickle())
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: "latin1" in document.facts.text())
    assert "Python 2 strings read as latin1" in document.facts.text()


def test_a_python2_pickle_that_is_not_latin1_text_still_fails_cleanly() -> None:
    from storage.formats.objects.pickle.safe import PickleLoadError

    with pytest.raises(PickleLoadError) as caught:
        load_safe(b"\x80\x02U\x01\xe9u.")  # SETITEMS without a MARK after the non-ASCII string
    assert "codec" not in str(caught.value)  # the structural damage is reported, not the encoding


# -- NumPy dtype states of every layout ------------------------------------------------------------

class Reduce:
    """Pickles as the given reduce value: how old NumPy versions wrote their dtypes."""

    def __init__(self, value: tuple) -> None:
        self.value = value

    def __reduce__(self) -> tuple:
        return self.value


OLD_DTYPES = {
    "version 0 (5 items)": ("f8", ("<", None, None, -1, -1), "<f8"),
    "version 1 (6 items), big-endian": ("f8", (1, ">", None, None, -1, -1), ">f8"),
    "version 1 structured, names under key -1": (
        "V12", (1, "|", None, {-1: ("a", "b"), "a": (np.dtype("<i4"), 0), "b": (np.dtype("<f8"), 4)}, 12, 1),
        [("a", "<i4"), ("b", "<f8")]),
    "version 2 (7 items)": ("i2", (2, "<", None, None, None, -1, -1), "<i2"),
    "version 3, flags from a signed char": ("u1", (3, "|", None, None, None, -1, -1, -128), "u1"),
    "version 3 object flags": ("O8", (3, "|", None, None, None, -1, -1, 63), "O"),
    "version 3 aligned struct with objects, flags as a negative char": (
        "V16", (3, "|", None, ("a", "o"), {"a": (np.dtype("<i4"), 0), "o": (np.dtype("O"), 8)}, 16, 8, -65),
        {"names": ["a", "o"], "formats": ["<i4", "O"], "offsets": [0, 8], "itemsize": 16}),
    "version 3 bytes names": ("V4", (3, "|", None, (b"x",), {b"x": (np.dtype("<i4"), 0)}, 4, 1, 0),
                              [("x", "<i4")]),
    "version 4 datetime, text unit (Python 2)": (
        "M8", (4, "<", None, None, None, -1, -1, 0, ({}, ("D", 1, 1, 1))), "<M8[D]"),
    "version 4 datetime, bytes unit": ("m8", (4, "<", None, None, None, -1, -1, 0, (None, (b"ms", 5, 1, 1))),
                                       "<m8[5ms]"),
}


@pytest.mark.parametrize("case", list(OLD_DTYPES))
def test_old_numpy_dtype_states_load_as_numpy_loads_them(case: str) -> None:
    descr, state, expected = OLD_DTYPES[case]
    data = pickle.dumps(Reduce((np.dtype, (descr, 0, 1), state)), protocol=2)  # ints, as NumPy < 1.10
    real = pickle.loads(data)
    assert real == np.dtype(expected)
    assert load_safe(data).value == real


def test_an_array_whose_dtype_has_an_old_state_loads() -> None:
    state = (1, ">", None, None, -1, -1)
    dtype = Reduce((np.dtype, ("i4", 0, 1), state))
    raw = np.arange(3, dtype=">i4").tobytes()
    from numpy._core.multiarray import _reconstruct  # what pickled arrays call

    state = (1, (3,), dtype, 0, raw)  # is_fortran as an int, as NumPy < 1.10 wrote it
    data = pickle.dumps(Reduce((_reconstruct, (np.ndarray, (0,), b"b"), state)), protocol=2)
    real = pickle.loads(data)
    value = load_safe(data).value
    # NumPy swaps a pickled big-endian array to native order while loading; so does the safe loader
    assert value.dtype == real.dtype == np.dtype("=i4") and value.tolist() == real.tolist() == [0, 1, 2]


@pytest.mark.parametrize("state", [
    (5, "<", None, None, None, -1, -1, 0),  # a version NumPy does not read
    (3, "<", None, None, None, -1, -1, -129),  # flags out of range
    ("<", None, None, -1),  # 4 items
    (1, "|", None, {"a": (np.dtype("<i4"), 0)}, 4, 1),  # version 1 fields without the names key
])
def test_states_numpy_refuses_are_refused(state: tuple) -> None:
    with pytest.raises(ValueError):
        rebuild_dtype(np.dtype("V4") if isinstance(state[3], dict) else np.dtype("f8"), state, np)


# -- joblib, whatever the name and wherever the first array --------------------------------------

def test_a_joblib_file_renamed_bin_with_a_late_first_array_opens(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    value = {"vocabulary": [f"word {i:06d} " * 4 for i in range(3000)], "weights": np.arange(10.0),
             "bias": np.ones((2, 3), dtype="<f4", order="F")}
    path = tmp_path / "model.bin"
    joblib.dump(value, path)
    assert path.read_bytes().find(b"NumpyArrayWrapper") > 64 * 1024  # beyond the sniffed head
    assert sniff(path).format == "joblib"
    assert "byte" in sniff(path).reason  # says where it found joblib's array wrapper
    result = open_objects(str(path), "joblib")
    assert result.doc.value["weights"].tolist() == value["weights"].tolist()
    assert result.doc.value["bias"].tolist() == value["bias"].tolist()
    report = inspect_path(path)
    assert report["ok"] and report["format"] == "joblib" and exit_code(report) == 0
    # opened as a "pickle" (sniffing a huge file stops early): the open still finds joblib's arrays
    assert open_objects(str(path), "pickle").doc.value["weights"].tolist() == value["weights"].tolist()


# -- pandas to_pickle with name-inferred compression ----------------------------------------------

def compressed_pickles(folder: Path, value: object) -> list[Path]:
    """What ``DataFrame.to_pickle('x.pkl.gz')`` etc. write (pandas when installed, else by hand)."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    paths = [folder / f"frame.pkl{ext}" for ext in (".gz", ".bz2", ".xz", ".zip")]
    if pd is not None:
        for path in paths:
            pd.to_pickle(value, path)
        return paths
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    paths[0].write_bytes(gzip.compress(data))
    paths[1].write_bytes(bz2.compress(data))
    paths[2].write_bytes(lzma.compress(data))
    with zipfile.ZipFile(paths[3], "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("frame.pkl", data)  # pandas names the member after the archive
    other = folder / "export.zip"
    with zipfile.ZipFile(other, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export", data)
    return [*paths, other]


def test_compressed_pandas_pickles_open_whatever_the_compression(tmp_path: Path) -> None:
    value = {"a": list(range(100)), "text": "x" * 300, "when": [1.5, None]}
    for path in compressed_pickles(tmp_path, value):
        found = sniff(path)
        assert found.format in ("pickle", "joblib"), (path.name, found.reason)
        result = open_objects(str(path), found.format)
        assert result.doc.value == value, path.name
        report = inspect_path(path)
        assert report["ok"] and exit_code(report) == 0, (path.name, report["findings"])


def test_a_zstd_pickle_opens_when_zstandard_is_installed(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    value = {"a": list(range(50)), "b": "text"}
    path = tmp_path / "frame.pkl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(pickle.dumps(value, protocol=5)))
    found = sniff(path)
    assert found.detail.get("compression") == "zstd", found.reason
    result = open_objects(str(path), found.format)
    assert result.doc.value == value and result.compression == "zstd"
    report = inspect_path(path)
    assert report["ok"] and exit_code(report) == 0
    saved = tmp_path / "saved.pkl.zst"
    save_objects(result, str(saved))
    assert pickle.loads(zstandard.ZstdDecompressor().decompressobj().decompress(saved.read_bytes())) == value


def test_a_zstd_bomb_is_refused(tmp_path: Path, monkeypatch) -> None:
    zstandard = pytest.importorskip("zstandard")
    import storage.formats.objects.joblib_io as joblib_io

    path = tmp_path / "bomb.pkl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(pickle.dumps(b"\0" * 5_000_000, protocol=4)))
    monkeypatch.setattr(joblib_io.open_joblib, "__defaults__", (1_000_000,))
    result = open_objects(str(path), sniff(path).format)  # no values, but a verdict that is not "safe"
    assert result.doc is None and "decompresses to more than" in result.load_error
    assert result.worst != "info"


def test_a_decompression_bomb_named_pkl_gz_is_refused(tmp_path: Path, monkeypatch) -> None:
    import storage.core.decompression as decompression
    import storage.formats.objects.joblib_io as joblib_io

    path = tmp_path / "bomb.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(b"\0" * 5_000_000, protocol=4)))
    monkeypatch.setattr(decompression, "MAX_DECOMPRESSED", 1_000_000)
    monkeypatch.setattr(joblib_io.open_joblib, "__defaults__", (1_000_000,))
    result = open_objects(str(path), sniff(path).format)  # no values, but a verdict that is not "safe"
    assert result.doc is None and "decompresses to more than" in result.load_error
    assert result.worst != "info"


# -- Save without edits gives what the writing libraries still load --------------------------------

def deframed_with_numpy_core(data: bytes) -> bytes:
    """``data`` (a NumPy 2 pickle) as NumPy 1.x writes it: ``numpy.core`` names, no frames."""
    out = bytearray()
    ops = list(pickletools.genops(data))
    for index, (op, arg, pos) in enumerate(ops):
        end = ops[index + 1][2] if index + 1 < len(ops) else len(data)
        if op.name == "FRAME":
            continue
        if op.name == "SHORT_BINUNICODE" and arg.startswith("numpy._core"):
            text = arg.replace("numpy._core", "numpy.core", 1).encode()
            out += b"\x8c" + bytes([len(text)]) + text
        elif op.name == "GLOBAL" and arg.startswith("numpy._core"):
            module, name = arg.split(" ")
            module = module.replace("numpy._core", "numpy.core", 1)
            out += f"c{module}\n{name}\n".encode()
        else:
            out += data[pos:end]
    return bytes(out)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_save_keeps_numpy_core_module_names_for_numpy_1_users(tmp_path: Path, protocol: int) -> None:
    value = {"array": np.arange(6.0).reshape(2, 3), "scalar": np.float32(2.5), "dtype": np.dtype("<i8")}
    data = deframed_with_numpy_core(pickle.dumps(value, protocol=protocol))
    assert b"numpy.core" in data and b"numpy._core" not in data
    source = tmp_path / "old.pkl"
    source.write_bytes(data)
    result = open_objects(str(source), "pickle")
    saved = tmp_path / "saved.pkl"
    save_objects(result, str(saved))
    written = saved.read_bytes()
    assert b"numpy.core" in written and b"numpy._core" not in written
    loaded = real_load(saved, "import pickle\nv = pickle.load(open(PATH, 'rb'))\n"
                              "print(json.dumps([v['array'].tolist(), float(v['scalar']), str(v['dtype'])]))")
    assert loaded == [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], 2.5, "int64"]


def test_save_of_a_numpy_2_pickle_keeps_numpy_core_underscore(tmp_path: Path) -> None:
    source = tmp_path / "new.pkl"
    source.write_bytes(pickle.dumps(np.arange(3), protocol=2))
    saved = tmp_path / "saved.pkl"
    save_objects(open_objects(str(source), "pickle"), str(saved))
    assert b"numpy._core.multiarray" in saved.read_bytes()


MAPPED = """import joblib, numpy as np
v = joblib.load(PATH, mmap_mode='r')
arrays = {k: a for k, a in v.items() if isinstance(a, np.ndarray)}
print(json.dumps({k: [type(a).__name__, a.offset % 16 if isinstance(a, np.memmap) else None, a.dtype.str,
                      a.shape, np.ascontiguousarray(a).tobytes().hex()]
                  for k, a in arrays.items()} | {'text': v['text']}))
"""


def test_joblib_save_keeps_the_aligned_layout_so_mmap_still_maps(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    value = {"c": np.arange(12.0).reshape(3, 4),
             "f": np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)),
             "big": np.arange(5, dtype=">i8"), "odd": np.arange(3, dtype="u1"), "text": "kept",
             "rec": np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i2"), ("b", "<f8")]),
             "when": np.array(["2020-01-01", "2021-02-03"], dtype="M8[D]"), "empty": np.zeros((0, 4))}
    source = tmp_path / "model.joblib"
    joblib.dump(value, source)
    result = open_objects(str(source), "joblib")
    saved = tmp_path / "saved.joblib"
    save_objects(result, str(saved))
    original = real_load(source, MAPPED)
    again = real_load(saved, MAPPED)
    assert again == original
    assert all(entry[0] == "memmap" and entry[1] == 0 for key, entry in again.items() if key != "text")


def test_joblib_save_keeps_the_array_subclass_the_wrapper_named(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    source = tmp_path / "m.joblib"
    with pytest.warns(PendingDeprecationWarning):  # NumPy discourages matrix; old models hold them
        matrix = np.matrix([[1, 2], [3, 4]])
    joblib.dump({"m": matrix, "plain": np.arange(3)}, source)
    saved = tmp_path / "saved.joblib"
    save_objects(open_objects(str(source), "joblib"), str(saved))
    code = ("import joblib\nv = joblib.load(PATH)\n"
            "print(json.dumps([type(v['m']).__name__, v['m'].tolist(), type(v['plain']).__name__]))")
    assert b"matrix" in saved.read_bytes()  # the wrapper still names the subclass
    # (joblib with NumPy 2 rebuilds a plain ndarray from it; with NumPy 1.x a matrix, as before)
    assert real_load(saved, code) == real_load(source, code)


def test_joblib_compressed_save_stays_compressed_and_loads(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    source = tmp_path / "model.joblib"
    joblib.dump({"w": np.arange(4.0), "text": "t"}, source, compress=("zlib", 3))
    saved = tmp_path / "saved.joblib"
    save_objects(open_objects(str(source), "joblib"), str(saved))
    assert saved.read_bytes()[:1] == b"x"
    assert real_load(saved, "import joblib\nv = joblib.load(PATH)\nprint(json.dumps(v['w'].tolist()))") == \
        [0.0, 1.0, 2.0, 3.0]


def test_save_as_of_a_multi_file_joblib_brings_its_array_files(tmp_path: Path) -> None:
    pytest.importorskip("joblib")
    from joblib.numpy_pickle_compat import NDArrayWrapper

    folder = tmp_path / "old"
    folder.mkdir()
    data = pickle.dumps({"weights": NDArrayWrapper("model.pkl_01.npy", np.ndarray)}, protocol=2)
    source = folder / "model.pkl"
    source.write_bytes(data.replace(b"joblib.numpy_pickle_compat\n", b"joblib.numpy_pickle\n"))
    np.save(folder / "model.pkl_01.npy", np.arange(6).reshape(2, 3))
    result = open_objects(str(source), sniff(source).format)
    assert result.companion_files == ["model.pkl_01.npy"]
    target = tmp_path / "elsewhere"
    target.mkdir()
    save_objects(result, str(target / "copy.pkl"))
    assert (target / "model.pkl_01.npy").read_bytes() == (folder / "model.pkl_01.npy").read_bytes()
    code = "import joblib\nprint(json.dumps(joblib.load(PATH)['weights'].tolist()))"
    loaded = real_load(target / "copy.pkl", code)
    assert loaded == [[0, 1, 2], [3, 4, 5]]


# -- the benign files checked in ------------------------------------------------------------------

BENIGN_FILES = sorted(p for p in BENIGN.iterdir() if p.is_file() and p.suffix not in (".md", ".json"))


def test_the_benign_set_is_small_and_present() -> None:
    assert len(BENIGN_FILES) >= 20
    assert sum(p.stat().st_size for p in BENIGN_FILES) < 1024**2


@pytest.mark.parametrize("path", BENIGN_FILES, ids=[p.name for p in BENIGN_FILES])
def test_every_benign_file_opens_with_no_dangerous_finding(path: Path) -> None:
    if ".pkl_" in path.name or ".gz_" in path.name:  # array files of old multi-file joblib pickles
        return
    report = inspect_path(path)
    assert not [f for f in report["findings"] if f["severity"] == "dangerous"], report["findings"]
    assert report["ok"], report["error"]
    result = open_objects(str(path), report["format"])
    assert not result.dangerous
    assert result.doc is not None


def test_decompressed_bytes_are_never_read_past_their_stream(tmp_path: Path) -> None:
    data = pickle.dumps([1, 2, 3], protocol=4)
    path = tmp_path / "x.pkl.gz"
    path.write_bytes(gzip.compress(data) + b"junk after the gzip stream")
    result = open_objects(str(path), sniff(path).format)
    assert result.doc.value == [1, 2, 3]
