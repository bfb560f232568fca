"""A benign corpus from real library versions, and how Datashelf judges and opens it.

    python tests/support/benign_corpus.py build DIR [--venv PYTHON_OR_VENV ...]
    python tests/support/benign_corpus.py report DIR [-v]

``build`` runs a generator inside each given virtual environment (default: /work/corpus-old and
/work/corpus-new, one per library generation): it writes pandas ``to_pickle`` files (plain and
with name-inferred compression), NumPy ``save``/``savez``/pickles, scikit-learn models and joblib
dumps (plain, compressed), copies the data files the installed packages ship (joblib's
``test/data``, pandas' and NumPy's test pickles), and records in ``manifest.json`` whether the
real loader of that generation reads each file (and with which call).

``roundtrip DIR OUT`` saves every file that opens, without edits, into OUT and asks the real loader
of the file's generation whether it reads the saved file and gets the same value (joblib: whether
``mmap_mode='r'`` still maps the arrays). ``report`` runs Datashelf's ``inspect`` and safe loader
(``open_objects``) on every file of the manifest and prints: files, false DANGEROUS, false
SUSPICIOUS, and files that do not open although the real loader reads them (all files are benign,
so every DANGEROUS is false).
Not a pytest module: the venvs take minutes to install; tests/data/benign holds a small subset.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

DEFAULT_VENVS = ("/work/corpus-old", "/work/corpus-new")
NOT_OPEN = "do not open although the real loader reads them"

# Runs inside a corpus venv: argv[1] is the output folder. Only benign library output.
GENERATOR = textwrap.dedent(r'''
    import glob, io, json, os, pickle, shutil, sys, warnings
    warnings.simplefilter("ignore")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    made = {}

    def note(name, loader):
        made[name] = loader

    import numpy as np
    try:
        import pandas as pd
    except ImportError:
        pd = None
    try:
        import joblib
    except ImportError:
        joblib = None

    rng = np.random.default_rng(0)
    arrays = {
        "f8": rng.random(50), "i4": np.arange(40, dtype="i4").reshape(5, 8),
        "fortran": np.asfortranarray(rng.random((6, 7))), "bool": rng.random(20) > 0.5,
        "big_endian": np.arange(10, dtype=">i8"), "complex": rng.random(8) + 1j,
        "structured": np.array([(1, 2.0, b"ab"), (3, 4.0, b"cd")],
                               dtype=[("a", "i4"), ("b", "f8"), ("c", "S2")]),
        "datetime": np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
        "timedelta": np.array([1, 2], dtype="timedelta64[ms]"), "unicode": np.array(["é", "日本"]),
        "object": np.array([1, "a", None, (1, 2)], dtype=object), "empty": np.zeros((0, 3)),
        "subarray": np.zeros(3, dtype=[("v", "f4", (2, 2))]),
    }
    for name, array in arrays.items():
        np.save(os.path.join(out, f"np_{name}.npy"), array, allow_pickle=True)
        note(f"np_{name}.npy", "numpy.load")
        for proto in (2, 4, 5):
            with open(os.path.join(out, f"np_{name}_p{proto}.pkl"), "wb") as f:
                pickle.dump(array, f, protocol=proto)
            note(f"np_{name}_p{proto}.pkl", "pickle.load")
    np.savez(os.path.join(out, "np_many.npz"), **{k: v for k, v in arrays.items() if k != "object"})
    note("np_many.npz", "numpy.load")
    np.savez_compressed(os.path.join(out, "np_many_compressed.npz"), **arrays)
    note("np_many_compressed.npz", "numpy.load")
    for proto in (2, 5):
        with open(os.path.join(out, f"np_scalars_p{proto}.pkl"), "wb") as f:
            pickle.dump([np.float64(1.5), np.int32(3), np.bool_(True), np.dtype("f4"),
                         np.dtype([("x", "<i2")]), np.datetime64("2020-01-01T00:00")], f, protocol=proto)
        note(f"np_scalars_p{proto}.pkl", "pickle.load")

    if pd is not None:
        frames = {
            "ints": pd.DataFrame({"a": range(100), "b": range(100, 200)}),
            "floats": pd.DataFrame(rng.random((50, 4)), columns=list("wxyz")),
            "strings": pd.DataFrame({"s": [f"row {i} é" for i in range(200)], "n": range(200)}),
            "categorical": pd.DataFrame({"c": pd.Categorical(["x", "y", "x", "z"] * 10)}),
            "dates": pd.DataFrame({"d": pd.date_range("2020-01-01", periods=30, freq="D")}),
            "tz_utc": pd.DataFrame({"d": pd.date_range("2020-01-01", periods=10, freq="h", tz="UTC")}),
            "tz_berlin": pd.DataFrame({"d": pd.date_range("2020-01-01", periods=10, freq="h",
                                                           tz="Europe/Berlin")}),
            "timedelta": pd.DataFrame({"t": pd.to_timedelta(range(10), unit="s")}),
            "multiindex": pd.DataFrame({"v": range(6)},
                                       index=pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]])),
            "nullable": pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64"),
                                      "b": pd.array([True, None, False], dtype="boolean")}),
            "period": pd.DataFrame({"p": pd.period_range("2020-01", periods=5, freq="M")}),
            "interval": pd.DataFrame({"i": pd.interval_range(0, 5)}),
            "mixed_object": pd.DataFrame({"o": [1, "a", None, 2.5]}),
            "empty": pd.DataFrame(),
        }
        for name, frame in frames.items():
            frame.to_pickle(os.path.join(out, f"pd_{name}.pkl"))
            note(f"pd_{name}.pkl", "pandas.read_pickle")
        series = pd.Series(rng.random(20), index=pd.date_range("2021", periods=20, freq="D"), name="s")
        series.to_pickle(os.path.join(out, "pd_series.pkl"))
        note("pd_series.pkl", "pandas.read_pickle")
        pd.Index(["a", "b"]).to_series().to_pickle(os.path.join(out, "pd_index_series.pkl"))
        note("pd_index_series.pkl", "pandas.read_pickle")
        for ext in (".gz", ".bz2", ".xz", ".zip", ".zst"):
            try:
                frames["strings"].to_pickle(os.path.join(out, f"pd_strings.pkl{ext}"))
            except Exception:  # zstandard missing
                continue
            note(f"pd_strings.pkl{ext}", "pandas.read_pickle")
        for proto in (2, 4):
            frames["dates"].to_pickle(os.path.join(out, f"pd_dates_p{proto}.pkl"), protocol=proto)
            note(f"pd_dates_p{proto}.pkl", "pandas.read_pickle")

    try:
        import sklearn
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeClassifier
        X, y = load_iris(return_X_y=True)
        models = {
            "logreg": LogisticRegression(max_iter=500).fit(X, y),
            "forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
            "tree": DecisionTreeClassifier(random_state=0).fit(X, y),
            "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
        }
        for name, model in models.items():
            joblib.dump(model, os.path.join(out, f"sk_{name}.joblib"))
            note(f"sk_{name}.joblib", "joblib.load")
            with open(os.path.join(out, f"sk_{name}.pkl"), "wb") as f:
                pickle.dump(model, f)
            note(f"sk_{name}.pkl", "pickle.load")
        joblib.dump(models["forest"], os.path.join(out, "sk_forest_z3.joblib"), compress=3)
        note("sk_forest_z3.joblib", "joblib.load")
        joblib.dump(models["tree"], os.path.join(out, "sk_tree.bin"))  # a joblib file under another name
        note("sk_tree.bin", "joblib.load")
    except ImportError:
        pass

    if joblib is not None:
        # the first array starts after 64 KB of strings: detection must not rely on an early array
        payload = {"names": [f"name {i:06d} " * 4 for i in range(3000)], "late": np.arange(1000.0),
                   "arrays": arrays}
        joblib.dump(payload, os.path.join(out, "jl_late_array.bin"))  # first array after 64 KB
        note("jl_late_array.bin", "joblib.load")
        joblib.dump({k: v for k, v in arrays.items() if k != "object"}, os.path.join(out, "jl_arrays.joblib"))
        note("jl_arrays.joblib", "joblib.load")
        for method in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4"):
            try:
                joblib.dump(payload, os.path.join(out, f"jl_payload_{method}.joblib"), compress=(method, 3))
            except Exception:
                continue
            note(f"jl_payload_{method}.joblib", "joblib.load")
        shipped = os.path.join(os.path.dirname(joblib.__file__), "test", "data")
        for path in sorted(glob.glob(os.path.join(shipped, "joblib_*"))):
            base = os.path.basename(path)
            shutil.copy(path, os.path.join(out, "shipped_" + base) if False else os.path.join(out, base))
            if not (".pkl_" in base or ".gz_" in base):  # array files of the old multi-file format
                note(base, "joblib.load")
    for pattern in ("numpy/lib/tests/data/*.np[yz]", "numpy/*core/tests/data/*.pkl",
                    "pandas/tests/io/data/pickle/*.pkl", "pandas/tests/io/data/legacy_pickle/*/*.p*"):
        for path in sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), "..", pattern))):
            base = "shipped_" + os.path.basename(path)
            shutil.copy(path, os.path.join(out, base))
            note(base, "numpy.load" if base.endswith((".npy", ".npz")) else "pandas.read_pickle"
                 if "pandas" in path else "pickle.load")
    # scikit-learn's bundled datasets are CSV (some gzip-compressed): they open as text or binary
    for path in sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "sklearn", "datasets",
                                              "data", "*.csv*"))):
        base = "shipped_sklearn_" + os.path.basename(path)
        shutil.copy(path, os.path.join(out, base))
        note(base, "pandas.read_csv")

    def real_load(name, loader):
        path = os.path.join(out, name)
        if loader == "numpy.load":
            for encoding in ("ASCII", "latin1"):  # numpy.load's default, then its Python 2 option
                try:
                    value = np.load(path, allow_pickle=True, encoding=encoding)
                    if hasattr(value, "files"):
                        for key in value.files:
                            value[key]
                    return "numpy.load" if encoding == "ASCII" else "numpy.load(encoding='latin1')"
                except UnicodeError:
                    if encoding == "latin1":
                        raise
        if loader == "joblib.load":
            joblib.load(path)
            return "joblib.load"
        if loader == "pandas.read_csv" and pd is not None:
            pd.read_csv(path, header=None, on_bad_lines="skip")
            return "pandas.read_csv"
        if loader == "pandas.read_pickle" and pd is not None:
            pd.read_pickle(path)
            return "pandas.read_pickle"
        with open(path, "rb") as f:
            try:
                pickle.load(f)
                return "pickle.load"
            except UnicodeDecodeError:
                f.seek(0)
                pickle.load(f, encoding="latin1")
                return "pickle.load(encoding='latin1')"

    manifest = {"executable": sys.executable,
                "generation": {"python": sys.version.split()[0], "numpy": np.__version__,
                               "pandas": getattr(pd, "__version__", None),
                               "joblib": getattr(joblib, "__version__", None)}, "files": {}}
    for name, loader in sorted(made.items()):
        try:
            used = real_load(name, loader)
            manifest["files"][name] = {"loader": used, "real_ok": True}
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"[:300]
            manifest["files"][name] = {"loader": loader, "real_ok": False, "why": why}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{out}: {len(made)} files")
''')


# Runs inside the generation's venv: argv[1] is a JSON list of [original, saved, loader]; prints
# one JSON verdict per pair: does the real loader read the saved file, is the value the same, and
# (joblib) does mmap_mode='r' still map the arrays it mapped in the original.
CHECKER = textwrap.dedent(r'''
    import json, pickle, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np

    def load(path, loader, **options):
        if loader.startswith("joblib"):
            import joblib
            return joblib.load(path, **options)
        if loader.startswith("pandas"):
            import pandas as pd
            return pd.read_pickle(path)
        if loader.startswith("numpy"):
            return np.load(path, allow_pickle=True)
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1" if "latin1" in loader else "ASCII")

    def same(a, b, depth=0):
        if depth > 50 or type(a) is not type(b):
            return type(a) is type(b)
        if isinstance(a, np.ndarray):
            if a.dtype != b.dtype or a.shape != b.shape:
                return False
            if a.dtype.hasobject:
                return all(same(x, y, depth + 1) for x, y in zip(a.ravel(), b.ravel()))
            if a.dtype.names:  # field by field: the padding between fields is whatever memory held
                return all(same(a[name], b[name], depth + 1) for name in a.dtype.names)
            return a.tobytes() == b.tobytes()
        if hasattr(a, "equals"):
            return bool(a.equals(b))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k], depth + 1) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b))
        if hasattr(a, "__getstate__") and not isinstance(a, type):
            try:
                return same(a.__getstate__(), b.__getstate__(), depth + 1)
            except Exception:
                pass
        try:
            return bool(a == b)
        except Exception:
            return repr(a) == repr(b)

    def mapped(value, depth=0):
        if isinstance(value, np.memmap):
            return 1
        if depth > 20:
            return 0
        if isinstance(value, dict):
            return sum(mapped(v, depth + 1) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(mapped(v, depth + 1) for v in value)
        if hasattr(value, "__dict__") and not isinstance(value, type):
            return mapped(vars(value), depth + 1)
        return 0

    for original, saved, loader in json.loads(sys.argv[1]):
        verdict = {"file": original}
        try:
            a, b = load(original, loader), load(saved, loader)
            try:
                identical = pickle.dumps(a, protocol=4) == pickle.dumps(b, protocol=4)
            except Exception:
                identical = False
            verdict.update(loads=True, same=identical or same(a, b))
        except Exception as exc:
            verdict.update(loads=False, why=f"{type(exc).__name__}: {exc}"[:200])
        if verdict["loads"] and loader.startswith("joblib"):
            try:
                before = mapped(load(original, loader, mmap_mode="r"))
            except Exception:  # old joblib versions wrote files their own mmap_mode cannot map
                before = None
            if before is not None:
                try:
                    verdict["mmap_kept"] = mapped(load(saved, loader, mmap_mode="r")) >= before
                except Exception as exc:
                    verdict.update(mmap_kept=False, why=f"{type(exc).__name__}: {exc}"[:200])
        print(json.dumps(verdict))
''')


def roundtrip(folder: str, out: str) -> int:
    """Save every file that opens (without edits) into ``out`` and ask its generation's real loader."""
    from storage.core.errors import KnownError
    from storage.formats.objects.file import open_objects, save_objects
    from storage.sniff.detect import sniff

    counts: Counter = Counter()
    for manifest_path in sorted(_manifests(folder)):
        base = os.path.dirname(manifest_path)
        with open(manifest_path) as handle:
            manifest = json.load(handle)
        target = os.path.join(out, os.path.relpath(base, folder))
        os.makedirs(target, exist_ok=True)
        pairs = []
        for name, real in sorted(manifest["files"].items()):
            if not real["real_ok"]:
                continue
            path = os.path.join(base, name)
            kind = sniff(path).format
            if kind not in ("pickle", "joblib", "npy", "npz", "shelve"):
                continue  # CSV and the like: not the Objects tab's
            try:
                result = open_objects(path, kind)
                if result.doc is None or result.doc.read_only:
                    counts["read-only (npy, npz, zip)"] += 1
                    continue
                save_objects(result, os.path.join(target, name))
            except KnownError as exc:
                counts["save refused"] += 1
                print(f"{name}: save refused: {exc}")
                continue
            counts["saved"] += 1
            pairs.append([path, os.path.join(target, name), real["loader"]])
        done = subprocess.run([manifest["executable"], "-c", CHECKER, json.dumps(pairs)], capture_output=True,
                              text=True, check=False)
        for line in done.stdout.splitlines():
            verdict = json.loads(line)
            counts["real loader reads the saved file"] += verdict["loads"]
            counts["same value"] += verdict.get("same", False)
            if "mmap_kept" in verdict:
                counts["joblib: mmap_mode maps as before"] += verdict["mmap_kept"]
            if not verdict["loads"] or not verdict.get("same") or verdict.get("mmap_kept") is False:
                print(f"{os.path.relpath(verdict['file'], folder)}: {verdict}")
    for key, value in counts.items():
        print(f"{key}: {value}")
    return 0


