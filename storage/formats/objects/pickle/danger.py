"""Which globals a pickle may reference safely, and which ones mean "loading this runs code".

Unpickling imports every global the stream names and may call it. ``resolve_global`` says what
``pickle.Unpickler.find_class`` would really look up for the file's protocol (Python 2 names mapped
through ``_compat_pickle`` below protocol 3, dotted names walked attribute by attribute from
protocol 4); ``judge`` says how risky that object is (``verdict_of`` does both, cached). Both the
scanner and the safe loader go through them. A generic callable is judged by its arguments where a
benign type pickles through it (``IDIOMS``: zoneinfo's ``getattr(ZoneInfo, '_unpickle')``), and a
library's unpickling function by its arguments (``SHAPED_CALLS``: pytz's ``_p(zone, ...)``, NumPy's
``_reconstruct(subtype, (0,), b'b')``); the callers count their uses (``idiom_call``, ``shaped_call``).
"Safe" comes only from exact (module, qualname) pairs of data types (``SAFE_GLOBALS``); the danger
list is at least as broad as picklescan's; everything else is *suspicious*: a custom class or
function, which only its own code can vouch for.
"""

from __future__ import annotations

import _compat_pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

ALL = "*"
_CODE = "runs code"
_SYSTEM = "touches the operating system (commands, files, processes)"
_NET = "opens network connections"
_FILES = "reads or writes files"
_LOAD = "loads another pickle or serialised code"
_TOOLS = "runs a tool or a debugger that executes code"

