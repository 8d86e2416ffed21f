"""Helpers for testing and benchmarking hdmf_zarr against real servers on this machine."""
