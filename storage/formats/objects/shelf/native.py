"""Shelves written by C dbm libraries (GNU dbm, ndbm, Berkeley DB): read through this Python's module.

These formats have no pure-Python reader. When the module is missing (a Python built without
gdbm or ndbm), opening says which backend wrote the file and what would read it, instead of a
vague failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Any

from storage.core.errors import ParseError, UnsupportedError

MODULES = {"dbm.gnu": "_gdbm", "dbm.ndbm": "_dbm", "bsddb": "_dbm"}
_WHAT = {"dbm.gnu": "dbm.gnu (GNU dbm)", "dbm.ndbm": "dbm.ndbm (ndbm)",
         "bsddb": "Berkeley DB (Python 2's bsddb/dbhash, or a dbm.ndbm built on Berkeley DB)"}
_NEEDED = {
    "dbm.gnu": "a Python built with gdbm (its C module _gdbm; on Debian/Ubuntu the python3-gdbm package)",
    "dbm.ndbm": "a Python built with ndbm (its C module _dbm; on Debian/Ubuntu the python3-dbm package)",
    "bsddb": "a Python whose dbm.ndbm (_dbm) is built on Berkeley DB, or the berkeleydb package",
}


def available(backend: str) -> bool:
    """Whether this Python has the C module the backend needs."""
    return importlib.util.find_spec(MODULES.get(backend, "_dbm")) is not None


def needed(backend: str) -> str:
    """What would read a shelf of this backend, in words."""
    return _NEEDED.get(backend, "a Python built with the matching dbm module")


def missing_error(backend: str) -> UnsupportedError:
    """The error for a shelf whose backend this Python lacks."""
    module = MODULES.get(backend, "_dbm")
    return UnsupportedError(f"This shelf was written by {_WHAT.get(backend, backend)}; this Python has no "
                            f"{'dbm.gnu' if module == '_gdbm' else 'dbm.ndbm'} module, so the shelf cannot "
                            f"be read: it needs {needed(backend)}")


class NativeStore:
    """Keys and values through dbm.gnu/dbm.ndbm opened read-only; saving is not offered."""

    note = ""

    def __init__(self, backend: str, path: str, files: tuple[str, ...] = ()) -> None:
        if not available(backend):
            raise missing_error(backend)
        self.backend, self.path, self.files = backend, path, files or (path,)
        self._module = importlib.import_module("dbm.gnu" if backend == "dbm.gnu" else "dbm.ndbm")
        with self._open() as db:
            self._keys = list(db.keys())

    def _open(self) -> Any:
        try:
            return self._module.open(self.path, "r")  # GNU: the file itself; ndbm: the base name
        except Exception as exc:  # each dbm module has its own error class
            raise ParseError(f"{self.backend} cannot open the shelf: {exc}") from None

    def raw_keys(self) -> list[bytes]:
        return list(self._keys)

    def read(self, key: bytes) -> bytes:
        with self._open() as db:
            return bytes(db[key])

    def items(self) -> Iterator[tuple[bytes, bytes | ParseError]]:
        with self._open() as db:
            for key in self._keys:
                yield key, bytes(db[key])

    def commit(self, changes: dict[bytes, bytes | None]) -> None:
        raise UnsupportedError(f"Saving {self.backend} shelves is not supported; "
                               f"{os.path.basename(self.path)} is unchanged")
