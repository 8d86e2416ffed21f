"""Copy an array's chunks into a new store: stored bytes as they are when both sides agree, else re-encoded.

A chunk is copied byte for byte (no decompression, no compression) when the target array would store
exactly the bytes the source holds:

* an h5py dataset, chunked like the target, whose filter pipeline is an optional shuffle followed by
  deflate (gzip), zstd or blosc, or no filter at all, copied into an array whose codecs are
  ``[bytes, numcodecs.shuffle?, numcodecs.zlib | numcodecs.zstd | numcodecs.blosc]`` with the same byte
  order. Chunks are read with ``read_direct_chunk``; a chunk stored with a filter skipped (a non-zero
  filter mask) is decoded and re-encoded instead.
* a zarr v3 array whose data type, chunk grid, codecs and fill value equal the target's: its chunk (or
  shard) objects are copied from its store.
* a zarr v2 array in C order without filters, whose compressor is the target's only compressor.

Anything else (other filters, fletcher32, a different chunk grid or codec, a dtype conversion) is read,
decoded and re-encoded a block of a few chunks at a time. Either way at most ``WriteOptions.copy_workers`` blocks
are in flight, so memory stays a few chunks per array whatever the array's size.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.codecs import BytesCodec
from zarr.core.buffer import Buffer, default_buffer_prototype

from .._arrays import chunk_coords, chunk_count, chunk_region
from .._chunkrecord import stores_every_chunk
from .._convert.h5filters import byte_order, is_h5py_dataset, stored_chunk_codecs
from .copy import copy_block_shape, iter_regions
from .encode import ChunkEncoder
from .options import WriteOptions
from .plan import CopiedSource, InMemory

#: a chunk that is absent from the source and must stay absent (both sides read it as the fill value)
ABSENT = object()

_FIXED_KINDS = "biufc"

RawFetch = Callable[[tuple[int, ...]], Awaitable[Any]]  # chunk coords -> Buffer | ABSENT | None (decode it)


# ------------------------------------------------------------------------------------------ matching
def _bytes_codec_matches(codec: Any, dtype: np.dtype) -> bool:
    if not isinstance(codec, BytesCodec):
        return False
    expected = byte_order(dtype)
    return expected is None or getattr(codec.endian, "value", codec.endian) == expected


def _chunk_shape(meta: Any) -> tuple[int, ...] | None:
    shape = getattr(meta.chunk_grid, "chunk_shape", None)
    return tuple(shape) if shape is not None else None


def _same_codecs(found: list[Any], wanted: list[Any], dtype: np.dtype) -> bool:
    """True when codecs ``found`` decode what ``wanted`` encodes: same codecs in order (levels aside)."""
    if len(found) != len(wanted) or not found or not _bytes_codec_matches(wanted[0], dtype):
        return False
    for ours, theirs in zip(found[1:], wanted[1:]):
        ours, theirs = ours.to_dict(), theirs.to_dict()
        if ours.get("name") != theirs.get("name"):
            return False
        if ours["name"] == "numcodecs.shuffle" and ours.get("configuration") != theirs.get("configuration"):
            return False
    return True


def h5_chunks_match(dataset: Any, meta: Any) -> bool:
    """True when the stored chunks of h5py ``dataset`` are valid chunks of an array with metadata ``meta``."""
    dtype = np.dtype(dataset.dtype)
    if dataset.chunks is None or _chunk_shape(meta) != tuple(dataset.chunks):
        return False
    if meta.data_type.to_native_dtype().newbyteorder("<") != dtype.newbyteorder("<"):
        return False
    codecs = stored_chunk_codecs(dataset)
    return codecs is not None and _same_codecs(codecs, list(meta.codecs), dtype)


def _fill_json(meta: Any) -> Any:
    return meta.to_dict().get("fill_value")


def _same_fill(source_fill: Any, meta: Any) -> bool:
    target = meta.fill_value
    try:
        return bool(np.array_equal(np.asarray(source_fill), np.asarray(target), equal_nan=True))
    except TypeError:
        return bool(np.array_equal(np.asarray(source_fill), np.asarray(target)))


def zarr_chunks_match(array: zarr.Array, meta: Any) -> bool:
    """True when the chunk objects of zarr ``array`` can be stored unchanged under metadata ``meta``."""
    source = array.metadata
    if source.zarr_format == 3:
        return (
            source.data_type == meta.data_type
            and source.chunk_grid == meta.chunk_grid
            and [c.to_dict() for c in source.codecs] == [c.to_dict() for c in meta.codecs]
            and _fill_json(source) == _fill_json(meta)
        )
    dtype = np.dtype(source.dtype.to_native_dtype()) if hasattr(source.dtype, "to_native_dtype") else source.dtype
    if source.order != "C" or source.filters or dtype.kind not in _FIXED_KINDS or dtype.names:
        return False
    if tuple(source.chunks) != _chunk_shape(meta) or dtype.newbyteorder("<") != (
        meta.data_type.to_native_dtype().newbyteorder("<")
    ):
        return False
    if source.fill_value is None or not _same_fill(source.fill_value, meta):
        return False
    codecs = list(meta.codecs)
    if not codecs or not _bytes_codec_matches(codecs[0], dtype):
        return False
    compressors = [c.to_dict() for c in codecs[1:]]
    if source.compressor is None:
        return not compressors
    config = dict(source.compressor.get_config())
    name = f"numcodecs.{config.pop('id')}"
    return len(compressors) == 1 and compressors[0].get("name") == name


# ------------------------------------------------------------------------------------------ raw sources
def _h5_fetch(dataset: Any, chunk_shape: tuple[int, ...], same_fill: bool) -> RawFetch:
    prototype = default_buffer_prototype()

    def read(coords: tuple[int, ...]) -> Any:
        offset = tuple(c * s for c, s in zip(coords, chunk_shape))
        info = dataset.id.get_chunk_info_by_coord(offset)
        if info.byte_offset is None:
            return ABSENT if same_fill else None
        if info.filter_mask:
            return None
        mask, data = dataset.id.read_direct_chunk(offset)
        return None if mask else prototype.buffer.from_bytes(data)

    return lambda coords: asyncio.to_thread(read, coords)


def _zarr_fetch(array: zarr.Array, store_fill_chunks: bool) -> RawFetch:
    """Stored chunks of ``array``; an absent one is ABSENT, or None (decode: the target stores a fill chunk)."""
    store, prefix, meta = array.store_path.store, array.store_path.path, array.metadata
    prototype = default_buffer_prototype()
    absent = None if store_fill_chunks else ABSENT

    async def fetch(coords: tuple[int, ...]) -> Any:
        key = meta.encode_chunk_key(coords)
        found = await store.get(f"{prefix}/{key}" if prefix else key, prototype=prototype)
        return absent if found is None else found

    return fetch


def raw_fetch(source: Any, meta: Any, options: WriteOptions) -> RawFetch | None:
    """A reader of stored chunks of ``source`` usable as chunks of ``meta``; None when none can be."""
    if not options.chunk_copy or meta is None:
        return None
    try:
        if isinstance(source, zarr.Array) and zarr_chunks_match(source, meta):
            return _zarr_fetch(source, stores_every_chunk(meta))
        if is_h5py_dataset(source) and h5_chunks_match(source, meta):
            same = _same_fill(source.fillvalue, meta) and not stores_every_chunk(meta)
            return _h5_fetch(source, tuple(source.chunks), same)
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return None
    return None


# ------------------------------------------------------------------------------------------ copying
async def run_bounded(jobs: Iterable[Callable[[], Awaitable[None]]], limit: int) -> None:
    """Run the coroutines made by ``jobs`` with at most ``limit`` in flight (jobs are made lazily)."""
    pending: set[asyncio.Task] = set()
    try:
        for job in jobs:
            if len(pending) >= limit:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            pending.add(asyncio.ensure_future(job()))
        for task in asyncio.as_completed(list(pending)):
            await task
    finally:
        for task in pending:
            task.cancel()


class ArrayCopy:
    """Copies ``source`` into the array ``key`` of ``store`` described by ``meta``.

    ``convert`` turns a region read from the source into target values; ``setitem`` writes a
    chunk-aligned region through zarr (used when the codecs have no synchronous encoder);
    ``on_chunk(n)`` is told each time ``n`` more chunks are done; ``options`` are the write's.
    """

    def __init__(
        self,
        store: Store,
        key: str,
        meta: Any,
        source: Any,
        convert: Callable[[Any], np.ndarray],
        setitem: Callable[[tuple[slice, ...], np.ndarray], Awaitable[None]],
        options: WriteOptions,
        on_chunk: Callable[[int], Any] | None = None,
    ) -> None:
        self.store, self.key, self.meta, self.source, self.options = store, key, meta, source, options
        self.convert, self.setitem, self.on_chunk = convert, setitem, on_chunk
        self.shape = tuple(meta.shape)
        self.chunks = _chunk_shape(meta) or self.shape
        self.encoder = ChunkEncoder(meta)
        native = meta.data_type.to_native_dtype()
        self.fixed = native.kind in _FIXED_KINDS
        self.itemsize = native.itemsize if self.fixed else 16  # text: a guess, for block sizes
        self.raw = raw_fetch(source, meta, options)
        self.copied_raw = 0  # chunks stored as they were

    async def run(self) -> None:
        workers = self.options.copy_workers
        if self.raw is not None:
            jobs = (lambda c=coords: self._raw_chunk(c) for coords in chunk_coords(self.shape, self.chunks))
        else:
            source_chunks = getattr(self.source, "chunks", None)
            block = copy_block_shape(self.shape, self.chunks, self.itemsize, source_chunks)
            jobs = (lambda r=region: self._block(r) for region in iter_regions(self.shape, block))
        await run_bounded(jobs, workers)

    def _region(self, coords: tuple[int, ...]) -> tuple[slice, ...]:
        return chunk_region(coords, self.chunks, self.shape)

    def _report(self, region: tuple[slice, ...]) -> None:
        if self.on_chunk is not None:
            self.on_chunk(chunk_count(tuple(r.stop - r.start for r in region), self.chunks))
        if self.options.on_copied is not None and self.fixed:
            self.options.on_copied(math.prod(r.stop - r.start for r in region) * self.itemsize)

    async def _raw_chunk(self, coords: tuple[int, ...]) -> None:
        found = await self.raw(coords)
        if found is None:
            await self._block(self._region(coords))
            return
        if found is not ABSENT:
            await self.store.set(f"{self.key}/{self.meta.encode_chunk_key(coords)}", found)
            self.copied_raw += 1
        self._report(self._region(coords))

    async def _block(self, region: tuple[slice, ...]) -> None:
        """Read, convert and encode one chunk-aligned block, then store its chunks."""
        values = await asyncio.to_thread(lambda: np.asarray(self.convert(self.source[region])))
        if not self.encoder.supported:
            await self.setitem(region, values)
        else:
            encoded = await asyncio.to_thread(self._encode, region, values)
            await asyncio.gather(*(self.store.set(f"{self.key}/{k}", v) for k, v in encoded if v is not None))
        self._report(region)

    def _encode(self, region: tuple[slice, ...], values: np.ndarray) -> list[tuple[str, Buffer | None]]:
        first = tuple(r.start // c for r, c in zip(region, self.chunks))
        out = []
        for local in np.ndindex(*self.encoder.grid(values.shape)):
            block = values[self.encoder.region(local, values.shape)]
            out.append(self.encoder.encode(tuple(f + i for f, i in zip(first, local)), block))
        return out


async def load_small(source: Any, meta: Any, options: WriteOptions) -> dict[str, Buffer] | None:
    """The stored chunk objects of a small array that can be copied as they are (key -> bytes), else None."""
    fetch = raw_fetch(source, meta, options)
    if fetch is None:
        return None
    chunks = _chunk_shape(meta) or tuple(meta.shape)
    coords = list(chunk_coords(tuple(meta.shape), chunks))
    found = await asyncio.gather(*(fetch(c) for c in coords))
    if any(f is None for f in found):
        return None
    return {meta.encode_chunk_key(c): f for c, f in zip(coords, found) if f is not ABSENT}


def _logical_bytes(node: Any, text_itemsize: int = 16) -> int:
    """Bytes of a node's elements; elements of variable size count ``text_itemsize`` each."""
    dtype = node.dtype if isinstance(node.dtype, np.dtype) else np.dtype("O")
    return math.prod(node.shape) * (dtype.itemsize if dtype.kind in _FIXED_KINDS else text_itemsize)


