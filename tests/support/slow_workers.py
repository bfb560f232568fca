"""A pytest plugin that delays every worker by a random pause, to shake out timing bugs.

Answers from workers then arrive late and out of order, as on a slow or loaded machine (CI):
``pytest -p tests.support.slow_workers`` (``DATASHELF_SLOW_WORKERS_MAX`` seconds per worker,
0.3 by default). It found a sniff answer opening a document in a closed window, and
pytest-qt's model tester judging one model's late insert against another.
"""

from __future__ import annotations

import os
import random
import time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from gui.common import workers

    longest = float(os.environ.get("DATASHELF_SLOW_WORKERS_MAX", "0.3"))
    real_run = workers.Worker.run

    def late_run(self: workers.Worker) -> None:
        time.sleep(random.uniform(0, longest))
        real_run(self)

    workers.Worker.run = late_run  # type: ignore[method-assign]