def _python(venv: str) -> str:
    return os.path.join(venv, "bin", "python") if os.path.isdir(venv) else venv


def build(folder: str, venvs: list[str]) -> None:
    for venv in venvs:
        name = os.path.basename(os.path.normpath(venv if os.path.isdir(venv) else os.path.dirname(venv)))
        subprocess.run([_python(venv), "-c", GENERATOR, os.path.join(folder, name)], check=True)


def _judge(path: str) -> dict:
    """Datashelf's view of one file: inspect's worst severity, the open result and the globals."""
    from storage.core.errors import KnownError
    from storage.formats.objects.file import open_objects
    from storage.inspect.report import inspect_path

    report = inspect_path(path)
    severities = {f.get("severity") for f in report["findings"]}
    verdict = {"format": report["format"], "inspect_ok": report["ok"],
               "dangerous": "dangerous" in severities, "suspicious": "suspicious" in severities,
               "flagged": sorted({f.get("global") or f.get("message", "")[:90] for f in report["findings"]
                                  if f.get("severity") in ("dangerous", "suspicious")})}
    kind = report["format"]
    if kind not in ("pickle", "joblib", "npy", "npz", "shelve"):  # text, binary...: inspect reads them
        verdict.update(opens=report["ok"], open_error="" if report["ok"] else f"sniffed as {kind}")
        return verdict
    try:
        result = open_objects(path, kind)
    except KnownError as exc:
        verdict.update(opens=False, open_error=str(exc)[:200])
        return verdict
    except Exception as exc:  # a bug: counted as not opening, shown with its type
        verdict.update(opens=False, open_error=f"BUG {type(exc).__name__}: {exc}"[:200])
        return verdict
    verdict["opens"] = True
    if result.dangerous or any(f.severity == "dangerous" for f in result.findings):
        verdict["dangerous"] = True
        verdict["flagged"] += [g.qualname for g in result.dangerous]
    if result.worst == "suspicious":
        verdict["suspicious"] = True
        verdict["flagged"] += [g.qualname for g in result.globals.values() if g.severity == "suspicious"]
        verdict["flagged"] += [f.message[:90] for f in result.findings if f.severity == "suspicious"]
    return verdict


