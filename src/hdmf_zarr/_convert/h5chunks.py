"""Where an HDF5 dataset's chunks lie in its file: the byte ranges a virtual file references.

Chunked datasets give one range per stored chunk (HDF5 chunk = zarr chunk; chunks never written are absent
and read as the fill value). A contiguous dataset is one uncompressed run of bytes: it is cut along its first
axis into zarr chunks of whole rows, each a range of that run, so that reading a block fetches only its rows.
Compact datasets (values inside the object header), chunks stored with a filter skipped, and data whose
filters have no zarr counterpart have no ranges: their values are copied instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .h5filters import stored_chunk_codecs

#: a contiguous dataset is cut into zarr chunks of about this many bytes (whole rows)
CONTIGUOUS_CHUNK_BYTES = 8 << 20
#: ... unless its row count has no divisor giving chunks of at least this size: then it is one chunk
MIN_CONTIGUOUS_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredChunks:
    """The zarr view of a dataset's stored chunks: chunk shape, codecs and the byte range of each chunk."""

    chunks: tuple[int, ...]
    codecs: list[Any]  # the bytes serializer first, then bytes-to-bytes codecs
    ranges: dict[tuple[int, ...], tuple[int, int]]  # chunk coordinates -> (offset, length)
    complete: bool  # every chunk of the grid has a range


def stored_chunks(dataset: Any) -> StoredChunks | None:
    """The byte ranges of ``dataset``'s chunks as zarr chunks, or None when its values must be copied."""
    import h5py

    shape = tuple(int(n) for n in dataset.shape or ())
    if not shape:
        return None
    codecs = stored_chunk_codecs(dataset)
    if codecs is None:
        return None
    layout = dataset.id.get_create_plist().get_layout()
    if layout == h5py.h5d.CHUNKED:
        return _chunked(dataset, shape, codecs)
    if layout == h5py.h5d.CONTIGUOUS and len(codecs) == 1:
        return _contiguous(dataset, shape, codecs)
    return None


def _grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-n // c) for n, c in zip(shape, chunks))


def _chunked(dataset: Any, shape: tuple[int, ...], codecs: list[Any]) -> StoredChunks | None:
    chunks = tuple(int(c) for c in dataset.chunks)
    grid = _grid(shape, chunks)
    ranges: dict[tuple[int, ...], tuple[int, int]] = {}
    skipped = False

    def visit(info: Any) -> None:
        nonlocal skipped
        coords = tuple(int(o) // c for o, c in zip(info.chunk_offset, chunks))
        if any(i >= g for i, g in zip(coords, grid)):
            return  # a chunk beyond the current extent (the dataset was shrunk)
        if info.filter_mask:
            skipped = True  # stored with a filter skipped: the codecs would not decode it
        ranges[coords] = (int(info.byte_offset), int(info.size))

    dsid = dataset.id
    if hasattr(dsid, "chunk_iter"):
        dsid.chunk_iter(visit)
    else:
        for index in range(dsid.get_num_chunks()):
            visit(dsid.get_chunk_info(index))
    if skipped:
        return None
    return StoredChunks(chunks, codecs, ranges, len(ranges) == int(np.prod(grid, dtype=np.int64)))


def _contiguous(dataset: Any, shape: tuple[int, ...], codecs: list[Any]) -> StoredChunks:
    itemsize = np.dtype(dataset.dtype).itemsize
    row_bytes = itemsize * int(np.prod(shape[1:], dtype=np.int64))
    rows = contiguous_rows(shape[0], row_bytes)
    chunks = tuple(max(1, n) for n in (rows, *shape[1:]))  # zarr chunks are never empty, even for empty arrays
    offset = dataset.id.get_offset()
    if offset is None or row_bytes == 0 or shape[0] == 0:  # nothing stored: every element is the fill value
        return StoredChunks(chunks, codecs, {}, False)
    zeros = (0,) * (len(shape) - 1)
    ranges = {(i, *zeros): (int(offset) + i * rows * row_bytes, rows * row_bytes) for i in range(shape[0] // rows)}
    return StoredChunks(chunks, codecs, ranges, True)


def contiguous_rows(n_rows: int, row_bytes: int) -> int:
    """Rows per zarr chunk of a contiguous dataset: a divisor of ``n_rows`` (every chunk whole), about
    ``CONTIGUOUS_CHUNK_BYTES``; all rows when that is small or no divisor gives reasonably large chunks."""
    if n_rows * row_bytes <= CONTIGUOUS_CHUNK_BYTES or row_bytes == 0:
        return max(n_rows, 1)
    most = max(1, CONTIGUOUS_CHUNK_BYTES // row_bytes)
    best = max((d for d in _divisors(n_rows) if d <= most), default=1)
    return best if best * row_bytes >= MIN_CONTIGUOUS_CHUNK_BYTES else n_rows


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return small + [n // d for d in small]
