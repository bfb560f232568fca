"""The headless ``inspect`` command: what a file is, what is inside, what would be risky to load.

``inspect_path`` builds one report (the same the overview tab shows); ``run`` prints it as
text or as one JSON object and returns the exit code: 0 readable and nothing dangerous,
1 a dangerous finding, 2 unreadable or unparsable, or only partly checked, 3 a bug of ours. Every file is also
read from byte 0 as ``pickle.load`` would (``summaries_objects.add_pickle_start``), whatever its
format. Nothing in the file is ever executed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from storage.core.errors import KnownError, UnreadableError, classify
from storage.core.sizes import size_text
from storage.formats import registry as format_registry
from storage.inspect.summaries import Collector, summarize_binary
from storage.inspect.summaries_objects import add_pickle_start
from storage.sniff.detect import sniff

REPORT_KEYS = ("path", "format", "ok", "error", "summary", "findings")
SEVERITIES = ("dangerous", "suspicious", "info")
_LIST_LIMIT = 30


def _empty_report(path: str) -> dict[str, Any]:
    return {"path": path, "format": "unknown", "ok": False, "error": None, "summary": {}, "findings": []}


def inspect_path(path: str | os.PathLike) -> dict[str, Any]:
    """The inspect report of ``path``: exactly the keys of REPORT_KEYS."""
    name = os.fsdecode(os.fspath(path))
    report = _empty_report(name)
    try:
        result = sniff(name)
    except KnownError as exc:
        report["error"] = exc.as_dict()
        report["summary"] = {"size": None, "detected_by": None, "detail": {}}
        return report
    report["format"] = result.format
    collector = Collector({"size": result.size, "detected_by": result.reason, "detail": dict(result.detail)})
    if result.path != name:
        collector.summary["shelf"] = result.path
    summarize = format_registry.hook_of(result.format, "summary") or summarize_binary
    for step in (summarize, add_pickle_start):
        try:
            step(result, collector)
        except KnownError as exc:
            collector.error = collector.error or exc
        except OSError as exc:  # the file vanished or became unreadable while we read it
            collector.error = collector.error or UnreadableError(f"Cannot read {name}: {exc.strerror or exc}")
    if collector.incomplete and collector.error is None:
        collector.error = KnownError("only part of the file was checked (" + "; ".join(collector.incomplete)
                                     + "), so it cannot be called safe")
    report.update(ok=collector.error is None, error=collector.error.as_dict() if collector.error else None,
                  summary=collector.summary, findings=collector.findings)
    return report


def exit_code(report: dict[str, Any]) -> int:
    """1 when anything is dangerous, else 3 when a bug of ours stopped the check, else 2 when the
    file could not be read, else 0."""
    if any(f.get("severity") == "dangerous" for f in report.get("findings", [])):
        return 1
    if (report.get("error") or {}).get("kind") == "bug":
        return 3
    return 2 if (report.get("error") or not report.get("ok")) else 0


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list) and item and all(not isinstance(i, dict | list) for i in item):
                out.append(f"{pad}{key}: [{_lines(item, 0)[0]}]")
            elif isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:")
                out.extend(_lines(item, indent + 1))
            else:
                out.append(f"{pad}{key}: {_scalar(item) if not isinstance(item, dict | list) else '(none)'}")
    elif isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            shown = ", ".join(_scalar(item) for item in value[:_LIST_LIMIT])
            more = f" … and {len(value) - _LIST_LIMIT:,} more" if len(value) > _LIST_LIMIT else ""
            return [f"{pad}{shown}{more}"]
        for item in value[:_LIST_LIMIT]:
            if isinstance(item, dict):
                flat = {k: v for k, v in item.items() if not isinstance(v, dict | list)}
                nested = {k: v for k, v in item.items() if isinstance(v, dict | list) and v}
                out.append(f"{pad}- " + ", ".join(f"{k}={_scalar(v)}" for k, v in flat.items()))
                out.extend(_lines(nested, indent + 2))
            else:
                out.extend(_lines(item, indent + 1))
        if len(value) > _LIST_LIMIT:
            out.append(f"{pad}… and {len(value) - _LIST_LIMIT:,} more")
    else:
        out.append(f"{pad}{_scalar(value)}")
    return out


def render_text(report: dict[str, Any]) -> str:
    """A readable report for people: format and why, status, findings, summary."""
    summary = report.get("summary") or {}
    lines = [report.get("path", "?"), f"  format:  {report.get('format', 'unknown')}"]
    if summary.get("detected_by"):
        lines.append(f"  why:     {summary['detected_by']}")
    if isinstance(summary.get("size"), int):
        size = summary["size"]
        lines.append(f"  size:    {size_text(size)}" + (f" ({size:,} bytes)" if size >= 1024 else ""))
    error = report.get("error")
    if error:
        where = ", ".join(f"{k} {error[k]}" for k in ("line", "column", "offset") if error.get(k) is not None)
        where = f" ({where})" if where else ""
        lines.append(f"  status:  NOT READABLE: {error.get('message', '')}{where}")
    else:
        lines.append("  status:  readable")
    findings = report.get("findings") or []
    if findings:
        lines.append(f"Findings ({len(findings)}):")
        for severity in SEVERITIES:
            lines.extend(f"  {severity.upper():<10}  {f['message']}" for f in findings
                         if f.get("severity") == severity)
    rest = {k: v for k, v in summary.items() if k not in ("detected_by", "size")}
    if rest:
        lines.append("Summary:")
        lines.extend(_lines(rest, 1))
    code = exit_code(report)
    verdict = {0: "nothing dangerous found", 1: "DANGEROUS: loading this file would run code or touch "
               "the system", 2: "the file could not be read",
               3: "a bug in Datashelf stopped the check (not a problem with the file)"}[code]
    lines.append(f"Result: {verdict} (exit code {code})")
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON-safe copy: lone surrogates (odd file names, JSON escapes) become visible escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bytes):
        return value.hex(" ")
    if value is None or isinstance(value, bool | int | float):
        return value
    return _clean(str(value))


def _write(out: IO[str], text: str) -> None:
    try:
        out.write(text + "\n")
    except UnicodeEncodeError:  # a terminal that cannot show every character
        out.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")
    out.flush()


def run(path: str, as_json: bool, out: IO[str] | None = None) -> int:
    """Print the report of ``path`` (text, or one JSON object) and return the exit code."""
    out = out if out is not None else sys.stdout
    try:
        report = _clean(inspect_path(path))
        text = json.dumps(report, ensure_ascii=False) if as_json else render_text(report)
    except Exception as exc:  # still one clean report, never a traceback on the terminal
        failure = classify(exc)
        report = _empty_report(os.fsdecode(os.fspath(path)))
        if failure.bug:  # ours: exit code 3, the traceback in the JSON for a bug report
            report["error"] = failure.as_dict() | {"message": f"internal error: {failure.message}"}
        else:  # out of memory, nested too deeply: the file's
            report["error"] = {"message": failure.message, "line": None, "column": None, "offset": None}
        report = _clean(report)
        text = json.dumps(report, ensure_ascii=False) if as_json else render_text(report)
    _write(out, text)
    return exit_code(report)
