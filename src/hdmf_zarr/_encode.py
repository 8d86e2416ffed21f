"""Encode a small array's single chunk in-process, with the codecs' synchronous methods.

Going through ``AsyncArray.setitem`` costs about a millisecond per array in scheduling and
thread hand-offs, which dominates files with thousands of tiny datasets. An array that fits in
one chunk needs none of that: run its codec chain directly and hand back the bytes. Anything this
path does not cover (several chunks, sharding, a codec without a synchronous method) returns
None and is written by zarr as usual.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import Buffer, default_buffer_prototype

_NOT_ENCODED = None


def _single_chunk_shape(meta: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    chunk_shape = getattr(meta.chunk_grid, "chunk_shape", None)
    if chunk_shape is None:
        return None
    chunk_shape = tuple(chunk_shape)
    if len(chunk_shape) != len(shape) or any(c < s for c, s in zip(chunk_shape, shape)):
        return None
    return chunk_shape


def _is_fill(values: np.ndarray, fill: Any) -> bool:
    try:
        if values.dtype.kind == "f" and isinstance(fill, float) and np.isnan(fill):
            return bool(np.isnan(values).all())
        return bool(np.all(values == fill))
    except (TypeError, ValueError):
        return False


def encode_single_chunk(meta: Any, values: np.ndarray) -> tuple[str, Buffer | None] | None:
    """``(chunk key, bytes)`` for an array stored as one chunk; bytes None when the chunk is all fill.

    Returns None when the array needs zarr's general write path.
    """
    shape = tuple(values.shape)
    chunk_shape = _single_chunk_shape(meta, shape)
    codecs = list(meta.codecs)
    if chunk_shape is None or not all(hasattr(c, "_encode_sync") for c in codecs):
        return _NOT_ENCODED
    if not all(isinstance(c, (ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec)) for c in codecs):
        return _NOT_ENCODED
    try:
        fill = meta.fill_value
        native = meta.data_type.to_native_dtype()
        key = meta.encode_chunk_key(tuple(0 for _ in shape))
        if values.dtype.names is None and _is_fill(values, fill):
            return key, None
        chunk = values.astype(native, copy=False)
        if chunk_shape != shape:
            padded = np.full(chunk_shape, fill, dtype=native)
            padded[tuple(slice(0, s) for s in shape)] = chunk
            chunk = padded
        prototype = default_buffer_prototype()
        spec = ArraySpec(
            shape=chunk_shape,
            dtype=meta.data_type,
            fill_value=fill,
            config=ArrayConfig.from_dict({}),
            prototype=prototype,
        )
        data: Any = prototype.nd_buffer.from_numpy_array(np.ascontiguousarray(chunk))
        for codec in codecs:
            data = codec._encode_sync(data, spec)
            if data is None:
                return key, None
            if isinstance(codec, ArrayArrayCodec):
                spec = codec.resolve_metadata(spec)
        return key, data
    except (AttributeError, TypeError, NotImplementedError):
        return _NOT_ENCODED
