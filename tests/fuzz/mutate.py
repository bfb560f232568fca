"""Byte mutations for the fuzzer: truncate, flip bits, overwrite, splice, duplicate, delete.

Every mutation is a pure function of a ``random.Random`` and its inputs, so a trial is
reproduced from the run's seed and the trial number alone.
"""

from __future__ import annotations

import random

INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
               b"\x00\x00\x00\x80", b"\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x00\x00\x00\x00",
               b"\"", b"{", b"[", b"\\u", b"\\", b".", b"(", b"\n", b"\r\n", b"\xed\xa0\x80", b"\xc3")


def _pos(rng: random.Random, data: bytes, end: bool = False) -> int:
    """A position, biased towards the head where headers and length fields live."""
    limit = len(data) + (1 if end else 0)
    if limit <= 0:
        return 0
    if rng.random() < 0.4:
        return rng.randrange(min(limit, 128))
    return rng.randrange(limit)


def truncate(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    cut = _pos(rng, data, end=True) if rng.random() < 0.5 else rng.randrange(len(data) + 1)
    return data[:cut], f"truncate at {cut}"


def flip_bits(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "flip nothing (empty)"
    out = bytearray(data)
    where = []
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        at = _pos(rng, out)
        bit = rng.randrange(8)
        out[at] ^= 1 << bit
        where.append(f"{at}.{bit}")
    return bytes(out), "flip bits " + ",".join(where)


def overwrite(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "overwrite nothing (empty)"
    at = _pos(rng, data)
    chunk = rng.choice(INTERESTING) if rng.random() < 0.6 else rng.randbytes(rng.randint(1, 8))
    out = data[:at] + chunk + data[at + len(chunk):]
    return out[: max(len(data), at + len(chunk))], f"overwrite {at} with {chunk.hex()}"


def splice(rng: random.Random, data: bytes, donor: bytes) -> tuple[bytes, str]:
    """Bytes of another seed in the middle (or at the end) of this one."""
    if not donor:
        return data, "splice nothing (empty donor)"
    start = rng.randrange(len(donor))
    chunk = donor[start:start + rng.randint(1, 512)]
    at = _pos(rng, data, end=True)
    keep = rng.random() < 0.5  # insert, or overwrite in place
    out = data[:at] + chunk + (data[at:] if keep else data[at + len(chunk):])
    return out, f"splice donor[{start}:{start + len(chunk)}] at {at} ({'insert' if keep else 'replace'})"


def duplicate(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "duplicate nothing (empty)"
    start = _pos(rng, data)
    length = rng.randint(1, max(1, min(len(data) - start, 1024)))
    times = rng.choice((1, 1, 2, 16))
    out = data[:start] + data[start:start + length] * (times + 1) + data[start + length:]
    return out, f"duplicate [{start}:{start + length}] x{times}"


def delete(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "delete nothing (empty)"
    start = _pos(rng, data)
    length = rng.randint(1, max(1, min(len(data) - start, rng.choice((1, 8, 64, 4096)))))
    return data[:start] + data[start + length:], f"delete [{start}:{start + length}]"


def repeat(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    """A short chunk repeated thousands of times: deep nesting ("[[[[", pickle MARKs), long runs."""
    at = _pos(rng, data, end=True)
    if data and rng.random() < 0.5:
        start = rng.randrange(len(data))
        chunk = data[start:start + rng.randint(1, 4)]
    else:
        chunk = rng.choice((b"[", b"{\"a\":", b"(", b"(]", b"]", b"\x80\x04(", b"\n", b"\\u00e9"))
    times = rng.choice((1000, 5000, 100_000))
    return data[:at] + chunk * times + data[at:], f"repeat {chunk.hex()} x{times} at {at}"


MUTATIONS = (truncate, flip_bits, overwrite, splice, duplicate, delete, truncate, flip_bits, overwrite,
             splice, repeat)


def mutate(rng: random.Random, data: bytes, donor: bytes) -> tuple[bytes, str]:
    """One to three stacked mutations of ``data`` (``donor`` feeds splices)."""
    notes = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data, note = rng.choice(MUTATIONS)(rng, data, donor)
        notes.append(note)
    return data, "; ".join(notes)
