"""HDF5 sample files for the storage and GUI tests, written with h5py into a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

COMPOUND = np.dtype([("id", "i4"), ("x", "f8"), ("tag", "S4")])


def make_sample(path: Path) -> Path:
    """Groups, attributes, compound, vlen strings, references, 3-D, gzip chunks, broken links.

    ``/tables/readout`` carries PyTables' CLASS/TITLE attributes (PyTables itself is not needed).
    """
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "sample"
        f.attrs["version"] = 3
        grp = f.create_group("group")
        grp.attrs["units"] = np.array(["m", "s"], dtype=h5py.string_dtype())
        grp.attrs["scale"] = np.arange(3.0)
        grp["inner"] = np.arange(5, dtype="i2")
        f["cube"] = np.arange(2 * 3 * 4).reshape(2, 3, 4)
        records = np.zeros(4, dtype=COMPOUND)
        records["id"] = [1, 2, 3, 4]
        records["x"] = [0.5, 1.5, 2.5, 3.5]
        records["tag"] = [b"a", b"bb", b"\xff", b"dddd"]
        table = f.create_group("tables").create_dataset("readout", data=records)
        table.attrs["CLASS"] = np.bytes_("TABLE")
        table.attrs["TITLE"] = np.bytes_("Readout")
        f["tables"].attrs["CLASS"] = np.bytes_("GROUP")
        f.create_dataset("names", data=["alpha", "βeta", ""], dtype=h5py.string_dtype())
        refs = f.create_dataset("refs", (2,), dtype=h5py.ref_dtype)
        refs[0] = f["cube"].ref
        f.attrs["points_to"] = f["group"].ref
        ragged = f.create_dataset("ragged", (2,), dtype=h5py.vlen_dtype(np.int32))
        ragged[0] = [1, 2, 3]
        f.create_dataset("zipped", data=np.arange(2000.0).reshape(200, 10), compression="gzip",
                         chunks=(50, 10), shuffle=True)
        f["scalar"] = 2.5
        f["missing_ext"] = h5py.ExternalLink("no_such_file.h5", "/data")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f.create_dataset("line", data=np.sin(np.linspace(0, 12, 5000)))
        f["named_type"] = np.dtype("<f4")  # a committed datatype: neither group nor dataset
    return path


def make_huge(path: Path) -> Path:
    """A 100,000 × 100,000 (10^10 elements) chunked dataset: only a corner is ever written."""
    with h5py.File(path, "w") as f:
        big = f.create_dataset("big", shape=(100_000, 100_000), dtype="f4", chunks=(256, 256),
                               compression="gzip")
        big[0:2, 0:3] = [[1, 2, 3], [4, 5, 6]]
    return path


def stamp(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def make_netcdf_like(path: Path) -> Path:
    """What netCDF4 writes underneath: dimension scales attached to a variable, NUL-padded text."""
    with h5py.File(path, "w") as f:
        f["time"] = np.arange(5.0)
        f["time"].make_scale("time")
        f["lat"] = np.linspace(-90, 90, 3)
        f["lat"].make_scale("lat")
        temp = f.create_dataset("temp", data=np.arange(15, dtype="f4").reshape(5, 3))
        temp.dims[0].attach_scale(f["time"])
        temp.dims[1].attach_scale(f["lat"])
        temp.attrs["units"] = np.bytes_("K")
        f.attrs["Conventions"] = np.bytes_("CF-1.8")
    return path


def make_wide_group(path: Path, members: int) -> Path:
    with h5py.File(path, "w") as f:
        group = f.create_group("many")
        for i in range(members):
            group[f"d{i:05}"] = i
    return path


def make_plugin_filtered(path: Path) -> Path:
    """A dataset written through filter 32123, which no HDF5 build has (an optional filter)."""
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((10,))
        dcpl.set_filter(32123, h5py.h5z.FLAG_OPTIONAL, (1,))
        h5py.h5d.create(f.id, b"plug", h5py.h5t.NATIVE_INT32, h5py.h5s.create_simple((100,)), dcpl=dcpl)
        f["plain"] = np.arange(3)
    return path
