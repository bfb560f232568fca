"""Find every place a module could write a file, by reading its syntax tree (nothing is imported).

Used by ``test_atomic_only``: storage/ and gui/ must save only through ``storage/core/atomic.py``.
The scan is deliberately conservative: a mode it cannot read (a variable) counts as a write, and
anything it flags needs an allowlist entry with a reason.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# A mode string such as "w", "wb", "a+", "r+b", "x"; "r"/"rb"/"rt" only read.
_MODE = re.compile(r"^[rwaxbtU+]{1,4}$")
_OS_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_EXCL"}
_MODULE_OPENS = {"builtins.open", "io.open", "codecs.open", "gzip.open", "bz2.open", "lzma.open",
                 "tarfile.open", "os.fdopen"}
_ARCHIVES = {"zipfile.ZipFile", "tarfile.TarFile", "gzip.GzipFile", "bz2.BZ2File", "lzma.LZMAFile"}
_NUMPY_SAVES = {"save", "savez", "savez_compressed", "savetxt"}
_SHELF_OPENS = {"shelve.open", "dbm.open", "dbm.dumb.open", "dbm.gnu.open", "dbm.ndbm.open"}
_ALWAYS = {
    "shutil.copy": "copy", "shutil.copy2": "copy", "shutil.copyfile": "copy", "shutil.copytree": "copy",
    "shutil.move": "rename", "os.replace": "rename", "os.rename": "rename", "os.renames": "rename",
    "os.truncate": "truncate", "os.ftruncate": "truncate", "os.write": "os-write",
    "numpy.save": "numpy-save", "numpy.savez": "numpy-save", "numpy.savez_compressed": "numpy-save",
    "numpy.savetxt": "numpy-save", "joblib.dump": "joblib-dump", "sqlite3.connect": "sqlite-connect",
    "sqlalchemy.create_engine": "sqlalchemy-engine", "tempfile.mkstemp": "tempfile",
    "tempfile.NamedTemporaryFile": "tempfile",
}


@dataclass(frozen=True)
class Write:
    """One place that may write: file (relative), enclosing function, what kind, line."""

    path: str
    where: str
    kind: str
    line: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path, self.where, self.kind)


def _writes_mode(node: ast.expr | None, default_writes: bool = False) -> bool:
    """True when a mode argument may write (a literal with w/a/x/+, or anything not a literal)."""
    if node is None:
        return default_writes
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c in node.value for c in "wax+")
    return True


def _arg(call: ast.Call, index: int, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return call.args[index] if len(call.args) > index else None


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.aliases: dict[str, str] = {"open": "builtins.open"}
        self.scope: list[str] = []
        self.found: list[Write] = []

    # -- names ----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if node.module and not node.level:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            if alias.name in _OS_WRITE_FLAGS and node.module == "os":
                self._add("os-write-flag", node)

    def _dotted(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.aliases.get(node.id, node.id)
        return ".".join([base, *reversed(parts)])

    def _add(self, kind: str, node: ast.AST) -> None:
        where = ".".join(self.scope) or "<module>"
        self.found.append(Write(self.path, where, kind, getattr(node, "lineno", 0)))

    # -- scopes ---------------------------------------------------------------------------
    def _scoped(self, node: ast.AST, name: str) -> None:
        self.scope.append(name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scoped(node, "<lambda>")

    # -- writes ---------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _OS_WRITE_FLAGS and self._dotted(node) == f"os.{node.attr}":
            self._add("os-write-flag", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        kind = self._classify(node)
        if kind:
            self._add(kind, node)
        self.generic_visit(node)

    def _classify(self, call: ast.Call) -> str | None:
        func = call.func
        name = self._dotted(func)
        attr = func.attr if isinstance(func, ast.Attribute) else None
        if name in _ALWAYS:
            return _ALWAYS[name]
        if name and name.split(".")[0] in ("np", "numpy") and name.split(".")[-1] in _NUMPY_SAVES:
            return "numpy-save"  # numpy bound to a local name the import map cannot see (np = self._np)
        if name in _SHELF_OPENS:  # shelve/dbm default to flag "c": create and write
            flag = _arg(call, 1, "flag")
            return None if isinstance(flag, ast.Constant) and flag.value == "r" else "shelf-open"
        if name in _MODULE_OPENS:
            return "open-write" if _writes_mode(_arg(call, 1, "mode")) else None
        if name in _ARCHIVES:
            return "archive-write" if _writes_mode(_arg(call, 1, "mode")) else None
        if attr in ("write_text", "write_bytes"):
            return "write-text-bytes"
        if attr == "tofile":
            return "numpy-save"
        if attr == "memmap" or name in ("numpy.lib.format.open_memmap",):
            mode = _arg(call, 2 if attr == "memmap" else 1, "mode")
            return "numpy-memmap" if _writes_mode(mode, default_writes=True) else None
        if attr == "File" and "h5py" in ast.unparse(func.value):  # type: ignore[union-attr]
            return "h5py-write" if _writes_mode(_arg(call, 1, "mode")) else None
        if attr == "open" and name not in _MODULE_OPENS:
            # Path.open(mode), ZipFile.open(name, mode), a dbm module's open(path, flag), …:
            # a write-like mode among the first two arguments, or a non-literal mode keyword.
            candidates = [a for a in call.args[:2] if isinstance(a, ast.Constant)
                          and isinstance(a.value, str) and _MODE.match(a.value)]
            mode_kw = _arg(call, 99, "mode")
            if mode_kw is not None:
                candidates.append(mode_kw)
            return "open-write" if any(_writes_mode(c) for c in candidates) else None
        return None


def scan_source(source: str, path: str = "<snippet>") -> list[Write]:
    """Every place ``source`` may write a file."""
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source, filename=path))
    return scanner.found