async def stage_small_sources(
    nodes: Iterable[Any], limit: int, budget: int, options: WriteOptions
) -> dict[str, Buffer]:
    """Read the lazy sources of plan nodes of at most ``limit`` bytes, up to ``budget`` bytes in all.

    Sources whose chunks can be copied as they are give their chunk objects (returned, keyed by store
    key); the others are read and converted into in-memory data, to be encoded with the small arrays.
    Either way the node is no longer copied on its own.
    """
    small, total = [], 0
    for node in nodes:
        if not isinstance(node.data, CopiedSource) or node.metadata is None:
            continue
        size = _logical_bytes(node)
        if size <= limit and total + size <= budget:
            small.append(node)
            total += size
    documents: dict[str, Buffer] = {}
    raw = await asyncio.gather(*(load_small(node.data.source, node.metadata, options) for node in small))
    rest = []
    for node, chunks in zip(small, raw):
        if chunks is None:
            rest.append(node)
            continue
        documents.update({f"{node.key}/{key}": value for key, value in chunks.items()})
        node.data = None  # stored

    def read_values() -> None:
        for node in rest:
            node.data = InMemory(np.asarray(node.data.convert(node.data.source[...]), dtype=node.dtype))

    await asyncio.to_thread(read_values)
    if options.on_copied is not None and small:
        options.on_copied(sum(_logical_bytes(node, 0) for node in small))
    return documents
