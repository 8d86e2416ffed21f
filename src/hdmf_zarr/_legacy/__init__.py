"""Zarr v2 files of hdmf-zarr <= 0.13 (read only) and the zarr 2 spellings of the API; imported on first use."""
