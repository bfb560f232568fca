"""Hand-made hostile pickles, one per trap of the safe loader, and a side-effect detector.

The detector is an audit hook (it cannot be removed, so it is installed once and switched on and
off) that records imports, processes, code compilation, sockets, ctypes and any opening of a
canary path while a block runs.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

_WATCHED = ("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.kill", "os.remove",
            "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "subprocess.Popen", "exec", "compile",
            "socket.", "ctypes.", "urllib.", "webbrowser.", "shutil.", "pty.", "builtins.input",
            "code.__new__", "function.__new__", "marshal.", "pickle.find_class", "cpython.run_")


class _Detector:
    active = False
    events: list[tuple[str, tuple]] = []
    canaries: set[str] = set()
    installed = False

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "import" or event.startswith(_WATCHED):
            cls.events.append((event, tuple(repr(a)[:80] for a in args[:2])))
        elif event == "open" and args and str(args[0]) in cls.canaries:
            cls.events.append((event, (str(args[0]),)))


@contextlib.contextmanager
def no_side_effects(tmp: Path) -> Iterator[Path]:
    """Run a block with the detector on and a canary file in ``tmp``; fail if anything happened."""
    if not _Detector.installed:
        sys.addaudithook(_Detector.hook)
        _Detector.installed = True
    canary = tmp / "canary.txt"
    canary.write_text("untouched")
    _Detector.canaries = {str(canary), str(tmp / "created-by-attack")}
    _Detector.events = []
    _Detector.active = True
    try:
        yield canary
    finally:
        _Detector.active = False
    assert _Detector.events == [], f"side effects while loading: {_Detector.events[:5]}"
    assert canary.read_text() == "untouched"
    assert not (tmp / "created-by-attack").exists()


def ops(*parts: bytes) -> bytes:
    return b"".join(parts)


def s4(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def stack_global(module: str, name: str) -> bytes:
    return s4(module) + s4(name) + b"\x93"


def attacks(canary: Path) -> dict[str, tuple[bytes, bool]]:
    """name -> (pickle bytes, whether the loader must flag it dangerous)."""
    target = str(canary.parent / "created-by-attack")
    cmd = f"touch {target}"
    proto4 = b"\x80\x04"
    return {
        "reduce os.system": (evil(cmd, 2), True),
        "build on a stand-in": (ops(b"cos\nsystem\n}S'__call__'\nS'x'\nsb."), True),
        "build slot state on a real type": (ops(b"c__builtin__\nlist\n(N}S'append'\nNstb."), True),
        "appends on a stand-in": (ops(b"cos\nsystem\n(S'a'\nS'b'\ne."), True),
        "append on a real type": (ops(b"c__builtin__\ndict\nS'x'\na."), True),
        "setitem on a stand-in": (ops(b"csubprocess\nPopen\nS'k'\nS'v'\ns."), True),
        "setitems on a real type": (ops(b"cdatetime\ndatetime\n(S'k'\nS'v'\nu."), True),
        "additems on a stand-in": (proto4 + stack_global("os", "system") + b"(K\x01\x90.", True),
        "py2 __builtin__ eval": (ops(b"c__builtin__\neval\n(S'open(", repr(target).encode(),
                                    b", \"w\")'\ntR."), True),
        "py2 copy_reg reconstructor": (ops(b"ccopy_reg\n_reconstructor\n(cos\nsystem\nc__builtin__\nobject\n",
                                           b"NtR."), True),
        "dotted name": (proto4 + stack_global("builtins", "getattr.__call__") + s4("x") + b"\x85R.", True),
        "dotted name into os": (proto4 + stack_global("os", "path.os.system") + s4(cmd) + b"\x85R.", True),
        "call of a call result": (ops(b"cbuiltins\ngetattr\n(cos\nsystem\nS'__call__'\ntR(S'", cmd.encode(),
                                      b"'\ntR."), True),
        "newobj on os.system": (proto4 + stack_global("os", "system") + s4(cmd) + b"\x85\x81.", True),
        "newobj_ex": (proto4 + stack_global("subprocess", "Popen") + s4(cmd) + b"\x85}\x92.", True),
        "inst opcode": (ops(b"(S'", cmd.encode(), b"'\nios\nsystem\n."), True),
        "obj opcode": (ops(b"(cos\nsystem\nS'", cmd.encode(), b"'\no."), True),
        "persistent id": (ops(b"Pfile:", target.encode(), b"\n."), False),
        "binpersid then reduce": (ops(b"\x80\x02X\x04\x00\x00\x00evil", b"Q)R."), False),
        "unregistered extension code": (b"\x80\x02\x82\xf1X\x02\x00\x00\x00ls\x85R.", False),
        "out-of-band buffer": (b"\x80\x05\x97\x98.", False),
        "stack_global of a non-string": (proto4 + b"K\x01K\x02\x93.", False),
        "memo bomb LONG_BINPUT": (b"\x80\x04]r\x00\xe1\xf5\x05.", False),
        "memo bomb protocol 0 PUT": (b"(lp100000000\n.", False),
        "huge BINBYTES8": (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"x.", False),
        "huge FRAME": (b"\x80\x04\x95" + struct.pack("<Q", 2**62) + b"N.", False),
        "bytes by size": (ops(b"c__builtin__\nbytearray\n(J\x00\x00\x00\x40tR."), False),
        "copy bomb": (copy_bomb(), False),
        "str of a structure": (proto4 + stack_global("builtins", "str") + b"]\x85R.", False),
        "defaultdict with os.system factory": (proto4 + stack_global("collections", "defaultdict")
                                               + stack_global("os", "system") + b"\x85R.", True),
        "codecs encode other codec": (proto4 + stack_global("_codecs", "encode") + s4("eA==") + s4("base64")
                                      + b"\x86R.", False),
        "numpy object dtype scalar": (proto4 + stack_global("numpy._core.multiarray", "scalar")
                                      + stack_global("numpy", "dtype") + s4("O8") + b"\x89\x88\x87R"
                                      + stack_global("os", "system") + b"\x86R.", True),
    }


def evil(cmd: str = "true", protocol: int = 4) -> bytes:
    """A pickle that runs ``os.system(cmd)`` when really loaded."""
    head = b"\x80" + bytes([max(protocol, 2)])
    return ops(head, b"cos\nsystem\nX", struct.pack("<I", len(cmd)), cmd.encode(), b"\x85R.")


def copy_bomb(items: int = 100_000, copies: int = 100_000) -> bytes:
    """One list of ``items`` Nones copied ``copies`` times by ``list()``: 10^10 items from 700 kB."""
    return (b"\x80\x04" + stack_global("builtins", "list") + b"\x94" + b"]\x94(" + b"N" * items + b"e"
            + b"]\x94(" + b"h\x00h\x01\x85R" * copies + b"e.")


def nested_tuple_key(depth: int) -> bytes:
    """``{(((…),): None}`` nested ``depth`` levels deep."""
    return b"\x80\x04}" + b")" + b"\x85" * depth + b"Ns."


def nested_lists(depth: int) -> bytes:
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def with_persistent_ids() -> bytes:
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("file", "/etc/passwd") if obj == "PERSIST" else None

    buffer = io.BytesIO()
    P(buffer, 4).dump(["a", "PERSIST"])
    return buffer.getvalue()
