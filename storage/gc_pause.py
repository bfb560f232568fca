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
    counting when the document closes. The cost: cyclic garbage alive at that moment is no
    longer collected, a bounded leak we accept for big documents only.
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
