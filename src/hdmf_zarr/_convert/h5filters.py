"""Translate HDF5 dataset filters into equivalent zarr v3 codecs."""

from __future__ import annotations

import warnings
from typing import Any

_BLOSC_NAMES = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"]
_IGNORED_BY_ID = {32004: "lz4", 32008: "bitshuffle"}


def is_h5py_dataset(obj: Any) -> bool:
    """True for an h5py.Dataset, without importing h5py."""
    cls = type(obj)
    return cls.__module__ == "h5py._hl.dataset" and cls.__name__ == "Dataset"


def hdf5_to_zarr_filters(h5dataset: Any) -> list[Any]:
    """Zarr v3 codecs (numcodecs wrappers) equivalent to an h5py dataset's filter pipeline.

    Filters without a Zarr equivalent are skipped with a warning naming the dataset.
    """
    from zarr.codecs import numcodecs as nc

    name = h5dataset.name
    codecs: list[Any] = []
    if h5dataset.scaleoffset is not None:
        warnings.warn(f"{name} HDF5 scaleoffset filter ignored in Zarr", stacklevel=2)
    if h5dataset.compression in ("szip", "lzf"):
        warnings.warn(f"{name} HDF5 szip or lzf compression ignored in Zarr", stacklevel=2)
    if h5dataset.shuffle and h5dataset.dtype.kind != "O":
        codecs.append(nc.Shuffle(elementsize=h5dataset.dtype.itemsize))
    filters = h5dataset._filters if hasattr(h5dataset, "_filters") else {}
    for filter_id, props in filters.items():
        if filter_id in ("shuffle", "scaleoffset", "szip", "lzf", "fletcher32"):
            continue
        key = str(filter_id)
        if key == "32001":
            _, _, _, total_bytes, clevel, shuffle, index = props[:7]
            codecs.append(nc.Blosc(blocksize=total_bytes, clevel=clevel, shuffle=shuffle, cname=_BLOSC_NAMES[index]))
        elif key == "32015":
            codecs.append(nc.Zstd(level=props[0]))
        elif key == "gzip":
            level = props if isinstance(props, int) else props[0]
            codecs.append(nc.Zlib(level=level))
        elif key.isdigit() and int(key) in _IGNORED_BY_ID:
            warnings.warn(f"{name} HDF5 {_IGNORED_BY_ID[int(key)]} compression ignored in Zarr", stacklevel=2)
        else:
            warnings.warn(f"{name} HDF5 filter id {filter_id} with properties {props} ignored in Zarr.", stacklevel=2)
    return codecs


def fallback_compressors(h5dataset: Any, stacklevel: int = 3) -> list[Any] | None:
    """``[ZstdCodec()]`` (with a warning) for a dataset compressed by a filter Zarr cannot express, else None.

    Used when no compressor came out of :func:`hdf5_to_zarr_filters`: data stored compressed with
    lzf, szip, scaleoffset, lz4, bitshuffle or an unknown filter is compressed with zstd in Zarr
    rather than stored uncompressed.
    """
    plain = {"shuffle", "fletcher32"}
    filters = getattr(h5dataset, "_filters", None) or {}
    if all(str(f) in plain for f in filters):
        return None
    from zarr.codecs import ZstdCodec

    warnings.warn(
        f"{h5dataset.name}: its HDF5 compression has no Zarr equivalent; it is compressed with zstd instead",
        stacklevel=stacklevel,
    )
    return [ZstdCodec()]
