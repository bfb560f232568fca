"""Tables in files: delimited text (CSV, TSV, semicolon, pipe), Parquet and Feather / Arrow IPC.

Read through DuckDB, one in-memory connection per open file (:class:`source.TableSource`), so
that sorting, filtering and searching a file of any size runs in the engine, never in Python.
"""
