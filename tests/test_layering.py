"""storage/ never imports Qt (napari's rule): import every module in a clean interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import importlib, pkgutil, sys
import storage
names = [m.name for m in pkgutil.walk_packages(storage.__path__, 'storage.')]
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'qtpy'))
print(len(names), qt)
sys.exit(1 if qt else 0)
"""


def test_storage_imports_no_qt() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    count = int(done.stdout.split()[0])
    assert count >= 6  # it really imported the package's modules


def test_check_would_catch_a_qt_import(tmp_path: Path) -> None:
    """The check above fails when a storage module imports Qt (so it can fail)."""
    package = tmp_path / "storage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("import PySide6.QtCore\n")
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "PySide6" in done.stdout


LAUNCH = """
import os, sys, tempfile
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
import main
app, window = main.build(['--settings-dir', tempfile.mkdtemp()])
window.show()
app.processEvents()
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg', 'keyring', 'numpy', 'h5py'})
print(heavy)
"""


def test_launch_without_documents_imports_no_database_or_array_library() -> None:
    """An empty launch stays quick: SQLAlchemy, psycopg, keyring, NumPy and h5py load on first
    use (SQLAlchemy alone added 200 ms to the launch when a session module imported it)."""
    done = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _classes() -> dict[str, list[tuple[str, list[str]]]]:
    """Every class of gui/ and storage/: name -> [(module path, base names)]."""
    import ast

    found: dict[str, list[tuple[str, list[str]]]] = {}
    for path in sorted([*ROOT.glob("gui/**/*.py"), *ROOT.glob("storage/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).split(".")[-1].split("[")[0] for base in node.bases]
                found.setdefault(node.name, []).append((str(path.relative_to(ROOT)), bases))
    return found


def test_no_class_is_spread_over_mixins() -> None:
    """STYLE.md §11: a class is composed of parts that own their state, never spread over mixins
    that share ``self``. So no ``*Mixin`` class, and no class of ours inherits from two of ours
    (a ``typing.Protocol`` it declares to follow does not count)."""
    classes = _classes()
    protocols = {name for name, defs in classes.items() if any("Protocol" in bases for _, bases in defs)}
    mixins = sorted(f"{where}: {name}" for name, defs in classes.items() for where, _ in defs
                    if name.endswith("Mixin"))
    assert not mixins, mixins
    shared = sorted(f"{where}: {name}({', '.join(bases)})" for name, defs in classes.items()
                    for where, bases in defs
                    if len([b for b in bases if b in classes and b not in protocols]) > 1)
    assert not shared, shared
