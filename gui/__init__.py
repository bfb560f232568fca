"""Datashelf's Qt layer: the main window, one module per tab, item models, workers.

Everything here adapts the plain-Python ``storage`` package; nothing here reads or writes a
file format by itself.
"""
