"""JSON tab: JSON documents and JSON Lines files."""

from gui.common.tab_page import TabPage


class JsonTab(TabPage):
    tab_id = "json"
    title = "&JSON"
    heading = "JSON and JSON Lines"
    blurb = ("Configuration files, API dumps and data exports. Datashelf checks the whole "
             "document, reports the first error with its line and column, and summarises the "
             "values by type and depth, keeping the file's key order.")
    filter_label = "JSON"
    icon_name = "text-x-script"