# module -> (names or ALL, why). A module entry also covers its submodules when it is ALL.
DANGEROUS_GLOBALS: dict[str, tuple[frozenset[str] | str, str]] = {
    "os": (ALL, _SYSTEM), "posix": (ALL, _SYSTEM), "nt": (ALL, _SYSTEM), "posixpath": (ALL, _SYSTEM),
    "ntpath": (ALL, _SYSTEM), "subprocess": (ALL, _SYSTEM), "_posixsubprocess": (ALL, _SYSTEM),
    "popen2": (ALL, _SYSTEM), "commands": (ALL, _SYSTEM), "pty": (ALL, _SYSTEM), "sys": (ALL, _SYSTEM),
    "signal": (ALL, _SYSTEM), "resource": (ALL, _SYSTEM), "fcntl": (ALL, _SYSTEM), "mmap": (ALL, _SYSTEM),
    "_winapi": (ALL, _SYSTEM), "msvcrt": (ALL, _SYSTEM), "winreg": (ALL, _SYSTEM), "platform": (ALL, _SYSTEM),
    "_aix_support": (ALL, _SYSTEM), "_osx_support": (ALL, _SYSTEM), "_bootsubprocess": (ALL, _SYSTEM),
    "uuid": (frozenset({"_get_command_stdout", "_popen", "_find_mac", "_find_mac_near_keyword",
                        "_find_mac_under_heading", "_ifconfig_getnode", "_ip_getnode", "_arp_getnode",
                        "_lanscan_getnode", "_netstat_getnode"}), _SYSTEM),
    "builtins": (frozenset({"eval", "exec", "execfile", "compile", "open", "getattr", "setattr", "delattr",
                            "__import__", "apply", "breakpoint", "input", "globals", "locals", "vars",
                            "file", "reload", "help", "exit", "quit", "memoryview", "__loader__", "type",
                            "super", "__build_class__"}), _CODE),
    "runpy": (ALL, _CODE), "code": (ALL, _CODE), "codeop": (ALL, _CODE), "importlib": (ALL, _CODE),
    "imp": (ALL, _CODE), "zipimport": (ALL, _CODE), "pkgutil": (ALL, _CODE), "site": (ALL, _CODE),
    "ctypes": (ALL, _CODE), "_ctypes": (ALL, _CODE), "cffi": (ALL, _CODE),
    "types": (frozenset({"CodeType", "FunctionType", "LambdaType", "MethodType", "ModuleType",
                         "BuiltinFunctionType", "new_class"}), _CODE),
    "operator": (ALL, _CODE),  # attrgetter/methodcaller/call reach and call anything
    "inspect": (ALL, _CODE),  # getattr_static, getmembers, getmodule...: they reach anything
    "gc": (ALL, _CODE),  # get_objects/get_referrers reach every live object
    "codecs": (frozenset({"open", "EncodedFile", "StreamReaderWriter", "StreamRecoder", "StreamReader",
                          "StreamWriter", "register", "lookup", "getreader", "getwriter"}), _FILES),
    "_codecs": (frozenset({"register", "lookup", "register_error", "lookup_error"}), _CODE),
    "tkinter": (ALL, _CODE), "_tkinter": (ALL, _CODE),  # Tcl().eval runs shell commands
    "numpy.testing": (ALL, _CODE),  # runstring, measure: exec/eval of any text
    "functools": (frozenset({"partial", "reduce", "partialmethod"}), _CODE),
    "marshal": (ALL, _LOAD), "pickle": (ALL, _LOAD), "_pickle": (ALL, _LOAD), "cPickle": (ALL, _LOAD),
    "dill": (ALL, _LOAD), "cloudpickle": (ALL, _LOAD), "shelve": (ALL, _LOAD), "joblib": (
        frozenset({"load", "dump", "Parallel", "delayed"}), _LOAD),
    "pandas": (frozenset({"read_pickle", "eval", "read_csv", "read_sql", "to_pickle", "read_table",
                          "read_fwf", "read_parquet", "read_feather", "read_hdf", "read_excel", "read_json",
                          "read_html",
                          "read_xml", "read_stata", "read_sas", "read_spss", "read_orc", "read_clipboard",
                          "read_sql_query", "read_sql_table", "read_gbq", "HDFStore", "ExcelWriter", "io"}),
               _LOAD),
    "pandas.io.pickle": (ALL, _LOAD),
    "numpy": (frozenset({"load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savetxt",
                         "memmap", "tofile"}), _FILES),
    "numpy.lib.npyio": (ALL, _FILES), "numpy.f2py": (ALL, _CODE), "numpy.distutils": (ALL, _CODE),
        "torch": (frozenset({"load", "hub", "jit", "package", "serialization"}), _LOAD),
    "torch.hub": (ALL, _CODE), "torch.serialization": (ALL, _LOAD), "torch.package": (ALL, _CODE),
    "torch.jit": (ALL, _CODE), "torch._dynamo": (ALL, _CODE), "torch._inductor": (ALL, _CODE),
    "torch.fx.experimental": (ALL, _CODE), "torch.utils.bottleneck": (ALL, _CODE),
    "torch.utils.collect_env": (ALL, _SYSTEM), "torch.utils._config_module": (ALL, _CODE),
    "torch.utils.data.datapipes": (ALL, _CODE), "torch.distributed": (ALL, _NET),
    "socket": (ALL, _NET), "_socket": (ALL, _NET), "ssl": (ALL, _NET), "http": (ALL, _NET),
    "httplib": (ALL, _NET), "urllib": (ALL, _NET), "urllib2": (ALL, _NET), "urllib3": (ALL, _NET),
    "requests": (ALL, _NET), "aiohttp": (ALL, _NET), "httpx": (ALL, _NET), "webbrowser": (ALL, _NET),
    "antigravity": (ALL, _NET), "smtplib": (ALL, _NET), "ftplib": (ALL, _NET), "poplib": (ALL, _NET),
    "imaplib": (ALL, _NET), "nntplib": (ALL, _NET), "telnetlib": (ALL, _NET), "xmlrpc": (ALL, _NET),
    "socketserver": (ALL, _NET), "asyncio": (ALL, _SYSTEM), "multiprocessing": (ALL, _SYSTEM),
    "concurrent": (ALL, _SYSTEM), "threading": (ALL, _SYSTEM), "_thread": (ALL, _SYSTEM),
    "thread": (ALL, _SYSTEM), "sched": (ALL, _SYSTEM),
    "shutil": (ALL, _FILES), "tempfile": (ALL, _FILES), "glob": (ALL, _FILES), "pathlib": (ALL, _FILES),
    "io": (ALL, _FILES), "_io": (ALL, _FILES), "fileinput": (ALL, _FILES), "linecache": (ALL, _FILES),
    "tarfile": (ALL, _FILES), "zipfile": (ALL, _FILES), "sqlite3": (ALL, _FILES), "dbm": (ALL, _FILES),
    "gzip": (frozenset({"open", "GzipFile"}), _FILES), "bz2": (frozenset({"open", "BZ2File"}), _FILES),
    "lzma": (frozenset({"open", "LZMAFile"}), _FILES),
    "logging": (frozenset({"FileHandler", "basicConfig", "handlers", "config"}), _FILES),
    "logging.handlers": (ALL, _FILES), "logging.config": (ALL, _CODE),
    "cProfile": (ALL, _TOOLS), "profile": (ALL, _TOOLS), "pstats": (ALL, _TOOLS), "timeit": (ALL, _TOOLS),
    "trace": (ALL, _TOOLS), "pydoc": (ALL, _TOOLS), "pdb": (ALL, _TOOLS), "bdb": (ALL, _TOOLS),
    "doctest": (ALL, _TOOLS), "idlelib": (ALL, _TOOLS), "lib2to3": (ALL, _TOOLS), "_pyrepl": (ALL, _TOOLS),
    "test": (ALL, _TOOLS), "distutils": (ALL, _TOOLS), "setuptools": (ALL, _TOOLS), "pip": (ALL, _TOOLS),
    "ensurepip": (ALL, _TOOLS), "venv": (ALL, _TOOLS), "pkg_resources": (ALL, _TOOLS),
    "mailcap": (ALL, _SYSTEM),
}
for _alias, _original in (("__builtin__", "builtins"), ("__builtins__", "builtins"),
                          ("_operator", "operator"), ("_functools", "functools")):
    DANGEROUS_GLOBALS[_alias] = DANGEROUS_GLOBALS[_original]
