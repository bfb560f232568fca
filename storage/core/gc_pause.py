"""Pause the cyclic garbage collector while a loader makes millions of objects (JSON, pickles)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused(freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector; with ``freeze``, also exempt what was made from it.

    A parse makes millions of containers without a single reference cycle. Left to the
    collector, they make the next collections walk them all (1.5 s after a 100 MB file, on
    whichever thread allocates next, often the GUI's). ``gc.freeze`` moves every object alive at
    that moment to the permanent generation; the parsed values are still freed by reference
    counting. The freeze also takes in the open documents themselves (their widgets are
    reference cycles): closing a document calls :func:`thaw`, or it would never be freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    completed = False
    try:
        yield
        completed = True
    finally:
        if completed and freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def thaw() -> None:
    """A document closed: hand back to the collector what an earlier freeze exempted.

    Without this the closed document, frozen along with everything alive when a big file was
    parsed, would never be collected (nor the values it holds). The cost: the documents still
    open are walked by full collections again until the next big load freezes them.
    """
    if gc.get_freeze_count():
        gc.unfreeze()
