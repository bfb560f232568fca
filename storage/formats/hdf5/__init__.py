"""HDF5 files (h5py, PyTables, netCDF4): read lazily and safely, edited in place after a .bak."""
