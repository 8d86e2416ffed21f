"""Copying existing arrays (zarr arrays, h5py datasets) into a new store, region by region."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import zarr
from zarr.abc.codec import ArrayArrayCodec, BytesBytesCodec

from .. import _dtypes as dt
from .._arrays import ceil_div, grid_shape
from .._convert.h5filters import fallback_compressors, hdf5_to_zarr_filters, is_h5py_dataset


def native_dtype(source: Any) -> np.dtype:
    if isinstance(source, zarr.Array):
        return np.dtype(source.async_array.dtype)
    return np.dtype(source.dtype)


def copy_settings(source: Any, compressors: Any = None) -> dict[str, Any]:
    """Storage settings of ``source`` expressed as ``create_array`` keywords (``compressors``, when given, win)."""
    settings = _source_settings(source)
    if compressors is not None and (isinstance(source, zarr.Array) or is_h5py_dataset(source)):
        settings["compressors"] = compressors
    return settings


def _source_settings(source: Any) -> dict[str, Any]:
    if isinstance(source, zarr.Array):
        settings: dict[str, Any] = {"chunks": source.chunks, "fill_value": source.fill_value}
        if source.metadata.zarr_format == 3:
            settings["compressors"] = source.compressors or None
            settings["filters"] = source.async_array.filters or None  # v3 codecs, not zarr 2's view
            settings["serializer"] = source.serializer or "auto"
            if source.shards is not None:
                settings["shards"] = source.shards
        else:
            codecs = _v2_codecs(source)
            settings["compressors"] = [c for c in codecs if isinstance(c, BytesBytesCodec)] or None
            settings["filters"] = [c for c in codecs if isinstance(c, ArrayArrayCodec)] or None
        if native_dtype(source).kind in "OTUSV":
            settings.pop("fill_value")
            settings.pop("serializer", None)
        return {k: v for k, v in settings.items() if v is not None or k in ("compressors", "filters")}
    if is_h5py_dataset(source):
        codecs = hdf5_to_zarr_filters(source)
        settings = {
            "compressors": [c for c in codecs if isinstance(c, BytesBytesCodec)] or None,
            "filters": [c for c in codecs if isinstance(c, ArrayArrayCodec)] or None,
        }
        if source.chunks is not None:
            settings["chunks"] = source.chunks
        if source.dtype.kind not in "OSUV" and source.fillvalue is not None:
            settings["fill_value"] = np.asarray(source.fillvalue).item()
        if settings["compressors"] is None:
            settings["compressors"] = fallback_compressors(source, stacklevel=4)
        if settings["compressors"] is None:
            settings.pop("compressors")
        if settings["filters"] is None:
            settings.pop("filters")
        return settings
    return {}


def _v2_codecs(source: zarr.Array) -> list[Any]:
    """zarr v3 wrappers for the numcodecs codecs of a v2 array; unmappable ones dropped with a warning."""
    from zarr.codecs import numcodecs as wrappers

    out = []
    meta = source.metadata
    for codec in [*(meta.filters or ()), meta.compressor]:
        if codec is None:
            continue
        config = codec.get_config()
        codec_id = config.pop("id")
        if codec_id in ("vlen-utf8", "vlen-bytes", "pickle", "json2", "msgpack2"):
            continue
        cls = next(
            (
                getattr(wrappers, n)
                for n in dir(wrappers)
                if getattr(getattr(wrappers, n), "codec_name", None) == f"numcodecs.{codec_id}"
            ),
            None,
        )
        if cls is None:
            warnings.warn(f"{source.path}: codec '{codec_id}' has no zarr v3 equivalent and is dropped", stacklevel=3)
            continue
        out.append(cls(**config))
    return out


def source_dtype(source: Any, spec_dtype: Any) -> tuple[np.dtype, str | None]:
    """The stored dtype and ``_DTYPE`` name for a copy of ``source``."""
    native = native_dtype(source)
    if native.names:
        if dt.is_compound_dtype(spec_dtype):
            return dt.compound_dtype(list(spec_dtype)), None
        return _text_fields_as_unicode(native), None
    if native.kind in "OTUS":
        return dt.STRING_DTYPE, "str"
    kind = dt.lookup_spec_dtype(spec_dtype) if isinstance(spec_dtype, str) else None
    if kind is not None and kind is not str:
        return np.dtype(kind), dt.type_name(kind)
    return native, native.name


def _text_fields_as_unicode(dtype: np.dtype) -> np.dtype:
    parts = []
    for name in dtype.names:
        sub = dtype[name]
        if sub.names:
            parts.append((name, _text_fields_as_unicode(sub)))
        elif sub.kind in "OTS":
            parts.append((name, f"U{dt.COMPOUND_DTYPE_MIN_STRING_LENGTH}"))
        else:
            parts.append((name, sub))
    return np.dtype(parts)


def region_converter(source: Any, dtype: np.dtype) -> Callable[[Any], np.ndarray]:
    """A function that turns a region read from ``source`` into values of ``dtype``."""
    where = f"dataset '{getattr(source, 'name', None) or getattr(source, 'path', '?')}'"
    if dtype == dt.STRING_DTYPE:
        return lambda block: dt.text_array(block, where)
    if dtype.names:
        return lambda block: (
            dt.compound_array([{"name": n, "dtype": _field_spec(dtype[n])} for n in dtype.names], block, where)
            if np.asarray(block).dtype != dtype
            else np.asarray(block)
        )
    return lambda block: np.asarray(block, dtype=dtype)


def _field_spec(sub: np.dtype) -> Any:
    if sub.names:
        return [{"name": n, "dtype": _field_spec(sub[n])} for n in sub.names]
    return "text" if sub.kind == "U" else sub.name


def iter_regions(shape: tuple[int, ...], block: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    """Slices that tile ``shape`` with blocks of ``block`` (edge blocks are clipped)."""
    if any(s == 0 for s in shape):
        return
    counts = grid_shape(shape, block)
    for index in np.ndindex(*counts):
        yield tuple(slice(i * b, min((i + 1) * b, s)) for i, b, s in zip(index, block, shape))


def copy_block_shape(
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    itemsize: int,
    source_chunks: tuple[int, ...] | None = None,
    target_bytes: int = 1 << 20,
) -> tuple[int, ...]:
    """A block of whole target ``chunks`` to read from the source at once: a few chunks, never the array.

    It covers whole ``source_chunks`` (so each source chunk is decompressed once) and grows along the
    first axis until it holds about ``target_bytes`` (so tiny chunks are not read one by one).
    """
    if not shape:
        return ()
    block = list(chunks)
    if source_chunks is not None and len(source_chunks) == len(chunks):
        block = [_covering(c, s) for c, s in zip(chunks, source_chunks)]
    block = [min(b, ceil_div(n, c) * c) for b, c, n in zip(block, chunks, shape)]
    size = max(1, itemsize * int(np.prod(block, dtype=np.int64)))
    if size < target_bytes and block[0] < shape[0]:
        factor = max(1, target_bytes // size)
        block[0] = min(block[0] * factor, ceil_div(shape[0], chunks[0]) * chunks[0])
    return tuple(max(1, b) for b in block)


def _covering(chunk: int, source_chunk: int) -> int:
    """A multiple of ``chunk`` that ends on a ``source_chunk`` boundary when that is cheap, else covers one."""
    common = math.lcm(chunk, source_chunk)
    return common if common <= 4 * max(chunk, source_chunk) else chunk * ceil_div(source_chunk, chunk)
