"""Tables tab: delimited text, Parquet and Feather / Arrow IPC files, read through DuckDB."""

from gui.common.tab_page import TabPage


class TablesTab(TabPage):
    tab_id = "tables"
    title = "&Tables"
    heading = "Tables"
    blurb = ("CSV, TSV, Parquet and Feather / Arrow files of any size. The first rows show at once; "
             "sort, filter and search run over the whole file without loading it, and each column "
             "has its statistics and a histogram. Read-only for now.")
    filter_label = "Tables"
    icon_name = "x-office-spreadsheet"
