"""HDF5 filter pipelines -> zarr v3 codecs: the one mapping of the project.

Each HDF5 filter that has an exact zarr counterpart (the codec decodes the bytes the filter wrote) is in
``_EXACT``. Three users: ``stored_chunk_codecs`` (can a chunk HDF5 stored be read by zarr as it is? used by
the chunk copy and by virtual files, which reference the HDF5 chunks in place), ``hdf5_to_zarr_filters``
(the codecs of a copy, where filters without a counterpart are dropped with a warning) and
``fallback_compressors`` (zstd for data whose HDF5 compression has no counterpart).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

_BLOSC_NAMES = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"]
#: filter ids with no zarr counterpart, by the name our warnings use
_NAMED = {4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf", 32004: "lz4", 32008: "bitshuffle"}
DEFLATE, SHUFFLE, FLETCHER32, BLOSC, ZSTD = 1, 2, 3, 32001, 32015
#: kinds of data whose stored bytes zarr reads as they are (fixed-size numbers and booleans)
_FIXED_KINDS = "biuf"


def _blosc(values: tuple, itemsize: int) -> Any:
    from zarr.codecs import numcodecs as nc

    _, _, _, total_bytes, clevel, shuffle, index = (tuple(values) + (0,) * 7)[:7]
    cname = _BLOSC_NAMES[index] if 0 <= index < len(_BLOSC_NAMES) else "lz4"
    return nc.Blosc(blocksize=total_bytes, clevel=clevel or 5, shuffle=shuffle, cname=cname)


def _exact() -> dict[int, Callable[[tuple, int], Any]]:
    from zarr.codecs import numcodecs as nc

    return {
        DEFLATE: lambda values, _: nc.Zlib(level=int(values[0]) if values else 4),
        SHUFFLE: lambda _, itemsize: nc.Shuffle(elementsize=itemsize),
        FLETCHER32: lambda _values, _itemsize: nc.Fletcher32(),
        BLOSC: _blosc,
        ZSTD: lambda values, _: nc.Zstd(level=int(values[0]) if values else 3),
    }


def is_h5py_dataset(obj: Any) -> bool:
    """True for an h5py.Dataset, without importing h5py."""
    cls = type(obj)
    return cls.__module__ == "h5py._hl.dataset" and cls.__name__ == "Dataset"


def filter_pipeline(dataset: Any) -> list[tuple[int, tuple]]:
    """``(filter id, client values)`` of each filter of the dataset's pipeline, in the order HDF5 applies them."""
    plist = dataset.id.get_create_plist()
    return [(code, tuple(values)) for code, _flags, values, _name in map(plist.get_filter, range(plist.get_nfilters()))]


def byte_order(dtype: np.dtype) -> str | None:
    """The ``bytes`` codec's ``endian`` for ``dtype``: "little", "big", or None for single bytes."""
    if dtype.itemsize == 1 or dtype.byteorder == "|":
        return None
    little = dtype.byteorder == "<" or (dtype.byteorder == "=" and np.little_endian)
    return "little" if little else "big"


def stored_chunk_codecs(dataset: Any) -> list[Any] | None:
    """The zarr codecs (bytes serializer first) that decode the chunks HDF5 stored for ``dataset`` as they are.

    None when no chain can: data that is not fixed-size numbers (text, references, compounds, arrays in
    elements), virtual or external storage, or a filter without an exact zarr counterpart.
    """
    from zarr.codecs import BytesCodec

    dtype = np.dtype(dataset.dtype)
    if dtype.kind not in _FIXED_KINDS or dtype.names or dtype.subdtype is not None:
        return None
    if dataset.is_virtual or dataset.external:
        return None
    exact = _exact()
    codecs: list[Any] = [BytesCodec(endian=byte_order(dtype))]
    for code, values in filter_pipeline(dataset):
        if code not in exact:
            return None
        codecs.append(exact[code](values, dtype.itemsize))
    return codecs


def hdf5_to_zarr_filters(h5dataset: Any) -> list[Any]:
    """Zarr v3 codecs (numcodecs wrappers) for a copy of an h5py dataset: its filters that have a zarr
    counterpart, in order, without the fletcher32 checksum. The others are skipped with a warning naming the
    dataset."""
    name = h5dataset.name
    itemsize = np.dtype(h5dataset.dtype).itemsize
    exact = _exact()
    codecs: list[Any] = []
    for code, values in filter_pipeline(h5dataset):
        if code == FLETCHER32:
            continue
        if code == SHUFFLE and np.dtype(h5dataset.dtype).kind == "O":
            continue
        if code in exact:
            codecs.append(exact[code](values, itemsize))
        elif code == 6:
            warnings.warn(f"{name} HDF5 scaleoffset filter ignored in Zarr", stacklevel=2)
        elif code in (4, 32000):
            warnings.warn(f"{name} HDF5 szip or lzf compression ignored in Zarr", stacklevel=2)
        elif code in _NAMED:
            warnings.warn(f"{name} HDF5 {_NAMED[code]} compression ignored in Zarr", stacklevel=2)
        else:
            warnings.warn(f"{name} HDF5 filter id {code} with properties {values} ignored in Zarr.", stacklevel=2)
    return codecs


def fallback_compressors(h5dataset: Any, stacklevel: int = 3) -> list[Any] | None:
    """``[ZstdCodec()]`` (with a warning) for a dataset compressed by a filter zarr cannot express, else None.

    Used when no compressor came out of :func:`hdf5_to_zarr_filters`: data stored compressed with
    lzf, szip, scaleoffset, lz4, bitshuffle or an unknown filter is compressed with zstd in Zarr
    rather than stored uncompressed.
    """
    if all(code in (SHUFFLE, FLETCHER32) for code, _ in filter_pipeline(h5dataset)):
        return None
    from zarr.codecs import ZstdCodec

    warnings.warn(
        f"{h5dataset.name}: its HDF5 compression has no Zarr equivalent; it is compressed with zstd instead",
        stacklevel=stacklevel,
    )
    return [ZstdCodec()]
