"""``inspect`` summaries of tables: ``table: {rows, rows_exact, columns: [{name, type}]}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.formats.table.source import open_table

if TYPE_CHECKING:
    from storage.inspect.summaries import Collector
    from storage.sniff.detect import SniffResult


def summarize_table(result: SniffResult, c: Collector) -> None:
    """Columns and rows (a big CSV's estimated from a sample: ``rows_exact`` false); the dialect
    of a CSV, the layout of an Arrow file (IPC file, stream or Feather v1)."""
    source = open_table(result.path, result.format)
    try:
        info = source.info
        c.summary["table"] = {"rows": info.rows, "rows_exact": info.rows_exact,
                              "columns": [{"name": col.name, "type": col.type} for col in info.columns]}
        if source.arrow_kind:  # "stream" for an Arrow IPC stream, "file" for Feather v2 / Arrow IPC file
            c.summary["arrow"] = {"layout": source.arrow_kind, "label": source.label,
                                  "complete": source.complete}
        if source.dialect is not None:
            d = source.dialect
            c.summary["dialect"] = {"delimiter": d.delimiter, "quote": d.quote, "header": d.header,
                                    "encoding": d.encoding, "bom": d.bom}
        for note in info.notes:
            c.add("info", note)
    finally:
        source.close()
