"""Public helpers: ZarrDataIO (per-dataset storage settings), lazy array wrapper, spec I/O."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import zarr
from hdmf.data_utils import DataIO
from hdmf.utils import docval, popargs
from numcodecs.abc import Codec as NumcodecsCodec
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec

from ._convert.h5filters import fallback_compressors, hdf5_to_zarr_filters, is_h5py_dataset
from ._legacy.codecs import NOT_GIVEN, translate
from ._read.arrays import HDMFZarrArray, ZarrReference, check_compound_widths  # noqa: F401  (public names)
from ._specs import ZarrSpecReader, ZarrSpecWriter
from ._stores import get_store_path
from ._write.iterators import ZarrIODataChunkIteratorQueue
from ._write.plan import is_dask_array

__all__ = [
    "ZarrDataIO",
    "ZarrReference",
    "ZarrSpecWriter",
    "ZarrSpecReader",
    "ZarrIODataChunkIteratorQueue",
    "HDMFZarrArray",
    "get_store_path",
]

_SHARDS_WITHOUT_CHUNKS = (
    "Specifying 'shards' without 'chunks' is not recommended. When using sharding, 'chunks' defines "
    "the inner chunk shape within each shard."
)


class ZarrDataIO(DataIO):
    """Wrap dataset data with the Zarr storage settings to use when it is written.

    Settings map one to one onto ``zarr.create_array`` keywords: ``chunks``, ``fill_value``,
    ``compressors``, ``filters``, ``serializer`` and ``shards``.

    The zarr 2 spelling of hdmf-zarr <= 0.13 still works, with a DeprecationWarning that shows the zarr v3
    spelling: ``compressor=<numcodecs codec>`` (or ``None``/``False`` for no compression) and numcodecs codecs in
    ``filters`` or ``compressors`` are translated to the equivalent zarr v3 codecs. ``get_io_params()`` reports the
    translated v3 codecs.
    """

    @docval(
        {
            "name": "data",
            "type": (np.ndarray, list, tuple, zarr.Array, Iterable),
            "doc": "the data to write (an array, list, iterator, zarr.Array or h5py.Dataset)",
        },
        {"name": "chunks", "type": (list, tuple), "doc": "chunk shape (inner chunks when sharded)", "default": None},
        {"name": "fillvalue", "type": None, "doc": "value of unwritten elements", "default": None},
        {
            "name": "compressors",
            "type": (BytesBytesCodec, NumcodecsCodec, list, tuple, bool),
            "doc": "zarr v3 bytes-to-bytes codecs; False for none, True for zarr's default",
            "default": None,
        },
        {
            "name": "compressor",
            "type": None,
            "doc": "deprecated zarr 2 spelling: a numcodecs codec, or None/False for no compression",
            "default": NOT_GIVEN,
            "allow_none": True,
        },
        {"name": "filters", "type": (list, tuple), "doc": "array-to-array codecs", "default": None},
        {"name": "serializer", "type": ArrayBytesCodec, "doc": "array-to-bytes codec", "default": None},
        {"name": "shards", "type": (list, tuple, str), "doc": "shard shape, or 'auto'", "default": None},
        {"name": "link_data", "type": bool, "doc": "link (True) or copy (False) a zarr.Array source", "default": False},
    )
    def __init__(self, **kwargs):
        data, chunks, fillvalue, compressors, compressor, filters, serializer, shards, link_data = popargs(
            "data",
            "chunks",
            "fillvalue",
            "compressors",
            "compressor",
            "filters",
            "serializer",
            "shards",
            "link_data",
            kwargs,
        )
        legacy = translate(compressor, compressors, filters, serializer)
        if legacy.message is not None:
            warnings.warn(legacy.message, DeprecationWarning, stacklevel=3)
        compressors, filters, serializer = legacy.compressors, legacy.filters, legacy.serializer
        deferred = data if is_dask_array(data) else None  # HDMF's DataIO type check does not know dask
        super().__init__(data=None if deferred is not None else data, dtype=None, shape=None)
        if deferred is not None:
            self._DataIO__data = deferred
        self.__link_data = bool(link_data) and isinstance(data, zarr.Array)
        self.__params: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        if chunks is not None:
            settings["chunks"] = tuple(chunks)
            self.__params["chunks"] = tuple(chunks)
        if fillvalue is not None:
            settings["fill_value"] = fillvalue
            self.__params["fillvalue"] = fillvalue
        if compressors is not None:
            self.__params["compressors"] = compressors
            if compressors is False:
                settings["compressors"] = None
            elif compressors is not True:
                settings["compressors"] = compressors
        if filters is not None:
            _check_codecs(filters, ArrayArrayCodec, "filters")
            settings["filters"] = list(filters)
            self.__params["filters"] = list(filters)
        if serializer is not None:
            settings["serializer"] = serializer
            self.__params["serializer"] = serializer
        if shards is not None:
            settings["shards"] = _parse_shards(shards, chunks)
            self.__params["shards"] = settings["shards"]
        self.__io_settings = settings

    @property
    def link_data(self) -> bool:
        return self.__link_data

    @property
    def io_settings(self) -> dict[str, Any]:
        return self.__io_settings

    def get_io_params(self) -> dict[str, Any]:
        """Constructor keywords that recreate these settings: ``ZarrDataIO(data, **io.get_io_params())``."""
        params = dict(self.__params)
        params["link_data"] = self.__link_data
        return params

    @staticmethod
    def from_h5py_dataset(h5dataset: Any, **kwargs: Any) -> ZarrDataIO:
        """Wrap an h5py.Dataset, carrying its chunking, fill value and filters over to Zarr codecs."""
        codecs = hdf5_to_zarr_filters(h5dataset)
        compressors = [c for c in codecs if isinstance(c, BytesBytesCodec)] or fallback_compressors(h5dataset)
        filters = [c for c in codecs if isinstance(c, ArrayArrayCodec)] or None
        fillvalue = h5dataset.fillvalue
        if isinstance(fillvalue, bytes):
            fillvalue = fillvalue.decode("utf-8")
        if isinstance(fillvalue, np.generic):
            fillvalue = fillvalue.item()
        if h5dataset.dtype.kind in "OSUV":
            fillvalue = None
        options = {"fillvalue": fillvalue, "chunks": h5dataset.chunks, "compressors": compressors, "filters": filters}
        options.update(kwargs)
        return ZarrDataIO(data=h5dataset, **options)

    hdf5_to_zarr_filters = staticmethod(hdf5_to_zarr_filters)
    is_h5py_dataset = staticmethod(is_h5py_dataset)


def _check_codecs(codecs: Iterable[Any], kind: type, role: str) -> None:
    for codec in codecs:
        if not isinstance(codec, kind):
            raise TypeError(f"ZarrDataIO {role} must be {kind.__name__} instances, got {codec!r}")


def _parse_shards(shards: Any, chunks: Any) -> Any:
    if isinstance(shards, str):
        if shards != "auto":
            raise ValueError("'shards' must be a shape or 'auto'.")
        return "auto"
    shards = tuple(int(s) for s in shards)
    if chunks is None:
        warnings.warn(_SHARDS_WITHOUT_CHUNKS, UserWarning, stacklevel=3)
        return shards
    if len(chunks) != len(shards):
        raise ValueError(f"'shards' {shards} and 'chunks' {tuple(chunks)} must have the same number of dimensions.")
    for shard, chunk in zip(shards, chunks):
        if chunk <= 0 or shard % chunk:
            raise ValueError(f"Each dimension of 'shards' {shards} must be a multiple of 'chunks' {tuple(chunks)}.")
    return shards
