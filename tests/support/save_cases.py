"""One document per format saver, made on disk and saved again through the real saver.

``make(folder)`` writes the original (with the standard library, not the code under test) and
returns the document's files; ``save(folder)`` writes a new, larger version through Datashelf's
saver. Used by ``test_save_safety`` for permissions and full-disk checks.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NEW_SIZE = 40_000  # the new version's payload: bigger than any free space the tests leave


@dataclass
class Case:
    make: Callable[[Path], list[Path]]
    save: Callable[[Path], None]


def _make_text(folder: Path) -> list[Path]:
    path = folder / "notes.txt"
    path.write_bytes(b"first line\r\nsecond line\r\n")
    return [path]


def _save_text(folder: Path) -> None:
    from storage.formats.text.file import load_text, save_text

    path = str(folder / "notes.txt")
    content = load_text(path)
    save_text(path, content.text + "more\n" * (NEW_SIZE // 5), content)


def _make_json(folder: Path) -> list[Path]:
    path = folder / "data.json"
    path.write_text('{\n  "a": 1\n}\n', encoding="utf-8")
    return [path]


def _save_json(folder: Path) -> None:
    from storage.formats.json.doc import JsonDoc
    from storage.formats.json.io import read_json

    path = str(folder / "data.json")
    doc = JsonDoc.from_load(read_json(path))
    doc.root["rows"] = list(range(NEW_SIZE // 4))
    doc.save(path)


def _objects(name: str, kind: str) -> Callable[[Path], None]:
    def save(folder: Path) -> None:
        from storage.formats.objects.file import open_objects, save_objects

        path = str(folder / name)
        result = open_objects(path, kind)
        assert result.doc is not None
        top = [0] if result.doc.root is not result.doc.value else []  # one pickle shows as a 1-item list
        result.doc.set_value([*top, "payload"], bytes(range(256)) * (NEW_SIZE // 256))
        save_objects(result, path)

    return save


def _make_pickle(folder: Path) -> list[Path]:
    path = folder / "model.pkl"
    path.write_bytes(pickle.dumps({"payload": b"old", "n": 1}, protocol=4))
    return [path]


def _make_joblib(folder: Path) -> list[Path]:
    import joblib

    path = folder / "model.joblib"
    joblib.dump({"payload": b"old", "n": 1}, path, compress=("gzip", 3))
    return [path]


def _make_shelf(folder: Path) -> list[Path]:
    import dbm.dumb
    import shelve

    base = folder / "store"
    with shelve.Shelf(dbm.dumb.open(str(base), "c"), protocol=4) as db:
        db["kept"] = {"n": 1}
        db["doc"] = b"old"
    return [Path(str(base) + ext) for ext in (".dat", ".dir")]


def _save_shelf(folder: Path) -> None:
    from storage.formats.objects.shelf.io import open_shelf

    shelf = open_shelf(str(folder / "store"))
    shelf.set("doc", pickle.dumps(bytes(range(256)) * (NEW_SIZE // 256), protocol=4))
    shelf.save()


def _make_hex(folder: Path) -> list[Path]:
    path = folder / "blob.bin"
    path.write_bytes(bytes(range(256)) * (NEW_SIZE // 256))
    return [path]


def _save_hex(folder: Path) -> None:
    from storage.formats.text.hex import HexBuffer

    path = str(folder / "blob.bin")
    buffer = HexBuffer(path)
    try:
        buffer.set_byte(0, 0xAB)
        buffer.save_to(path)
    finally:
        buffer.close()


CASES: dict[str, Case] = {
    "text": Case(_make_text, _save_text),
    "json": Case(_make_json, _save_json),
    "pickle": Case(_make_pickle, _objects("model.pkl", "pickle")),
    "joblib": Case(_make_joblib, _objects("model.joblib", "joblib")),
    "shelf": Case(_make_shelf, _save_shelf),
    "hex": Case(_make_hex, _save_hex),
}
