"""Files tab: the way in for text, binary and anything no other tab claims."""

from gui.tab_page import TabPage


class FilesTab(TabPage):
    tab_id = "files"
    title = "&Files"
    formats = ("text", "binary", "unknown")
    heading = "Files"
    blurb = ("Text and binary files, and anything the other tabs do not claim. Each file opens "
             "with what Datashelf detected it to be and why, its encoding and line endings or "
             "its magic bytes, and a preview of its first bytes.")
    name_filter = "All files (*)"
    icon_name = "text-x-generic"
