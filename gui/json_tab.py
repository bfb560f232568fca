"""JSON tab: JSON documents and JSON Lines files."""

from gui.document import Document
from gui.tab_page import TabPage


class JsonTab(TabPage):
    tab_id = "json"
    title = "&JSON"
    formats = ("json", "jsonl")
    heading = "JSON and JSON Lines"
    blurb = ("Configuration files, API dumps and data exports. Datashelf checks the whole "
             "document, reports the first error with its line and column, and summarises the "
             "values by type and depth, keeping the file's key order.")
    name_filter = "JSON (*.json *.jsonl *.ndjson *.geojson);;All files (*)"
    icon_name = "text-x-script"

    def create_document(self, path: str, fmt: str) -> Document:
        if fmt in self.formats:
            from gui.json_document import JsonDocument  # imported on first use: keeps launch quick

            return JsonDocument(path, fmt, self)
        return super().create_document(path, fmt)
