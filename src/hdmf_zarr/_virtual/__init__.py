"""Virtual NWB files: Zarr files whose data chunks are byte ranges of HDF5 files (see ``hdmf_zarr.virtual``)."""
