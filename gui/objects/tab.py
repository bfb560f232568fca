"""Objects tab: pickle, joblib, shelve and NumPy files, shown without running their code."""

from gui.common.tab_page import TabPage


class ObjectsTab(TabPage):
    tab_id = "objects"
    title = "&Objects"
    heading = "Python objects"
    blurb = ("Pickle, joblib, shelve, .npy and .npz files. Nothing in them is run: Datashelf "
             "reads the stream itself and lists every function the file would call if it were "
             "loaded the usual way, marking the dangerous ones.")
    filter_label = "Python objects"
    icon_name = "application-x-executable"
