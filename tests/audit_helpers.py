"""A side-effect detector for storage tests: an audit hook and a canary payload.

``no_code_runs()`` fails the block if anything is unpickled (``pickle.find_class``) or code is
executed; ``Canary`` pickles to a call that would create a file, so its absence proves it never ran.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

# not "compile": ast.literal_eval (numpy headers, dbm.dumb indexes) raises it and runs nothing
WATCHED = ("pickle.find_class", "exec", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn")
_events: list[str] = []
_watching: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _watching and event in WATCHED:
        _events.append(event)


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