# Python 2 module names: below protocol 3 ``_compat_pickle`` maps them (``resolve_global``); listed
# too so that a protocol-3+ file naming them is not waved through where Python 2 would load them.
for _py2, _py3 in _compat_pickle.IMPORT_MAPPING.items():
    _entry = DANGEROUS_GLOBALS.get(_py3) or DANGEROUS_GLOBALS.get(_py3.split(".")[0])
    if _entry is not None and _entry[0] == ALL and _py2 not in DANGEROUS_GLOBALS:
        DANGEROUS_GLOBALS[_py2] = _entry
DANGEROUS_GLOBALS.setdefault("StringIO", (ALL, _FILES))
DANGEROUS_GLOBALS.setdefault("cStringIO", (ALL, _FILES))

# Attributes that, reached by a protocol-4 walk (``Class.attr``), read or write files or run code
# whatever the class: ``pathlib.Path.write_text``, ``numpy.ndarray.tofile``, ``pandas.DataFrame.to_pickle``.
_RISKY_METHODS = frozenset({
    "write_text", "write_bytes", "read_text", "read_bytes", "open", "touch", "mkdir", "rmdir", "unlink",
    "rename", "symlink_to", "hardlink_to", "link_to", "chmod", "lchmod", "chown", "tofile", "fromfile",
    "dump", "load", "loads", "save", "savez", "to_pickle", "read_pickle", "to_csv", "to_parquet",
    "to_hdf", "to_sql", "to_excel", "to_json", "to_feather", "to_stata", "to_html", "to_latex",
    "to_markdown", "to_xml", "to_orc", "to_clipboard", "exec", "eval", "system", "popen", "get_data",
})
# A name that is, in practice, the module of that name (``inspect.os``, ``x.sys``); common words
# that are also ordinary function names (``test``, ``code``, ``profile``...) only count when the
# walk continues into them.
_WORDS = frozenset({"test", "code", "profile", "trace", "site", "signal", "platform", "resource", "sched",
                    "glob", "http", "requests", "types", "logging", "thread", "imp", "venv", "pip",
                    "timeit", "concurrent", "operator", "functools", "inspect", "gc", "codecs", "io"})