def judge_folder(folder: str) -> tuple[Counter, list[tuple[str, dict, dict]]]:
    counts: Counter = Counter()
    rows = []
    for manifest_path in sorted(_manifests(folder)):
        base = os.path.dirname(manifest_path)
        with open(manifest_path) as handle:
            manifest = json.load(handle)
        for name, real in sorted(manifest["files"].items()):
            verdict = _judge(os.path.join(base, name))
            counts["files"] += 1
            counts["false DANGEROUS"] += verdict["dangerous"]
            counts["false SUSPICIOUS"] += verdict["suspicious"] and not verdict["dangerous"]
            counts["real loader reads"] += real["real_ok"]
            counts[NOT_OPEN] += real["real_ok"] and not verdict["opens"]
            rows.append((os.path.relpath(os.path.join(base, name), folder), real, verdict))
    return counts, rows


def _manifests(folder: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(folder):
        if "manifest.json" in files:
            found.append(os.path.join(root, "manifest.json"))
    return found


def report(folder: str, verbose: bool) -> int:
    counts, rows = judge_folder(folder)
    for name, real, verdict in rows:
        bad = verdict["dangerous"] or verdict["suspicious"] or (real["real_ok"] and not verdict["opens"])
        if bad or verbose:
            marks = [m for m, on in (("DANGEROUS", verdict["dangerous"]),
                                     ("SUSPICIOUS", verdict["suspicious"]),
                                     ("NOT OPEN", real["real_ok"] and not verdict["opens"])) if on]
            print(f"{name}: {' '.join(marks) or 'ok'} [{real['loader']}] {verdict.get('open_error', '')}"
                  f" {'; '.join(verdict['flagged'])[:300]}")
    for key in ("files", "real loader reads", "false DANGEROUS", "false SUSPICIOUS", NOT_OPEN):
        print(f"{key}: {counts[key]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build")
    make.add_argument("dir")
    make.add_argument("--venv", action="append", help="a venv folder or its python (repeatable)")
    show = sub.add_parser("report")
    show.add_argument("dir")
    show.add_argument("-v", "--verbose", action="store_true")
    again = sub.add_parser("roundtrip", help="save each file without edits; ask the real loader")
    again.add_argument("dir")
    again.add_argument("out")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.dir, args.venv or [v for v in DEFAULT_VENVS if os.path.isdir(v)])
        return 0
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    if args.command == "roundtrip":
        return roundtrip(args.dir, args.out)
    return report(args.dir, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
