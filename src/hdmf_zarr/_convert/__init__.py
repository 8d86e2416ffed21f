"""Whole-file conversions between HDF5 and Zarr: the HDF5 filter -> codec mapping and kept HDF5 links."""
