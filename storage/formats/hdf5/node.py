"""What the HDF5 tree shows of one member of a group, in plain Python (no NumPy, no h5py).

Shared by the h5py reader (:mod:`storage.formats.hdf5.io`) and the first-stage reader
(:mod:`storage.formats.hdf5.peek`), so the tree can show a file's first level before NumPy and h5py
are imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storage.formats.hdf5.outside import OutsideData

BATCH = 500  # members of a group listed at a time


@dataclass
class H5Node:
    """One member of a group: what the tree shows before anything is read."""

    path: str
    name: str
    kind: str  # group, dataset, datatype, external, soft, broken
    shape: tuple[int, ...] | None = None
    dtype: str = ""
    members: int = 0  # a group's number of links
    message: str = ""  # why a link is broken
    pytables_class: str = ""
    dimension_scale: bool = False  # a netCDF4 dimension (HDF5 dimension scale)
    outside: tuple[OutsideData, ...] = ()  # other files this node reads (links, external data)

    @property
    def size(self) -> int:
        return math.prod(self.shape) if self.shape else (1 if self.shape == () else 0)
