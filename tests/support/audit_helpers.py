"""A side-effect detector for storage tests: an audit hook and a canary payload.

``no_code_runs()`` fails the block if anything is unpickled (``pickle.find_class``) or code is
executed; ``Canary`` pickles to a call that would create a file, so its absence proves it never ran.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# not "compile": ast.literal_eval (numpy headers, dbm.dumb indexes) raises it and runs nothing
WATCHED = ("pickle.find_class", "exec", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn")
_events: list[str] = []
_watching: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _watching and event in WATCHED:
        if event == "exec" and _is_import(args[0]):
            return  # a module of ours or a library imported for the first time (lazily), not the file's code
        _events.append(event)


def _is_import(code: object) -> bool:
    """Whether ``code`` is a module body read from a source or bytecode file: what ``import`` runs.
    A payload's ``exec("…")`` runs code compiled from a string (``<string>``)."""
    filename = getattr(code, "co_filename", "")
    module = getattr(code, "co_name", "") == "<module>"
    return module and filename.endswith(".py") and os.path.isfile(filename)


sys.addaudithook(_audit)  # cannot be removed; it only records while a block is watched


@contextlib.contextmanager
def no_code_runs() -> Iterator[None]:
    """Fail if the block unpickles anything or runs code."""
    _events.clear()
    _watching.append(True)
    try:
        yield
    finally:
        _watching.clear()
    assert _events == [], f"code ran or a pickle was loaded: {_events}"


class Canary:
    """Unpickling it would create the file at ``path`` (only ever pickled in tests)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))
