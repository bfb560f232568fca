"""Which globals a pickle may reference safely, and which ones mean "loading this runs code".

Unpickling imports every global the stream names and may call it. The danger list is at least
as broad as picklescan's; the allow list holds the plain types ordinary pickles (and NumPy /
joblib) use. Everything else is *suspicious*: a custom class, which only its own code can vouch for.
"""

from __future__ import annotations

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
                            "file", "reload", "help", "exit", "quit", "memoryview", "__loader__"}), _CODE),
    "runpy": (ALL, _CODE), "code": (ALL, _CODE), "codeop": (ALL, _CODE), "importlib": (ALL, _CODE),
    "imp": (ALL, _CODE), "zipimport": (ALL, _CODE), "pkgutil": (ALL, _CODE), "site": (ALL, _CODE),
    "ctypes": (ALL, _CODE), "_ctypes": (ALL, _CODE), "cffi": (ALL, _CODE),
    "types": (frozenset({"CodeType", "FunctionType", "LambdaType", "MethodType", "ModuleType",
                         "BuiltinFunctionType", "new_class"}), _CODE),
    "operator": (frozenset({"attrgetter", "itemgetter", "methodcaller"}), _CODE),
    "functools": (frozenset({"partial", "reduce", "partialmethod"}), _CODE),
    "marshal": (ALL, _LOAD), "pickle": (ALL, _LOAD), "_pickle": (ALL, _LOAD), "cPickle": (ALL, _LOAD),
    "dill": (ALL, _LOAD), "cloudpickle": (ALL, _LOAD), "shelve": (ALL, _LOAD), "joblib": (
        frozenset({"load", "dump", "Parallel", "delayed"}), _LOAD),
    "pandas": (frozenset({"read_pickle", "eval", "read_csv", "read_sql", "to_pickle"}), _LOAD),
    "pandas.io.pickle": (ALL, _LOAD),
    "numpy": (frozenset({"load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savetxt",
                         "memmap", "tofile"}), _FILES),
    "numpy.lib.npyio": (ALL, _FILES), "numpy.f2py": (ALL, _CODE), "numpy.distutils": (ALL, _CODE),
    "numpy.testing._private.utils": (frozenset({"runstring"}), _CODE),
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

_BUILTIN_TYPES = frozenset({"set", "frozenset", "complex", "bytearray", "slice", "range", "bytes", "list",
                            "dict", "tuple", "int", "float", "str", "bool", "object", "unicode", "long",
                            "Ellipsis", "NotImplemented", "reversed"})
_RECONSTRUCT = frozenset({"_reconstruct", "scalar"})
SAFE_GLOBALS: dict[str, frozenset[str] | str] = {
    "builtins": _BUILTIN_TYPES, "__builtin__": _BUILTIN_TYPES,
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "datetime": ALL, "decimal": frozenset({"Decimal"}), "fractions": frozenset({"Fraction"}),
    "uuid": frozenset({"UUID"}), "ipaddress": ALL, "zoneinfo": frozenset({"ZoneInfo"}),
    "copy_reg": frozenset({"_reconstructor"}),
    "copyreg": frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"}),  # = NEWOBJ(_EX) on their class
    "_codecs": frozenset({"encode"}),
    "numpy.core.multiarray": _RECONSTRUCT, "numpy._core.multiarray": _RECONSTRUCT,
    "numpy": frozenset({"dtype", "ndarray"}), "numpy.dtypes": ALL,
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}),
}


# The most dotted parts of a module name in the tables: deeper parent packages never match, so
# a crafted name of 100,000 dots is not cut 100,000 times (quadratic: a hang found by the fuzzer).
_DEPTH = max(key.count(".") + 1 for key in (*DANGEROUS_GLOBALS, *SAFE_GLOBALS))


def _lookup(table: dict, module: str, name: str):
    """The entry covering module.name: the module's own, or an ALL entry of a parent package."""
    first = name.split(".", 1)[0]
    entry = table.get(module)
    if entry is not None:
        names = entry[0] if isinstance(entry, tuple) else entry
        if names == ALL or name in names or first in names:
            return entry
    parts = module.split(".", _DEPTH)  # the last part keeps the rest: only shorter prefixes are tried
    for cut in range(len(parts) - 1, 0, -1):
        entry = table.get(".".join(parts[:cut]))
        if entry is not None and (entry[0] if isinstance(entry, tuple) else entry) == ALL:
            return entry
    return None


def classify(module: str, name: str) -> tuple[str, str]:
    """(severity, why) for a referenced global: 'dangerous', 'suspicious' or 'info'."""
    danger = _lookup(DANGEROUS_GLOBALS, module, name)
    if danger is not None:
        return "dangerous", danger[1]
    if _lookup(SAFE_GLOBALS, module, name) is not None:
        return "info", "a known-safe type"
    return "suspicious", "not a known-safe type: loading imports it and may call it"
