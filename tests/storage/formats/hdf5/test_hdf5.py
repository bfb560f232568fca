"""storage.hdf5_*: lazy tree, attributes, dataset info, windows, export, edits, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from storage.core.errors import KnownError, ParseError, UnsupportedError, WriteError
from storage.formats.hdf5.edit import (
    Scratch,
    create_dataset,
    create_group,
    delete_node,
    make_writable,
    parse_value,
    restore_node,
    set_attribute,
    set_cell,
)
from storage.formats.hdf5.export import export_slice
from storage.formats.hdf5.io import H5File
from storage.inspect.report import inspect_path
from tests.support.hdf5_samples import (
    h5py,
    make_huge,
    make_netcdf_like,
    make_plugin_filtered,
    make_sample,
    make_wide_group,
    stamp,
)


@pytest.fixture
def sample(tmp_path):
    return make_sample(tmp_path / "sample.h5")


def test_tree_attributes_and_links(sample) -> None:
    before = stamp(sample)
    with H5File(str(sample)) as h5:
        assert not h5.writable and not h5.lock_note
        nodes = {n.name: n for n in h5.children("/")}
        assert nodes["group"].kind == "group" and nodes["group"].members == 1
        assert nodes["cube"].shape == (2, 3, 4) and nodes["cube"].dtype == "int64"
        assert nodes["names"].dtype == "string (vlen, utf-8)"
        assert nodes["refs"].dtype == "object reference"
        assert nodes["missing_ext"].kind == "external"
        assert "no_such_file.h5" in nodes["missing_ext"].message and "does not exist" in nodes[
            "missing_ext"].message
        assert nodes["dangling"].kind == "soft" and "/nowhere" in nodes["dangling"].message
        assert nodes["named_type"].kind == "datatype" and nodes["named_type"].dtype == "float32"
        assert h5.children("/", start=1, count=2) == list(nodes.values())[1:3]
        (readout,) = h5.children("/tables")
        assert readout.pytables_class == "TABLE"
        root_attrs = {a.name: a for a in h5.attributes("/")}
        assert root_attrs["title"].value == "sample" and root_attrs["version"].value == "3"
        assert root_attrs["points_to"].value == "→ /group"
        group_attrs = {a.name: a.value for a in h5.attributes("/group")}
        assert group_attrs == {"units": "[m, s]", "scale": "[0.0, 1.0, 2.0]"}
    assert stamp(sample) == before  # opening and closing changes nothing


def test_dataset_info(sample) -> None:
    with H5File(str(sample)) as h5:
        info = h5.dataset_info("/zipped")
        assert info.chunks == (50, 10) and info.compression == "gzip"
        assert any(f.startswith("gzip") for f in info.filters)
        assert any(f.startswith("shuffle") for f in info.filters)
        assert info.numeric and not info.warnings
        table = h5.dataset_info("/tables/readout")
        assert table.fields == ("id", "x", "tag") and not table.numeric
        with pytest.raises(UnsupportedError):
            h5.dataset_info("/group")


def test_missing_filter_plugin_warns(tmp_path) -> None:
    path = make_plugin_filtered(tmp_path / "plugin.h5")
    with H5File(str(path)) as h5:
        (warning,) = h5.dataset_info("/plug").warnings
        assert "32123" in warning and "plugin" in warning


def test_windows_of_nd_compound_strings_refs(sample) -> None:
    with H5File(str(sample)) as h5:
        # rows = axis 1, columns = axis 2, at position 1 along axis 0
        window = h5.read_window("/cube", (1, 2), (1, 0, 0), (1, 3), (2, 4))
        assert window.cells == [["18", "19"], ["22", "23"]]
        # columns before rows: transposed
        window = h5.read_window("/cube", (2, 0), (0, 1, 0), (0, 4), (0, 2))
        assert window.cells == [["4", "16"], ["5", "17"], ["6", "18"], ["7", "19"]]
        table = h5.read_window("/tables/readout", (0, None), (0,), (1, 3), (0, 3))
        assert table.cells == [["2", "1.5", "bb"], ["3", "2.5", "\\xff"]]
        assert h5.read_window("/tables/readout", (0, None), (0,), (0, 2), (1, 2)).cells == [["0.5"], ["1.5"]]
        assert h5.read_window("/names", (0, None), (0,), (0, 3), (0, 1)).cells == [["alpha"], ["βeta"], [""]]
        assert h5.read_window("/refs", (0, None), (0,), (0, 2), (0, 1)).cells == [["→ /cube"],
                                                                                 ["<null reference>"]]
        assert h5.read_window("/ragged", (0, None), (0,), (0, 2), (0, 1)).cells == [["[1, 2, 3]"], ["[]"]]
        assert h5.read_window("/scalar", (0, None), (), (0, 1), (0, 1)).cells == [["2.5"]]
        zipped = h5.read_window("/zipped", (0, 1), (0, 0), (195, 300), (8, 10))
        assert zipped.row_start == 195 and zipped.cells[-1] == ["1998.0", "1999.0"]
        assert zipped.values is not None and zipped.values.shape == (5, 2)


def test_huge_dataset_is_never_read_whole(tmp_path) -> None:
    path = make_huge(tmp_path / "huge.h5")
    with H5File(str(path)) as h5:
        node = h5.node("/big")
        assert node.size == 10**10
        window = h5.read_window("/big", (0, 1), (0, 0), (0, 40), (0, 12))
        assert window.cells[1][:4] == ["4.0", "5.0", "6.0", "0.0"]
        assert h5.cells_read == 40 * 12
        with pytest.raises(UnsupportedError):
            h5.read_window("/big", (0, 1), (0, 0), (0, 100_000), (0, 100_000))


def test_truncated_and_corrupt_files(tmp_path, sample) -> None:
    data = sample.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    for path in (truncated, garbage):
        before = stamp(path)
        try:
            with H5File(str(path)) as h5:  # may open: the damage shows when reading
                for node in h5.children("/"):
                    if node.kind == "dataset" and node.shape:
                        h5.read_window(node.path, (0, None), (0,) * len(node.shape), (0, 5), (0, 1))
        except KnownError as exc:
            assert str(exc)
        assert stamp(path) == before
    with pytest.raises(ParseError):
        H5File(str(garbage))
    with pytest.raises(KnownError, match="does not exist"):
        H5File(str(tmp_path / "absent.h5"))


def test_file_locked_by_another_writer(tmp_path, sample) -> None:
    code = ("import h5py, sys, time\nf = h5py.File(sys.argv[1], 'a')\nprint('open', flush=True)\n"
            "sys.stdin.readline()\nf.close()\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(sample)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        with H5File(str(sample)) as h5:
            assert "another program" in h5.lock_note
            assert {n.name for n in h5.children("/")} >= {"group", "cube"}
            with pytest.raises(WriteError):
                make_writable(h5)
    finally:
        writer.communicate("\n", timeout=30)


def test_same_process_writer_handle(sample) -> None:
    with h5py.File(sample, "a") as writer:
        writer["extra"] = [1, 2]
        writer.flush()
        with H5File(str(sample)) as h5:
            assert "extra" in {n.name for n in h5.children("/")}


def test_export_csv_and_npy(tmp_path, sample) -> None:
    with H5File(str(sample)) as h5:
        csv_path = tmp_path / "slice.csv"
        assert export_slice(h5, "/cube", (1, 2), (1, 0, 0), str(csv_path), "csv") == 3
        assert csv_path.read_text().splitlines() == ["0,1,2,3", "12,13,14,15", "16,17,18,19", "20,21,22,23"]
        table_csv = tmp_path / "table.csv"
        export_slice(h5, "/tables/readout", (0, None), (0,), str(table_csv), "csv")
        assert table_csv.read_text().splitlines()[:2] == ["id,x,tag", "1,0.5,a"]
        npy = tmp_path / "slice.npy"
        export_slice(h5, "/zipped", (0, 1), (0, 0), str(npy), "npy")
        assert np.array_equal(np.load(npy), np.arange(2000.0).reshape(200, 10))
        npy_t = tmp_path / "t.npy"
        export_slice(h5, "/cube", (2, 0), (0, 2, 0), str(npy_t), "npy")
        assert np.array_equal(np.load(npy_t), np.arange(24).reshape(2, 3, 4)[:, 2, :].T)
        with pytest.raises(UnsupportedError):
            export_slice(h5, "/names", (0, None), (0,), str(tmp_path / "n.npy"), "npy")
        assert not (tmp_path / "n.npy").exists()


def test_writable_edits_after_backup(tmp_path, sample) -> None:
    original = sample.read_bytes()
    h5 = H5File(str(sample))
    with pytest.raises(WriteError):
        set_cell(h5, "/cube", (0, 0, 0), 5)
    assert not (tmp_path / "sample.h5.bak").exists()
    bak = make_writable(h5)
    assert (tmp_path / "sample.h5.bak").read_bytes() == original and bak.endswith(".bak")
    assert set_cell(h5, "/cube", (0, 1, 2), parse_value("-7", h5.handle["cube"].dtype)) == 6
    assert set_cell(h5, "/tables/readout", (1,), b"zz", field="tag") == b"bb"
    set_attribute(h5, "/group", "note", "hi")
    set_attribute(h5, "/", "version", None)
    create_group(h5, "/made/deep")
    create_dataset(h5, "/made/zeros", (3, 2), "f4")
    scratch = Scratch()
    key = delete_node(h5, "/group", scratch)
    link_key = delete_node(h5, "/missing_ext", scratch)
    h5.close()
    with h5py.File(sample, "r") as f:
        assert f["cube"][0, 1, 2] == -7 and f["tables/readout"][1]["tag"] == b"zz"
        assert "version" not in f.attrs and f["made/zeros"].shape == (3, 2)
        assert "group" not in f and "missing_ext" not in f
    h5 = H5File(str(sample), writable=True)
    restore_node(h5, "/group", scratch, key)
    restore_node(h5, "/missing_ext", scratch, link_key)
    h5.close()
    scratch.close()
    with h5py.File(sample, "r") as f:
        assert f["group"].attrs["note"] == "hi" and list(f["group/inner"][:]) == [0, 1, 2, 3, 4]
        assert isinstance(f.get("missing_ext", getlink=True), h5py.ExternalLink)


def test_parse_value_refuses_what_does_not_fit() -> None:
    assert parse_value("0x10", np.dtype("u1")) == 16
    for text, dtype in (("300", "i1"), ("abc", "f4"), ("maybe", "?"), ("toolong", "S3")):
        with pytest.raises(ValueError):
            parse_value(text, np.dtype(dtype))


def test_inspect_tree_is_capped(tmp_path, sample, monkeypatch) -> None:
    report = inspect_path(sample)
    assert report["ok"], report
    tree = {e["path"]: e for e in report["summary"]["tree"]}
    assert tree["/cube"]["shape"] == [2, 3, 4] and tree["/tables/readout"]["pytables_class"] == "TABLE"
    assert tree["/group"]["attributes"]["units"] == "[m, s]"
    assert tree["/zipped"]["chunks"] == [50, 10]
    assert any("no_such_file.h5" in f["message"] for f in report["findings"])
    many = tmp_path / "many.h5"
    with h5py.File(many, "w") as f:
        for i in range(300):
            f.create_group(f"g{i:03}")
    import storage.formats.hdf5.summary as summary

    monkeypatch.setattr(summary, "MAX_NODES", 50)
    report = inspect_path(many)
    assert len(report["summary"]["tree"]) == 50
    assert any("more than 50" in f["message"] for f in report["findings"])


def test_netcdf4_dimension_scales(tmp_path) -> None:
    path = make_netcdf_like(tmp_path / "climate.nc")
    report = inspect_path(path)
    assert report["format"] == "hdf5" and report["ok"]
    with H5File(str(path)) as h5:
        nodes = {n.name: n for n in h5.children("/")}
        assert nodes["time"].dimension_scale and not nodes["time"].pytables_class
        attrs = {a.name: a.value for a in h5.attributes("/temp")}
        assert attrs["DIMENSION_LIST"] == "[[→ /time], [→ /lat]]" and attrs["units"] == "K"
        scale_attrs = {a.name: a.value for a in h5.attributes("/time")}
        assert scale_attrs["REFERENCE_LIST"] == "[(dataset=→ /temp, dimension=0)]"


def test_children_come_in_batches(tmp_path) -> None:
    path = make_wide_group(tmp_path / "wide.h5", 1200)
    with H5File(str(path)) as h5:
        assert h5.child_count("/many") == 1200
        first = h5.children("/many", 0, 500)
        last = h5.children("/many", 1000, 500)
        assert len(first) == 500 and len(last) == 200
        assert (first[0].name, last[-1].name) == ("d00000", "d01199")


def test_user_block_before_the_signature(tmp_path) -> None:
    path = tmp_path / "userblock.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["x"] = np.arange(3)
    with open(path, "r+b") as handle:
        handle.write(b"#!not really a script, just a user block\n")
    report = inspect_path(path)
    assert report["ok"] and report["summary"]["signature_offset"] == 512
    with H5File(str(path)) as h5:
        assert h5.read_window("/x", (0, None), (0,), (0, 3), (0, 1)).cells == [["0"], ["1"], ["2"]]
