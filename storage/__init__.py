"""Datashelf's storage layer: formats, sniffing, safe loaders, atomic save, settings.

Plain Python only. Nothing in this package may import Qt (a test enforces it), so that
``main.py inspect``, the storage tests and the benchmarks run without a display.
"""

__version__ = "0.1.0"
