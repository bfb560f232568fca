"""The command line: --version, --help, inspect headless, the no-display message, a real launch."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=ROOT)


def test_version_and_help() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("Datashelf ")
    usage = run("--help")
    assert usage.returncode == 0
    assert "--settings-dir" in usage.stdout and "inspect" in usage.stdout
    inspect_help = run("inspect", "--help")
    assert inspect_help.returncode == 0 and "--json" in inspect_help.stdout


def test_inspect_runs_without_qt(tmp_path: Path) -> None:
    """inspect imports no Qt at all, so it runs on a server with no display."""
    sample = tmp_path / "data.json"
    sample.write_text('{"a": [1, 2, 3]}')
    code = (
        "import sys, main; status = main.main(['inspect', sys.argv[1], '--json']);"
        "qt = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))];"
        "print('QT-MODULES', qt, file=sys.stderr); sys.exit(status)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "QT-MODULES []" in done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "json" and report["ok"] is True and report["error"] is None


def test_inspect_exit_codes_through_main(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text("[1, 2]")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "a": 1,\n  "b": \n}\n')

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Evil()))  # written, never loaded

    assert run("inspect", str(good), "--json").returncode == 0
    failed = run("inspect", str(broken), "--json")
    assert failed.returncode == 2
    error = json.loads(failed.stdout)["error"]
    assert error["line"] == 4 and error["column"] is not None
    dangerous = run("inspect", str(evil), "--json")
    assert dangerous.returncode == 1
    findings = json.loads(dangerous.stdout)["findings"]
    assert any(f["severity"] == "dangerous" and "system" in f.get("global", "") for f in findings)
    missing = run("inspect", str(tmp_path / "nope"), "--json")
    assert missing.returncode == 2 and json.loads(missing.stdout)["format"] == "unknown"
    human = run("inspect", str(good))
    assert human.returncode == 0 and "json" in human.stdout.lower()


def test_no_display_gives_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--settings-dir",
                           str(tmp_path)], capture_output=True, text=True, env=env, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 2
    assert "no display" in done.stderr and "Traceback" not in done.stderr


def test_launch_shows_the_window_and_saves_settings(tmp_path: Path) -> None:
    sample = tmp_path / "data.json"
    sample.write_text('{"a": 1}')
    done = run("--settings-dir", str(tmp_path / "settings"), str(sample),
               env={"QT_QPA_PLATFORM": "offscreen", "DATASHELF_EXIT_WHEN_SHOWN": "1"})
    assert done.returncode == 0, done.stderr
    assert "DATASHELF_SHOWN" in done.stdout
    assert "Traceback" not in done.stderr
    assert (tmp_path / "settings" / "settings.json").exists()