_BUILTIN_TYPES = ("set", "frozenset", "complex", "bytearray", "slice", "range", "bytes", "list", "dict",
                  "tuple", "int", "float", "str", "bool", "object", "Ellipsis", "NotImplemented", "reversed")
_PATHS = ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath")
_NUMPY_DTYPES = ("BoolDType", "ByteDType", "BytesDType", "CLongDoubleDType", "Complex128DType",
                 "Complex64DType", "DateTime64DType", "Float16DType", "Float32DType", "Float64DType",
                 "Int16DType",
                 "Int32DType", "Int64DType", "Int8DType", "IntDType", "LongDType", "LongDoubleDType",
                 "LongLongDType", "ObjectDType", "ShortDType", "StrDType", "StringDType",
                 "TimeDelta64DType", "UByteDType", "UInt16DType", "UInt32DType", "UInt64DType",
                 "UInt8DType", "UIntDType", "ULongDType", "ULongLongDType", "UShortDType", "VoidDType")
_DATA = "a known-safe data type"
# Exact (module, qualname) pairs of the Python 3 names (``resolve_global`` maps Python 2 ones first).
SAFE_GLOBALS: dict[tuple[str, str], str] = {
    **{("builtins", n): _DATA for n in _BUILTIN_TYPES},
    **{("collections", n): _DATA for n in ("OrderedDict", "defaultdict", "deque", "Counter")},
    **{("datetime", n): _DATA for n in ("date", "time", "datetime", "timedelta", "timezone")},
    ("decimal", "Decimal"): _DATA, ("fractions", "Fraction"): _DATA, ("uuid", "UUID"): _DATA,
    **{("ipaddress", f"IPv{v}{kind}"): _DATA for v in (4, 6) for kind in ("Address", "Network", "Interface")},
    ("zoneinfo", "ZoneInfo"): _DATA,
    **{(m, n): "a path: building one touches nothing" for m in ("pathlib", "pathlib._local") for n in _PATHS},
    ("copyreg", "_reconstructor"): "rebuilds an object of a class the pickle names (judged on its own)",
    ("copyreg", "__newobj__"): "NEWOBJ on a class the pickle names (judged on its own)",
    ("copyreg", "__newobj_ex__"): "NEWOBJ_EX on a class the pickle names (judged on its own)",
    ("_codecs", "encode"): "how protocols 0-2 write bytes",
    **{(m, n): "how NumPy pickles arrays" for m in ("numpy.core.multiarray", "numpy._core.multiarray")
       for n in ("_reconstruct", "scalar")},
    **{(m, "_reconstruct"): "how NumPy before 1.0 pickled arrays"
       for m in ("numpy.core._internal", "numpy._core._internal")},
    # ``_reconstruct(matrix, (0,), b'b')`` then BUILD, or a joblib wrapper's ``subclass``
    **{(m, "matrix"): "a NumPy matrix (a 2-D ndarray subclass)"
       for m in ("numpy", "numpy.matrixlib.defmatrix")},
    **{(m, "_frombuffer"): "how NumPy pickles arrays (protocol 5)"
       for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "dtype"): _DATA, ("numpy", "ndarray"): _DATA,
    **{("numpy.dtypes", n): _DATA for n in _NUMPY_DTYPES},
    **{("joblib.numpy_pickle", n): "how joblib stores arrays"
       for n in ("NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper")},
}
# Generic callables that a benign type pickles through, and the only call of them that is safe:
# ``ZoneInfo.__reduce__`` gives ``(getattr(ZoneInfo, '_unpickle'), (key, from_cache))``.
IDIOMS: dict[tuple[str, str], tuple[tuple[str, str], str]] = {
    ("builtins", "getattr"): (("zoneinfo", "ZoneInfo"), "_unpickle"),
}
_IDIOM_WHY = "getattr(zoneinfo.ZoneInfo, '_unpickle'): how zoneinfo pickles a time zone"
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,3}$")


