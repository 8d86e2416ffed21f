"""Public helpers: ZarrDataIO (per-dataset storage settings), lazy array wrapper, spec I/O."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import zarr
from hdmf.data_utils import DataIO
from hdmf.utils import docval, getargs, popargs
from numcodecs.abc import Codec as NumcodecsCodec
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec

from ._buffers import host_buffers
from ._dask import is_dask_array
from ._dtypes import STRING_DTYPE
from ._h5filters import fallback_compressors, hdf5_to_zarr_filters, is_h5py_dataset
from ._legacy_codecs import NOT_GIVEN, translate, zarr2_compressor, zarr2_filters
from ._parallel import ZarrIODataChunkIteratorQueue
from ._specs import ZarrSpecReader, ZarrSpecWriter
from ._stores import get_store_path

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


def check_compound_widths(values: np.ndarray, stored: np.dtype, where: str) -> None:
    """Raise ValueError when a text field of ``values`` is longer than ``stored`` can hold."""
    if not values.dtype.names:
        return
    for name in stored.names:
        if stored[name].kind != "U" or name not in values.dtype.names:
            continue
        capacity = stored[name].itemsize // 4
        longest = max((len(str(v)) for v in values[name].reshape(-1)), default=0)
        if longest > capacity:
            raise ValueError(
                f"Cannot write to the compound dataset '{where}': a value in field '{name}' needs {longest} "
                f"characters but the existing dataset stores at most {capacity} in that field. Export the "
                "file to a new one with the longer values instead (a new file sizes the field to fit)."
            )


class ZarrReference(dict):
    """An object reference as stored by the convention: ``{"source": ..., "path": ...}``."""

    @docval(
        {"name": "source", "type": str, "doc": "store of the target ('.' for this one)", "default": None},
        {"name": "path", "type": str, "doc": "absolute in-store path of the target", "default": None},
    )
    def __init__(self, **kwargs):
        source, path = getargs("source", "path", kwargs)
        super().__init__(source=source, path=path)

    @property
    def source(self) -> str | None:
        return self["source"]

    @source.setter
    def source(self, value: str | None) -> None:
        self["source"] = value

    @property
    def path(self) -> str | None:
        return self["path"]

    @path.setter
    def path(self, value: str | None) -> None:
        self["path"] = value


def _pythonic(result: Any) -> Any:
    if isinstance(result, np.ndarray):
        if result.dtype == STRING_DTYPE:
            result = result.astype(object)
        if result.ndim == 0:
            return result[()]
    return result


class HDMFZarrArray(zarr.Array):
    """A zarr.Array as HDMF expects datasets to behave: ``len``, iteration, text as Python ``str``.

    The reader switches arrays to this class in place, so wrapping costs nothing.
    """

    @property
    def dtype(self) -> np.dtype:
        real = super().dtype
        return np.dtype(object) if real == STRING_DTYPE else real

    @property
    def compressor(self) -> Any:
        """zarr 2's ``Array.compressor``: the compressor as a numcodecs codec, or None when uncompressed.

        zarr 3 deprecates it and raises for Zarr v3 arrays; tools written for zarr 2 (nwbinspector's compression
        checks, neuroconv's backend configuration) still read it. For a v3 array it is the last compressor that
        compresses (not a checksum), as a numcodecs codec where one exists, else the zarr v3 codec itself.
        ``compressors`` gives all of them, as zarr v3 codecs.
        """
        if self.metadata.zarr_format == 2:
            return self.metadata.compressor
        return zarr2_compressor(self.compressors)

    @property
    def filters(self) -> Any:
        """zarr 2's ``Array.filters``: numcodecs codecs (the array-to-array ones, then the bytes-to-bytes ones
        before the compressor), or None. Tools written for zarr 2 (neuroconv's backend configuration) read it;
        ``async_array.filters`` and ``metadata`` give the zarr v3 codecs."""
        if self.metadata.zarr_format == 2:
            return self.metadata.filters
        return zarr2_filters(self.async_array.filters, self.async_array.compressors)

    @property
    def itemsize(self) -> int:
        """zarr 2's ``Array.itemsize``: bytes per element of :attr:`dtype`."""
        return self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        """Rows along the first axis, read one chunk row at a time (not one request per element)."""
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        step = max(1, self.chunks[0])
        for start in range(0, self.shape[0], step):
            yield from self[start : start + step]

    def __getitem__(self, selection: Any) -> Any:
        if self.async_array.dtype == STRING_DTYPE:
            with host_buffers():  # text has no device representation
                return _pythonic(super().__getitem__(selection))
        return _pythonic(super().__getitem__(selection))

    def __setitem__(self, selection: Any, value: Any) -> None:
        super().__setitem__(selection, self._fit(value))

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        return super().append(self._fit(data), axis=axis)

    def _fit(self, value: Any) -> Any:
        """Refuse compound rows whose text would be truncated by the stored field width."""
        stored = self.async_array.dtype
        if not getattr(stored, "names", None):
            return value
        check_compound_widths(np.asarray(value), stored, "/" + self.path)
        return value

    def astype(self, dtype: Any) -> np.ndarray:
        """The values read into memory as ``dtype`` (HDMF calls this when a dtype must be widened on export)."""
        return np.asarray(self[...]).astype(dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("`copy=False` is not supported: reading a Zarr array always copies its data.")
        data = zarr.Array.__getitem__(self, ...)
        if isinstance(data, np.ndarray) and data.dtype == STRING_DTYPE:
            data = data.astype(object)
        data = np.asarray(data)
        return data if dtype is None else data.astype(dtype)
