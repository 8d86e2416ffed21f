"""Array geometry and arrays made from metadata in hand.

The chunk-grid arithmetic that the encoders, copiers, progress bars and legacy decoders share, and
the one way a zarr array is built from metadata already loaded (no store request).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.core.array import AsyncArray
from zarr.storage import StorePath

from ._chunkrecord import stores_every_chunk


def ceil_div(size: int, step: int) -> int:
    """How many pieces of ``step`` cover ``size``."""
    return -(-size // step)


def chunk_shape_of(metadata: Any) -> tuple[int, ...]:
    """The chunk (or shard) shape of an array's regular grid; its shape when it has no regular grid."""
    return tuple(getattr(metadata.chunk_grid, "chunk_shape", metadata.shape))


def grid_shape(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[int, ...]:
    """The number of chunks along each axis of an array of ``shape`` cut into ``chunks``."""
    return tuple(ceil_div(s, max(c, 1)) for s, c in zip(shape, chunks))


def chunk_count(shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    return math.prod(grid_shape(shape, chunks))


def chunk_coords(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """The coordinates of every chunk, in C order (none for an empty array)."""
    if any(s == 0 for s in shape):
        return iter(())
    return np.ndindex(*grid_shape(shape, chunks))


def chunk_region(coords: tuple[int, ...], chunks: tuple[int, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The region of the array that the chunk at ``coords`` covers."""
    return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))


def array_config(metadata: Any) -> dict[str, Any]:
    """The zarr array config its writers need: fill-valued chunks stored too where the array records them."""
    return {"write_empty_chunks": True} if stores_every_chunk(metadata) else {}


def array_from_metadata(
    store: Store, key: str, metadata: Any, cls: type = zarr.Array, store_path: StorePath | None = None
) -> Any:
    """The array at ``key`` of ``store`` described by ``metadata`` (as ``cls``), without asking the store.

    ``store_path`` replaces the plain ``StorePath(store, key)`` its chunks are read through (the reader's checks).
    """
    store_path = store_path or StorePath(store, key)
    array = zarr.Array(AsyncArray(metadata=metadata, store_path=store_path, config=array_config(metadata)))
    if cls is not zarr.Array:
        array.__class__ = cls
    return array