def _pytz_args(args: tuple) -> bool:
    """``pytz._p(zone)`` (a static zone) or ``pytz._p(zone, utcoffset, dst, tzname)`` (one of a
    zone's local times): what ``BaseTzInfo``/``DstTzInfo.__reduce__`` write. The offsets are whole
    seconds (``_to_seconds``), never timedeltas: ``memorized_timedelta`` fails on a timedelta."""
    if not args or len(args) not in (1, 4) or type(args[0]) is not str or len(args[0]) > 64:
        return False
    if not _ZONE_NAME.match(args[0]):  # a relative name of letters: never '..' nor an absolute path
        return False
    if len(args) == 4:
        utc, dst, name = args[1:]
        return (type(utc) is int and type(dst) is int and abs(utc) <= 86_400 and abs(dst) <= 86_400
                and type(name) is str and 0 < len(name) <= 16 and name.isprintable())
    return True


_ARRAY_TYPES = frozenset({("numpy", "ndarray"), ("numpy", "matrix"), ("numpy.matrixlib.defmatrix", "matrix")})


def _is_latin1_b(value: object) -> bool:
    """NumPy's dtype argument ``b'b'``: bytes, text (Python 2), or protocols 0-2's
    ``_codecs.encode('b', 'latin1')`` (a call for the scanner, already bytes for the loader)."""
    if type(value) in (bytes, str):
        return value in (b"b", "b")
    args = getattr(value, "args", None)
    return (getattr(getattr(value, "func", None), "key", None) == ("_codecs", "encode")
            and type(args) is tuple and args == ("b", "latin1"))


def _array_args(args: tuple) -> bool:
    """``_reconstruct(subtype, (0,), b'b')``: what ``ndarray.__reduce__`` writes. The subtype is a
    global the file names (judged on its own); an allowlisted one must be an array type."""
    if len(args) != 3 or type(args[1]) is not tuple or len(args[1]) != 1 or type(args[1][0]) is not int:
        return False
    if args[1][0] != 0:
        return False
    key = getattr(args[0], "key", None)  # the scanner's Global or the loader's GlobalNode
    if type(key) is not tuple or not hasattr(args[0], "module"):
        return False
    return _is_latin1_b(args[2]) and (key in _ARRAY_TYPES or key not in SAFE_GLOBALS)


# Library functions that unpickling calls, safe only with arguments of the shape their library
# writes (checked on the scanner's symbolic values and the loader's values alike): each use of
# the global must be such a call, else it is judged by its name (suspicious).
SHAPED_CALLS: dict[tuple[str, str], tuple[Callable[[tuple], bool], str]] = {
    ("pytz", "_p"): (_pytz_args, "pytz._p(zone name[, offsets, abbreviation]): how pytz pickles a time "
                     "zone (loading looks the name up in pytz's own zone list)"),
    ("pytz", "_UTC"): (lambda args: args == (), "pytz._UTC(): how pytz pickles UTC"),
    ("pytz", "FixedOffset"): (  # never its second parameter: the cache dict it fills
        lambda args: len(args) == 1 and type(args[0]) is int and -1440 < args[0] < 1440,
        "pytz.FixedOffset(minutes): how pytz pickles a fixed offset"),
    **{(m, "_reconstruct"): (_array_args, SAFE_GLOBALS[(m, "_reconstruct")])
       for m in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core._internal",
                 "numpy._core._internal")},
}
_MISUSED = ("suspicious", "called with arguments its library never writes, or used otherwise than called")


