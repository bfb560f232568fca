"""The HDF5 tab: a lazy tree of groups and datasets, tables and plots of slices, edits after a .bak
copy.
"""
