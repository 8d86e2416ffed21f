"""The chunk record: which chunks of an array its writer stored, so that a missing one is damage, not fill.

zarr leaves out chunks that hold only the fill value, so a reader cannot tell a chunk that was never
written from one that was lost (deleted, or a server answering 404 for an object it holds). Our writers
store every chunk of arrays whose data they write in full, fill-valued chunks too, and say so in the
array's metadata (the extra field ``hdmf_zarr.stored_chunks``, ``{"must_understand": false, "shape": [...]}``).
The recorded shape stays when the array later grows: chunks beyond it may be absent.
"""

from __future__ import annotations

from typing import Any

from ._convention import CHUNK_RECORD_FIELD


def with_chunk_record(meta: Any) -> Any:
    """``meta`` (a private copy the caller owns) recording that every chunk of its current shape is stored."""
    record = {"must_understand": False, "shape": list(meta.shape)}
    object.__setattr__(meta, "extra_fields", {**meta.extra_fields, CHUNK_RECORD_FIELD: record})
    return meta


def recorded_shape(meta: Any) -> tuple[int, ...] | None:
    """The region whose chunks the writer stored, or None when the array has no record."""
    record = (getattr(meta, "extra_fields", None) or {}).get(CHUNK_RECORD_FIELD)
    if not isinstance(record, dict):
        return None
    shape = record.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    return tuple(shape) if len(shape) == len(getattr(meta, "shape", ())) else None


def stores_every_chunk(meta: Any) -> bool:
    """True when writers of ``meta`` must store fill-valued chunks too (the array carries a record)."""
    return recorded_shape(meta) is not None


def is_recorded_chunk(meta: Any, coords: tuple[int, ...]) -> bool:
    """True when the chunk at ``coords`` lies in the recorded region, so it must exist."""
    shape = recorded_shape(meta)
    chunks = getattr(meta.chunk_grid, "chunk_shape", None)
    if shape is None or chunks is None or len(coords) != len(shape):
        return False
    return all(0 <= i and i * c < s for i, c, s in zip(coords, chunks, shape))