@dataclass(frozen=True)
class Resolved:
    """What ``find_class`` looks up: ``module`` imported, then ``path`` walked attribute by attribute."""

    module: str
    path: tuple[str, ...]
    mapped: bool = False  # a Python 2 name mapped by ``_compat_pickle``

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.name


def resolve_global(module: str, name: str, protocol: int) -> Resolved:
    """Exactly what ``pickle.Unpickler.find_class`` (CPython 3.11, ``fix_imports=True``) looks up.

    Below protocol 3 a Python 2 name is mapped (NAME_MAPPING first, else IMPORT_MAPPING on the
    module); from protocol 4 the name is split on dots and walked; below 4 it is one attribute.
    """
    mapped = False
    if protocol < 3:
        pair = _compat_pickle.NAME_MAPPING.get((module, name))
        if pair is not None:
            module, name, mapped = pair[0], pair[1], True
        elif module in _compat_pickle.IMPORT_MAPPING:
            module, mapped = _compat_pickle.IMPORT_MAPPING[module], True
    return Resolved(module, tuple(name.split(".")) if protocol >= 4 else (name,), mapped)


# The most dotted parts of a module name in the tables: deeper parent packages never match, so
# a crafted name of 100,000 dots is not cut 100,000 times (quadratic: a hang found by the fuzzer).
_DEPTH = max(key.count(".") + 1 for key in DANGEROUS_GLOBALS)
_MAX_WALK = 64  # attributes a walk may have before it is judged by its length alone


def _module_entry(module: str) -> tuple | None:
    """The danger entry of ``module``: its own, or an ALL entry of a parent package."""
    entry = DANGEROUS_GLOBALS.get(module)
    if entry is not None:
        return entry
    parts = module.split(".", _DEPTH)  # the last part keeps the rest: only shorter prefixes are tried
    for cut in range(len(parts) - 1, 0, -1):
        entry = DANGEROUS_GLOBALS.get(".".join(parts[:cut]))
        if entry is not None and entry[0] == ALL:
            return entry
    return None


def _attribute_danger(module: str, attr: str) -> str | None:
    """Why ``module.attr`` is dangerous (None if it is not listed)."""
    entry = _module_entry(module)
    if entry is not None and (entry[0] == ALL or attr in entry[0]):
        return entry[1]
    return None


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def _danger(module: str, path: tuple[str, ...]) -> str | None:
    """Why the object ``module.path`` reaches something dangerous, or None."""
    if len(path) > _MAX_WALK:
        return "walks an attribute path far longer than any class a pickler writes"
    for part in path:
        if _is_dunder(part):
            return f"walks through the special attribute {part} (it reaches functions' globals and builtins)"
    why = _attribute_danger(module, path[0])
    if why is not None:
        return why
    if len(path) > 1 and (path[-1] in _RISKY_METHODS or path[-1].startswith("write")):
        return f"reaches the method {path[-1]} (it reads or writes files or runs code)"
    # Any attribute on the way may be a module (``inspect.os``, ``numpy.testing``): what follows it
    # is then looked up in that module.
    depth = module.count(".") + 1
    for index, part in enumerate(path):
        rest = path[index + 1:]
        if "." in part:  # below protocol 4, getattr(module, "a.b") finds nothing
            break
        candidates = [part] if (rest or part not in _WORDS) else []
        if depth + index + 1 <= _DEPTH:
            candidates.append(f"{module}.{'.'.join(path[:index + 1])}")
        for candidate in candidates:
            if rest:
                why = _attribute_danger(candidate, rest[0])
            else:
                entry = _module_entry(candidate)
                why = entry[1] if entry is not None else None
            if why is not None:
                return f"reaches the module {candidate}, which {why}" if not rest else why
    return None


