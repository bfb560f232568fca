"""HDF5 tab: h5py, PyTables, netCDF4 and pandas HDFStore files, found by the HDF5 signature."""

from gui.common.tab_page import TabPage


class Hdf5Tab(TabPage):
    tab_id = "hdf5"
    title = "&HDF5"
    heading = "HDF5"
    blurb = ("Scientific arrays from h5py, PyTables, netCDF4 and pandas. Browse groups, datasets "
             "and attributes; tables read only the rows on screen, so even huge datasets open at "
             "once. Read-only unless you allow edits, and then a .bak copy is kept.")
    filter_label = "HDF5"
    icon_name = "application-x-hdf"
