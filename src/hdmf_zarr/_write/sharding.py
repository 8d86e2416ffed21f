"""Sharding for big datasets: few stored objects, each holding many MB-sized inner chunks.

A big array written with zarr's automatic chunking becomes hundreds or thousands of chunk
objects; on object stores and network disks each is a request and a file. With sharding, chunks of
about ``chunk_bytes`` are packed into shards of about ``shard_bytes``: a reader still fetches one
inner chunk at a time (by byte range), but the store holds a few objects.

``write(..., sharding=...)`` chooses the policy:

* ``"auto"`` (the default): arrays of at least 64 MiB whose chunk shape was not chosen by the
  user (no ``ZarrDataIO(chunks=...)``) get ~4 MiB inner chunks in ~128 MiB shards;
* ``True``: the same, and arrays with a user-chosen chunk shape get shards too (their chunks become
  the inner chunks);
* ``False`` or ``None``: never add shards;
* a ``ShardingPolicy``: your own thresholds.

``ZarrDataIO(shards=...)`` always wins for its dataset. Chunk iterators are never sharded here:
their writes need not cover whole shards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import ceil_div

MIB = 1 << 20


@dataclass(frozen=True)
class ShardingPolicy:
    """When to shard an array and how big its inner chunks and shards should be (uncompressed bytes)."""

    min_bytes: int = 64 * MIB
    chunk_bytes: int = 4 * MIB
    shard_bytes: int = 128 * MIB
    explicit_chunks: bool = False  # also shard arrays whose chunk shape the user chose

    def __post_init__(self) -> None:
        if not 0 < self.chunk_bytes <= self.shard_bytes:
            raise ValueError("ShardingPolicy needs 0 < chunk_bytes <= shard_bytes")


SHARDING_OPTIONS = "'auto', True, False, None or a ShardingPolicy"


def resolve_policy(option: Any) -> ShardingPolicy | None:
    """The policy for a ``sharding=`` argument."""
    if isinstance(option, ShardingPolicy):
        return option
    if option is None or option is False:
        return None
    if option is True:
        return ShardingPolicy(explicit_chunks=True)
    if option == "auto":
        return ShardingPolicy()
    raise ValueError(f"sharding={option!r} is not one of {SHARDING_OPTIONS}")


def inner_chunks(shape: tuple[int, ...], itemsize: int, target: int) -> tuple[int, ...]:
    """A chunk shape of at most about ``target`` bytes: the largest axis is halved until it fits."""
    chunks = [max(int(s), 1) for s in shape]
    while math.prod(chunks) * itemsize > target and max(chunks) > 1:
        axis = chunks.index(max(chunks))
        chunks[axis] = ceil_div(chunks[axis], 2)
    return tuple(chunks)


def shard_shape(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int, target: int) -> tuple[int, ...]:
    """Whole multiples of ``chunks``, grown from the first axis on, until a shard holds about ``target`` bytes."""
    shards = list(chunks)
    for axis in range(len(shape)):
        counts = ceil_div(max(int(shape[axis]), 1), chunks[axis])
        others = math.prod(shards) // shards[axis] * itemsize
        fit = max(1, target // max(others * chunks[axis], 1))
        shards[axis] = chunks[axis] * min(counts, fit)
        if math.prod(shards) * itemsize * 2 > target:
            break
    return tuple(shards)


def _itemsize(dtype: Any) -> int | None:
    dtype = np.dtype(dtype)
    if dtype.kind in "OTUSV" and dtype.names is None:
        return None  # variable-length text: sizes are unknown, leave it to zarr
    return dtype.itemsize


def shard_settings(
    shape: tuple[int, ...], dtype: Any, settings: dict[str, Any], policy: ShardingPolicy
) -> dict[str, Any] | None:
    """``chunks``/``shards`` settings for an array under ``policy``, or None to leave it as it is."""
    if not shape or "shards" in settings:
        return None
    itemsize = _itemsize(dtype)
    if itemsize is None or math.prod(shape) * itemsize < policy.min_bytes:
        return None
    chunks = settings.get("chunks")
    explicit = chunks not in (None, True, "auto")
    if explicit and not policy.explicit_chunks:
        return None
    chunks = tuple(int(c) for c in chunks) if explicit else inner_chunks(shape, itemsize, policy.chunk_bytes)
    shards = shard_shape(shape, chunks, itemsize, policy.shard_bytes)
    if shards == chunks:
        return None
    return {"chunks": chunks, "shards": shards}


def apply_sharding(nodes: Any, option: Any) -> int:
    """Add shards to the eligible nodes (in-memory values, copies, dask arrays); returns how many."""
    policy = resolve_policy(option)
    if policy is None:
        return 0
    count = 0
    for node in nodes:
        if not node.shape_is_final:
            continue
        extra = shard_settings(tuple(node.shape), node.dtype, node.settings, policy)
        if extra is not None:
            node.settings = {**node.settings, **extra}
            count += 1
    return count
