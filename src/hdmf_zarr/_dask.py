"""Dask arrays as dataset data: written block by block by dask itself, never loaded whole.

The planner records a dask array as an ``ArrayNode`` whose ``dask`` field holds it (see
``dask_node``); the committer writes its metadata with the other documents, then ``write_dask_nodes``
stores the data: the array is rechunked so that every block covers whole zarr chunks (or whole
shards), and each block is written by one task. The tasks run on whatever dask would use: the
active ``dask.distributed`` Client, else the configured local scheduler (threads by default).

dask itself is imported only when a dask array is written. PyNWB containers check their data's type
against a list that predates dask, so there a dask array goes in a ``ZarrDataIO``; builders (and
containers that take any data) accept it as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._progress import progress_bar


def is_dask_array(obj: Any) -> bool:
    kind = type(obj)
    return kind.__name__ == "Array" and kind.__module__.startswith("dask.array")


def dask_node(key: str, data: Any, kind: Any, attrs: dict[str, Any], settings: dict[str, Any]) -> Any:
    """An ``ArrayNode`` that writes the dask array ``data`` as ``kind``; None for text (written eagerly)."""
    from ._plan import ArrayNode

    if kind is str:
        return None
    dtype = np.dtype(kind) if kind is not None else np.dtype(data.dtype)
    if dtype.kind in "OUSTV":
        return None
    return ArrayNode(key, tuple(int(s) for s in data.shape), dtype, attrs, settings, dask=data)


# ------------------------------------------------------------------ writing
def aligned_chunks(chunks: tuple[tuple[int, ...], ...], outer: tuple[int, ...]) -> tuple[int, ...] | None:
    """Block sizes, multiples of ``outer`` close to the dask blocks, or None when ``chunks`` already align."""
    aligned = all(all(c % o == 0 for c in dim[:-1]) for dim, o in zip(chunks, outer))
    if aligned:
        return None
    out = []
    for dim, o in zip(chunks, outer):
        typical = max(dim) if dim else o
        out.append(max(1, round(typical / o)) * o)
    return tuple(out)


class BlockWriter:
    """Writes one block of a dask array into the zarr array ``key`` of ``store`` (a picklable task)."""

    def __init__(self, store: Any, key: str, metadata: Any) -> None:
        self.store = store
        self.key = key
        self.metadata = metadata.to_dict()

    def array(self) -> Any:
        import zarr
        from zarr.core.array import AsyncArray
        from zarr.core.metadata.v3 import ArrayV3Metadata
        from zarr.storage import StorePath

        meta = ArrayV3Metadata.from_dict(dict(self.metadata))
        return zarr.Array(AsyncArray(metadata=meta, store_path=StorePath(self.store, self.key)))

    def __call__(self, block: np.ndarray, region: tuple[slice, ...]) -> Written:
        array = self.array()
        array[region] = np.asarray(block, dtype=array.dtype)
        return Written(int(np.prod([s.stop - s.start for s in region])))


class Written(int):
    """What a write task returns: the number of elements it stored (told apart from other results)."""


def _active_client() -> Any:
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def _shareable(store: Any) -> bool:
    """True when worker processes can open ``store`` from a pickled copy (not memory or zip stores)."""
    from zarr.storage import MemoryStore, ZipStore

    return not isinstance(store, (MemoryStore, ZipStore))


def write_dask(store: Any, node: Any, progress: Any = False) -> None:
    """Store ``node.dask`` into the array ``node.key`` (whose metadata the committer wrote)."""
    import dask
    from dask.array.core import slices_from_chunks

    data = node.dask
    if data.size == 0:
        return
    outer = tuple(getattr(node.metadata.chunk_grid, "chunk_shape", data.shape))
    target = aligned_chunks(data.chunks, outer)
    if target is not None:
        data = data.rechunk(target)
    data = data.astype(node.dtype) if data.dtype != node.dtype else data
    writer = BlockWriter(store, node.key, node.metadata)
    regions = slices_from_chunks(data.chunks)
    blocks = data.to_delayed().ravel()
    write = dask.delayed(writer, pure=False, traverse=False)
    tasks = [write(block, region) for block, region in zip(blocks, regions)]
    client = _active_client()
    with progress_bar(progress, total=len(tasks), desc=f"/{node.key}", unit="block") as bar:
        if client is not None and _shareable(store):
            from distributed import as_completed

            for future in as_completed(client.compute(tasks)):
                future.result()
                bar.update(1)
            return
        scheduler = "threads" if client is not None or not _shareable(store) else None
        with _CountWrites(bar):
            dask.compute(*tasks, scheduler=scheduler)


class _CountWrites:
    """A dask callback that advances ``bar`` once per finished write task (local schedulers)."""

    def __init__(self, bar: Any) -> None:
        from dask.callbacks import Callback

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(result, Written):
                bar.update(1)

        self.callback = Callback(posttask=posttask)

    def __enter__(self) -> _CountWrites:
        self.callback.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.callback.__exit__(*exc)


def write_dask_nodes(store: Any, nodes: Any, progress: Any = False) -> int:
    """Write every dask-backed node of ``nodes``; returns how many were written."""
    count = 0
    for node in nodes:
        if getattr(node, "dask", None) is not None:
            write_dask(store, node, progress)
            count += 1
    return count
