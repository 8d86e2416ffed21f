"""Writing AbstractDataChunkIterator data: round robin in-process, or GenericDataChunkIterators in
worker processes (one task per buffer, or per shard when buffers would split shards)."""

from __future__ import annotations

import gc
import itertools
import math
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import zarr
from hdmf.data_utils import AbstractDataChunkIterator, GenericDataChunkIterator

from .._progress import ProgressOption, progress_bar

Selection = tuple[slice, ...]


class ZarrIODataChunkIteratorQueue(deque):
    """Queue of ``(zarr array, iterator)`` pairs written when the queue is exhausted."""

    def __init__(
        self,
        number_of_jobs: int = 1,
        max_threads_per_process: int | None = None,
        multiprocessing_context: str | None = None,
    ) -> None:
        super().__init__()
        self.number_of_jobs = number_of_jobs
        self.max_threads_per_process = max_threads_per_process
        self.multiprocessing_context = multiprocessing_context
        self.progress: ProgressOption = False  # a progress bar per exhaust_queue() when set

    def append(self, dataset: zarr.Array, data: AbstractDataChunkIterator) -> None:  # type: ignore[override]
        super().append((dataset, data))

    @classmethod
    def __write_chunk__(cls, dset: zarr.Array, data: AbstractDataChunkIterator) -> bool:
        """Write the next chunk of ``data`` into ``dset``, growing it if needed; False when exhausted."""
        try:
            chunk = next(data)
        except StopIteration:
            return False
        values = np.asarray(chunk.data)
        if values.ndim > len(dset.shape):
            raise ValueError("Shape of data chunk does not match the shape of the dataset")
        bounds = chunk.get_min_bounds()
        if any(b > s for b, s in zip(bounds, dset.shape)):
            dset.resize(tuple(max(b, s) for b, s in zip(bounds, dset.shape)))
        dset[chunk.selection] = values
        return True

    def exhaust_queue(self) -> None:
        """Write every queued iterator to the end."""
        total = _total_buffers(iterator for _, iterator in self)
        with progress_bar(self.progress if self else False, total, "writing iterators", "block") as bar:
            if self.number_of_jobs > 1:
                parallel = [(d, it) for d, it in self if _is_pickleable(it) and _local_root(d) is not None]
                for item in parallel:
                    self.remove(item)
                if parallel:
                    self._write_in_processes(parallel, bar.update)
            while self:
                dset, data = self.popleft()
                if self.__write_chunk__(dset, data):
                    super().append((dset, data))
                    bar.update(1)

    def _write_in_processes(
        self, items: list[tuple[zarr.Array, GenericDataChunkIterator]], on_task: Any = None
    ) -> None:
        tasks = [
            (_local_root(dset), dset.path, iterator, selection)
            for dset, iterator in items
            for selection in _selections(dset, iterator)
        ]
        context = multiprocessing.get_context(self.multiprocessing_context or default_start_method())
        with ProcessPoolExecutor(
            max_workers=self.number_of_jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.max_threads_per_process,),
        ) as executor:
            for _ in executor.map(_write_task, tasks):
                if on_task is not None:
                    on_task(1)


def default_start_method() -> str:
    """How worker processes start unless told: ``forkserver`` where there is one, else ``spawn``.

    Never ``fork``: the writing process runs threads (zarr's event loop, thread pools), and a process forked
    from a threaded one can deadlock. Scripts that write with ``number_of_jobs > 1`` therefore need the
    usual ``if __name__ == "__main__":`` guard, and their iterators must be importable by the workers.
    """
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _local_root(dset: zarr.Array) -> str | None:
    root = getattr(dset.store, "root", None)
    return str(root) if root is not None else None


def _is_pickleable(iterator: Any) -> bool:
    if not isinstance(iterator, GenericDataChunkIterator):
        return False
    try:
        type(iterator)._from_dict(iterator._to_dict())
    except Exception:
        return False
    return True


def _buffers_contain_shards(shape: tuple[int, ...], shards: tuple[int, ...], buffers: tuple[int, ...]) -> bool:
    return all(b == s or b % sh == 0 for s, sh, b in zip(shape, shards, buffers))


def _iter_shard_selections(shape: tuple[int, ...], shards: tuple[int, ...]) -> Iterator[Selection]:
    counts = [math.ceil(s / sh) for s, sh in zip(shape, shards)]
    for index in itertools.product(*(range(c) for c in counts)):
        yield tuple(slice(i * sh, min((i + 1) * sh, s)) for i, sh, s in zip(index, shards, shape))


def _iter_shard_buffer_selections(shard: Selection, buffer_shape: tuple[int, ...]) -> Iterator[Selection]:
    """Pieces of ``shard`` cut on the buffer grid: each fits in one buffer, together they tile the shard."""
    axes = []
    for sl, size in zip(shard, buffer_shape):
        cuts, start = [], sl.start
        while start < sl.stop:
            stop = min(sl.stop, (start // size + 1) * size)
            cuts.append(slice(start, stop))
            start = stop
        axes.append(cuts)
    yield from itertools.product(*axes)


def _selections(dset: zarr.Array, iterator: GenericDataChunkIterator) -> list[Any]:
    shards = dset.shards
    buffer_shape = tuple(iterator.buffer_shape)
    if shards is not None and not _buffers_contain_shards(dset.shape, shards, buffer_shape):
        return [("shard", sel, buffer_shape) for sel in _iter_shard_selections(dset.shape, shards)]
    return list(iterator.buffer_selection_generator)


def _init_worker(max_threads: int | None) -> None:
    global _THREAD_LIMIT
    _THREAD_LIMIT = None
    if max_threads is not None:
        from threadpoolctl import threadpool_limits

        _THREAD_LIMIT = threadpool_limits(limits=max_threads)


def _write_task(task: tuple[str, str, GenericDataChunkIterator, Any]) -> None:
    root, path, iterator, selection = task
    array = zarr.open_array(store=root, path=path, mode="r+")
    if isinstance(selection, tuple) and selection and selection[0] == "shard":
        _, shard, buffer_shape = selection
        block = np.empty(tuple(s.stop - s.start for s in shard), dtype=array.dtype)
        for piece in _iter_shard_buffer_selections(shard, buffer_shape):
            local = tuple(slice(p.start - s.start, p.stop - s.start) for p, s in zip(piece, shard))
            block[local] = iterator._get_data(piece)
        array[shard] = block
    else:
        array[selection] = iterator._get_data(selection)
    gc.collect()


def _total_buffers(iterators: Any) -> int | None:
    """How many blocks the queued iterators will yield, when every one of them knows (None otherwise)."""
    total = 0
    for iterator in iterators:
        count = getattr(iterator, "num_buffers", None)
        if not isinstance(count, int):
            return None
        total += count
    return total