def judge(resolved: Resolved) -> tuple[str, str]:
    """(severity, why) of the object a resolved global names."""
    mapped = f" (the Python 2 name of {resolved.module}.{resolved.name})" if resolved.mapped else ""
    safe = SAFE_GLOBALS.get(resolved.key)
    if safe is not None:
        return "info", safe + mapped
    why = _danger(resolved.module, resolved.path)
    if why is not None:
        return "dangerous", why + mapped
    return "suspicious", "not a known-safe type: loading imports it and may call it" + mapped


_ORDER = {"dangerous": 0, "suspicious": 1, "info": 2}


def worse(first: tuple[str, str], second: tuple[str, str]) -> tuple[str, str]:
    """The more severe of two (severity, why) verdicts."""
    return second if _ORDER.get(second[0], 3) < _ORDER.get(first[0], 3) else first


def classify(module: str, name: str, protocol: int | None = None) -> tuple[str, str]:
    """(severity, why) for a referenced global: 'dangerous', 'suspicious' or 'info'.

    ``protocol`` is the one in force where the file names it; None (not known) judges the name
    under every protocol and keeps the worst verdict.
    """
    if protocol is not None:
        return verdict_of(module, name, protocol)[1]
    verdict = verdict_of(module, name, 2)[1]
    for other in (3, 4):
        verdict = worse(verdict, verdict_of(module, name, other)[1])
    return verdict


@lru_cache(maxsize=4096)
def verdict_of(module: str, name: str, protocol: int) -> tuple[Resolved, tuple[str, str]]:
    """``resolve_global`` and ``judge`` in one, remembered: a scan meets the same names again and again."""
    resolved = resolve_global(module, name, protocol)
    return resolved, judge(resolved)


def depends_on_protocol(module: str, name: str) -> bool:
    """True when ``find_class`` looks up something else for another protocol."""
    return ("." in name or (module, name) in _compat_pickle.NAME_MAPPING
            or module in _compat_pickle.IMPORT_MAPPING)


def idiom_verdict(key: tuple[str, str] | None = None) -> tuple[str, str]:
    """The verdict of a generic callable used only in its benign idiom (``IDIOMS``), or of a
    ``SHAPED_CALLS`` function called only with the arguments its library writes."""
    shaped = SHAPED_CALLS.get(key) if key is not None else None
    return "info", shaped[1] if shaped is not None else _IDIOM_WHY


def misused_verdict(key: tuple[str, str], verdict: tuple[str, str]) -> tuple[str, str]:
    """The verdict of an ``IDIOMS`` or ``SHAPED_CALLS`` global used otherwise than in its call."""
    return worse(verdict, _MISUSED) if key in SHAPED_CALLS else verdict


def shaped_call(func: tuple[str, str], args: object) -> bool:
    """True when ``args`` are exactly what ``func``'s library writes (``SHAPED_CALLS``)."""
    shaped = SHAPED_CALLS.get(func)
    return shaped is not None and type(args) is tuple and shaped[0](args)


ATTRIBUTE_VERDICT = ("suspicious", "getattr(class, 'name') reads an attribute of a class the file names "
                     "(how enum members pickle); the attribute is never called")


def idiom_call(func: tuple[str, str], target: tuple[str, str] | None, target_severity: str | None,
               attr: object) -> str | None:
    """How a call of a generic callable may be benign: 'exact' for its idiom's one safe call
    (``getattr(zoneinfo.ZoneInfo, '_unpickle')``); 'attribute' for ``getattr(Class, 'name')`` on a
    global that is not dangerous and a plain name (an enum member: safe only while the result is
    never called, which the caller checks); None for anything else.

    ``func`` and ``target`` are resolved (module, qualname) pairs; ``target`` is None when the first
    argument is not a global.
    """
    expected = IDIOMS.get(func)
    if expected is None or target is None or type(attr) is not str:
        return None
    if target == expected[0] and attr == expected[1]:
        return "exact"
    if target_severity != "dangerous" and attr.isidentifier() and not _is_dunder(attr):
        return "attribute"
    return None
