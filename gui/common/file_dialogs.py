"""Where file dialogs start, and the name they suggest: one rule for every Open and Export.

A dialog opens in the current document's folder (the file you are looking at is the likeliest
neighbour of the one you want), else in the folder the dialog used last, else the home folder.
An Export dialog also suggests a name (the table's, the dataset's) so Enter alone writes it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ALL_SUPPORTED = "All supported files"
ALL_FILES = "All files (*)"


def start_folder(document_path: str | None, last: str = "") -> str:
    """The current document's folder when it is a file's, else ``last`` when it exists, else home."""
    if document_path and "://" not in document_path:
        folder = os.path.dirname(os.path.abspath(document_path))
        if os.path.isdir(folder):
            return folder
    if last and os.path.isdir(last):
        return last
    return str(Path.home())


def suggested_path(document_path: str | None, name: str, last: str = "") -> str:
    """``name`` (made safe as a file name) in :func:`start_folder`: a Save dialog's starting path."""
    return os.path.join(start_folder(document_path, last), safe_file_name(name))


def safe_file_name(name: str) -> str:
    """``name`` with the characters no file name may hold (on any system) replaced by ``_``."""
    cleaned = re.sub(r'[\x00-\x1f/\\:*?"<>|]', "_", name).strip().strip(".")
    return cleaned or "export"


def open_filters(filters: list[str]) -> str:
    """The Open dialog's filter list: "All supported files" (every pattern of ``filters``) first,
    then each filter once, then all files. ``filters`` are Qt filter strings ("A (*.a);;…")."""
    entries: list[str] = []
    patterns: list[str] = []
    for text in filters:
        for entry in text.split(";;"):
            entry = entry.strip()
            if not entry or entry == ALL_FILES or entry in entries:
                continue
            entries.append(entry)
            inside = re.search(r"\(([^)]*)\)\s*$", entry)
            if inside:
                patterns += [p for p in inside.group(1).split() if p != "*"]
    head = [f"{ALL_SUPPORTED} ({' '.join(dict.fromkeys(patterns))})"] if patterns else []
    return ";;".join([*head, *entries, ALL_FILES])
