"""Shrink a finding's bytes while the same problem (kind, target, exception) still shows.

A small delta-debugging pass: cut the tail, then drop chunks of halving sizes. Bounded in
attempts, so a finding that does not shrink is still saved quickly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fuzz.run import Finding, Fuzzer
    from tests.fuzz.seeds import Seed

MAX_ATTEMPTS = 300
MAX_SECONDS = 120.0


def _same(fuzzer: Fuzzer, seed: Seed, which: int, data: bytes, finding: Finding) -> bool:
    from tests.fuzz.run import Finding as F

    result, changes = fuzzer.check(seed, which, data)
    want = finding.signature()
    return any(F(kind, target, detail, 0, "", "").signature() == want
               for kind, target, detail in fuzzer.problems(result, changes))


def shrink(fuzzer: Fuzzer, seed: Seed, which: int, data: bytes, finding: Finding) -> bytes:
    """The smallest variant of ``data`` found that reproduces ``finding``."""
    began, attempts = time.monotonic(), 0

    def still(candidate: bytes) -> bool:
        nonlocal attempts
        attempts += 1
        return _same(fuzzer, seed, which, candidate, finding)

    def budget() -> bool:
        return attempts < MAX_ATTEMPTS and time.monotonic() - began < MAX_SECONDS

    if finding.kind == "hang":  # each attempt may cost the whole deadline: keep it short
        return data
    # The tail first: a binary search for the shortest prefix that still fails.
    low, high = 0, len(data)
    while low < high and budget():
        middle = (low + high) // 2
        if still(data[:middle]):
            high = middle
        else:
            low = middle + 1
    data = data[:high]
    chunk = max(len(data) // 2, 1)
    while chunk >= 1 and budget():
        start, shrunk = 0, False
        while start < len(data) and budget():
            candidate = data[:start] + data[start + chunk:]
            if candidate != data and still(candidate):
                data, shrunk = candidate, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    return data
