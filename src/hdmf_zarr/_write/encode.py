"""Encode and store chunks ourselves, with the codecs' synchronous methods.

Two costs of zarr's general ``setitem`` path matter here. For thousands of tiny datasets its
scheduling costs about a millisecond per array; for one big array it keeps dozens of chunks in
flight at once. ``ChunkEncoder`` runs an array's codec chain on one chunk at a time, so tiny arrays
are encoded in-process and big ones are streamed through a small, bounded pool of threads.
Arrays this does not cover (sharding, codecs without synchronous methods) return None/False and
are written by zarr as usual.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarr.abc.store import Store
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import Buffer

from .._arrays import array_config, grid_shape
from .._buffers import host_prototype
from .._chunkrecord import stores_every_chunk
from .._stores import is_remote_store

_CODEC_KINDS = (ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec)
#: chunk uploads in flight at once for remote stores (object stores reward concurrency)
REMOTE_WORKERS = 16
#: about this many bytes of unencoded chunks are held at once while streaming an array
IN_FLIGHT_BYTES = 512 << 20


def _is_fill(values: np.ndarray, fill: Any) -> bool:
    try:
        if values.dtype.kind == "f" and isinstance(fill, float) and np.isnan(fill):
            return bool(np.isnan(values).all())
        return bool(np.all(values == fill))
    except (TypeError, ValueError):
        return False


class ChunkEncoder:
    """Encodes chunks of one array (given its metadata) into stored bytes."""

    def __init__(self, meta: Any) -> None:
        self.meta = meta
        chunk_shape = getattr(meta.chunk_grid, "chunk_shape", None)
        self.chunk_shape = tuple(chunk_shape) if chunk_shape is not None else None
        self.codecs = list(meta.codecs)
        self.supported = self.chunk_shape is not None and all(
            isinstance(c, _CODEC_KINDS) and hasattr(c, "_encode_sync") for c in self.codecs
        )
        if self.supported:
            self.native = meta.data_type.to_native_dtype()
            self.fill = meta.fill_value
            self.keep_fill = stores_every_chunk(meta)
            self.prototype = host_prototype()  # we encode numpy data from host memory
            self.spec = ArraySpec(
                shape=self.chunk_shape,
                dtype=meta.data_type,
                fill_value=self.fill,
                config=ArrayConfig.from_dict(array_config(meta)),
                prototype=self.prototype,
            )

    def grid(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return grid_shape(shape, self.chunk_shape)

    def region(self, coords: tuple[int, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, self.chunk_shape, shape))

    def encode(self, coords: tuple[int, ...], block: np.ndarray) -> tuple[str, Buffer | None]:
        """``(chunk key, bytes)``; bytes None when the chunk holds only the fill value (and the array does not
        record its chunks: then every chunk is stored)."""
        key = self.meta.encode_chunk_key(coords)
        if not self.keep_fill and block.dtype.names is None and _is_fill(block, self.fill):
            return key, None
        chunk = block.astype(self.native, copy=False)
        if tuple(chunk.shape) != self.chunk_shape:
            padded = np.full(self.chunk_shape, self.fill, dtype=self.native)
            padded[tuple(slice(0, s) for s in chunk.shape)] = chunk
            chunk = padded
        data: Any = self.prototype.nd_buffer.from_numpy_array(np.ascontiguousarray(chunk))
        spec = self.spec
        for codec in self.codecs:
            data = codec._encode_sync(data, spec)
            if data is None:
                return key, None
            if isinstance(codec, ArrayArrayCodec):
                spec = codec.resolve_metadata(spec)
        return key, data


def encode_single_chunk(meta: Any, values: np.ndarray) -> tuple[str, Buffer | None] | None:
    """``(chunk key, bytes)`` for an array that fits in one chunk, or None when zarr must write it."""
    encoder = ChunkEncoder(meta)
    shape = tuple(values.shape)
    if not encoder.supported or len(encoder.chunk_shape) != len(shape):
        return None
    if any(c < s for c, s in zip(encoder.chunk_shape, shape)):
        return None
    try:
        return encoder.encode(tuple(0 for _ in shape), values)
    except (AttributeError, TypeError, NotImplementedError):
        return None


def _setter(store: Store, loop: asyncio.AbstractEventLoop) -> Any:
    set_sync = getattr(store, "set_sync", None)
    if set_sync is not None:
        return set_sync
    return lambda key, value: asyncio.run_coroutine_threadsafe(store.set(key, value), loop).result()


def _default_workers(store: Store) -> int:
    return REMOTE_WORKERS if is_remote_store(store) else min(4, os.cpu_count() or 1)


def write_chunks(
    store: Store,
    key: str,
    meta: Any,
    values: np.ndarray,
    loop: asyncio.AbstractEventLoop,
    on_chunk: Callable[[int], Any] | None = None,
) -> bool:
    """Write ``values`` (the whole array) chunk by chunk; False when unsupported.

    At most about two chunks per worker (and about ``IN_FLIGHT_BYTES``) are held at once, so memory
    stays a few chunks above the data. Remote stores get more workers: there, threads mostly wait on
    uploads. ``on_chunk(1)`` is called after each chunk.
    """
    encoder = ChunkEncoder(meta)
    if not encoder.supported or values.ndim != len(encoder.chunk_shape):
        return False
    store_set = _setter(store, loop)
    workers = _default_workers(store)
    chunk_bytes = math.prod(encoder.chunk_shape) * max(encoder.native.itemsize, 1)
    workers = max(1, min(workers, IN_FLIGHT_BYTES // (2 * max(chunk_bytes, 1))))

    def one(local: tuple[int, ...]) -> None:
        block = values[encoder.region(local, values.shape)]
        chunk_key, data = encoder.encode(local, block)
        if data is not None:
            store_set(f"{key}/{chunk_key}", data)
        if on_chunk is not None:
            on_chunk(1)

    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for local in itertools.product(*(range(n) for n in encoder.grid(values.shape))):
            if len(pending) >= 2 * workers:
                pending.popleft().result()
            pending.append(pool.submit(one, local))
        for future in pending:
            future.result()
    return True
