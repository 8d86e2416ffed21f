"""Dask arrays as dataset data: written block by block by dask itself, never loaded whole.

The planner records a dask array as an ``ArrayNode`` whose data is ``DaskBlocks``; the committer
writes its metadata with the other documents, then ``write_dask_nodes``
stores the data with dask tasks, on whatever dask would use: the active ``dask.distributed`` Client,
else the configured local scheduler (threads by default).

Memory stays at a few blocks whatever the array's size, because every dask block feeds one task:

- the task of a block writes the zarr chunks (or shards) that lie wholly inside it, straight from the
  block, a core's worth of chunks per zarr call (zarr encodes them on its own threads); then it copies
  out the parts of the chunks that straddle the block's edges (*slivers*) and ends, releasing the
  block. When blocks and chunks line up there are no slivers: one task per block, nothing copied;
- the task of a box of straddling chunks puts the slivers of its blocks together and writes it.
  No two tasks write one chunk, and the data is never rechunked whole: a rechunk makes a second copy
  of every block and needs its neighbours alive at once, which is what made memory grow with the
  number of threads and with ``dask.order``'s choices;
- the local schedulers compute the blocks in array order (``_LocalScheduling``), so slivers wait
  only for the next block, and run only as many tasks at once as keep the cores busy
  (``local_workers``), dask's ``num_workers`` setting taking precedence. A distributed Client gets
  the same tasks and schedules them itself.

dask itself is imported only when a dask array is written. PyNWB containers check their data's type
against a list that predates dask, so there a dask array goes in a ``ZarrDataIO``; builders (and
containers that take any data) accept it as it is.
"""

from __future__ import annotations

import itertools
import math
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._arrays import array_from_metadata, ceil_div
from .._progress import progress_bar

Span = tuple[int, int]  # [start, stop) along one dimension
Box = tuple[Span, ...]


# ------------------------------------------------------------------ planning
def block_edges(sizes: tuple[int, ...]) -> list[int]:
    """Where the blocks of one dimension start, and where the last one stops."""
    return [0, *itertools.accumulate(sizes)]


def overlapping(edges: list[int], span: Span) -> tuple[int, ...]:
    """The indices of the non-empty blocks (given by their ``edges``) that hold part of ``span``."""
    first, stop = bisect_right(edges, span[0]) - 1, bisect_left(edges, span[1])
    return tuple(i for i in range(max(first, 0), stop) if edges[i] < edges[i + 1])


def axis_segments(edges: list[int], outer: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """One dimension cut at chunk edges: runs of whole chunks inside one block, and chunks across blocks.

    Returns ``(start, stop, blocks)`` in order, ``blocks`` being the indices of the blocks the segment
    takes its data from (one for a run inside a block, two or more for a straddling chunk).
    """
    length = edges[-1]
    found: dict[int, tuple[int, int, tuple[int, ...]]] = {}
    for index, (start, stop) in enumerate(zip(edges[:-1], edges[1:])):
        first = ceil_div(start, outer) * outer
        last = stop if stop == length else stop // outer * outer
        if first < last:
            found[first] = (first, last, (index,))
    for edge in edges[1:-1]:
        start = edge // outer * outer
        if 0 < edge < length and edge != start and start not in found:
            span = (start, min(start + outer, length))
            found[start] = (*span, overlapping(edges, span))
    return [found[start] for start in sorted(found)]


@dataclass
class BlockPlan:
    """What the task of one dask block writes (``interior``) and copies out for its neighbours (``slivers``)."""

    index: tuple[int, ...]
    origin: tuple[int, ...]
    interior: Box | None = None
    slivers: list[Box] = field(default_factory=list)


@dataclass
class CellPlan:
    """A box of chunks that straddle blocks, and where its data comes from: (block index, sliver number)."""

    box: Box
    sources: list[tuple[tuple[int, ...], int]] = field(default_factory=list)


def plan_writes(chunks: tuple[tuple[int, ...], ...], outer: tuple[int, ...]) -> tuple[list[BlockPlan], list[CellPlan]]:
    """The block tasks (in array order) and straddling-chunk tasks that write blocks ``chunks`` in chunks ``outer``."""
    edges = [block_edges(dim) for dim in chunks]
    axes = [axis_segments(dim_edges, o) for dim_edges, o in zip(edges, outer)]
    touching = []  # per dimension: block index -> the segments that take data from it
    for segments in axes:
        by_block: dict[int, list[int]] = defaultdict(list)
        for number, (_, _, blocks) in enumerate(segments):
            for block in blocks:
                by_block[block].append(number)
        touching.append(by_block)
    plans: list[BlockPlan] = []
    cells: dict[tuple[int, ...], CellPlan] = {}
    for index in itertools.product(*(range(len(dim)) for dim in chunks)):
        lists = [by_block.get(i, []) for by_block, i in zip(touching, index)]
        if not all(lists):
            continue  # an empty block
        plan = BlockPlan(index, tuple(dim_edges[i] for dim_edges, i in zip(edges, index)))
        for numbers in itertools.product(*lists):
            segments = [segs[n] for segs, n in zip(axes, numbers)]
            box = tuple((start, stop) for start, stop, _ in segments)
            if all(len(blocks) == 1 for _, _, blocks in segments):
                plan.interior = box
                continue
            cell = cells.setdefault(numbers, CellPlan(box))
            cell.sources.append((index, len(plan.slivers)))
            plan.slivers.append(clip(box, plan.origin, chunks, index))
        plans.append(plan)
    return plans, [cells[key] for key in sorted(cells)]


def clip(box: Box, origin: tuple[int, ...], chunks: tuple[tuple[int, ...], ...], index: tuple[int, ...]) -> Box:
    """The part of ``box`` that lies in the block ``index`` (which starts at ``origin``)."""
    return tuple((max(a, o), min(b, o + dim[i])) for (a, b), o, dim, i in zip(box, origin, chunks, index))


def split(box: Box, outer: tuple[int, ...], itemsize: int, limit: int) -> list[Box]:
    """``box`` cut at chunk edges, leading dimensions first, into boxes of at most ``limit`` bytes or one chunk."""
    sizes = [stop - start for start, stop in box]
    step = list(sizes)
    for dim, o in enumerate(outer):
        if math.prod(step) * itemsize <= limit:
            break
        rest = math.prod(step[dim + 1 :]) * itemsize
        step[dim] = min(sizes[dim], max(1, limit // max(rest * o, 1)) * o)
    axes = [[(s, min(s + n, stop)) for s in range(start, stop, n)] for (start, stop), n in zip(box, step)]
    return list(itertools.product(*axes))


# ------------------------------------------------------------------ writing
class BlockWriter:
    """Writes into the zarr array ``key`` of ``store``: the picklable callable of the write tasks."""

    def __init__(self, store: Any, key: str, metadata: Any, limit: int | None = None) -> None:
        self.store = store
        self.key = key
        self.metadata = metadata.to_dict()
        self.limit = limit

    def array(self) -> Any:
        from zarr.core.metadata.v3 import ArrayV3Metadata

        return array_from_metadata(self.store, self.key, ArrayV3Metadata.from_dict(dict(self.metadata)))

    def __call__(self, block: Any, origin: tuple[int, ...], interior: Box | None, slivers: list[Box]) -> Any:
        """Write the chunks inside ``block``; return copies of its ``slivers`` (or ``Written``, if none)."""
        array = self.array()
        block = np.asarray(block)
        if interior is not None:  # first, so that zarr's buffers and the copies are not alive together
            self.write(array, interior, [(block, origin)])
        if not slivers:
            return Written(elements(interior))
        return Slivers(np.array(block[local(box, origin)], dtype=array.dtype) for box in slivers)

    def cell(self, box: Box, pieces: list[tuple[np.ndarray, tuple[int, ...]]]) -> Written:
        """Write the straddling chunks ``box`` from the slivers of the blocks it overlaps."""
        self.write(self.array(), box, pieces)
        return Written(elements(box))

    def write(self, array: Any, box: Box, pieces: list[tuple[np.ndarray, tuple[int, ...]]]) -> None:
        outer = tuple(getattr(array.metadata.chunk_grid, "chunk_shape", array.shape))
        limit = self.limit or chunks_per_call(outer, array.shape) * math.prod(outer) * array.dtype.itemsize
        for part in split(box, outer, array.dtype.itemsize, limit):
            array[tuple(slice(start, stop) for start, stop in part)] = assemble(part, pieces, array.dtype)


def local(box: Box, origin: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(start - o, stop - o) for (start, stop), o in zip(box, origin))


def elements(box: Box | None) -> int:
    return 0 if box is None else math.prod(stop - start for start, stop in box)


def assemble(part: Box, pieces: list[tuple[np.ndarray, tuple[int, ...]]], dtype: np.dtype) -> np.ndarray:
    """The data of ``part``: a view of the piece that holds it all, else a copy put together from the pieces."""
    found = []
    for data, origin in pieces:
        common = tuple((max(a, o), min(b, o + n)) for (a, b), o, n in zip(part, origin, data.shape))
        if all(start < stop for start, stop in common):
            found.append((data[local(common, origin)], common))
    if len(found) == 1 and found[0][1] == tuple(part):
        return np.asarray(found[0][0], dtype=dtype)
    out = np.empty(tuple(stop - start for start, stop in part), dtype=dtype)
    for data, common in found:
        out[local(common, tuple(start for start, _ in part))] = data
    return out


class Written(int):
    """What a write task returns: the number of elements it stored (told apart from other results)."""


class Slivers(tuple):
    """What a block task returns when chunks straddle its edges: copies of its parts of them."""


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


def write_tasks(store: Any, node: Any, limit: int | None = None) -> tuple[list[Any], list[Any]]:
    """The delayed write tasks of ``node.data.array``, and those of them to compute (the others feed them).

    The tasks are in array order: one per block, one per box of straddling chunks, which comes right
    after the task of the last block it needs. The tasks of blocks that have slivers are not to be
    computed, only their dependents: dask would keep their results (the slivers) to return them.
    """
    import dask

    data = node.data.array
    outer = tuple(getattr(node.metadata.chunk_grid, "chunk_shape", data.shape))
    plans, cells = plan_writes(data.chunks, outer)
    writer = BlockWriter(store, node.key, node.metadata, limit)
    blocks = data.to_delayed()
    name = f"BlockWriter-{uuid.uuid4().hex}"
    write_block = dask.delayed(writer, pure=False, traverse=False)
    write_cell = dask.delayed(writer.cell, pure=False, traverse=False)
    done = {}
    for number, plan in enumerate(plans):
        task = write_block(blocks[plan.index], plan.origin, plan.interior, plan.slivers, dask_key_name=(name, number))
        done[plan.index] = (task, plan)
    after: dict[tuple[int, ...], list[Any]] = defaultdict(list)
    for number, cell in enumerate(cells):
        pieces = []
        for index, sliver in cell.sources:
            task, plan = done[index]
            pieces.append((task[sliver], tuple(start for start, _ in plan.slivers[sliver])))
        last = max(index for index, _ in cell.sources)
        after[last].append(write_cell(cell.box, pieces, dask_key_name=(name + "-edges", number)))
    tasks, results = [], []
    for index, (task, plan) in done.items():
        tasks.append(task)
        if not plan.slivers:
            results.append(task)
        tasks.extend(after[index])
        results.extend(after[index])
    return tasks, results


def chunks_at_once() -> int:
    """How many chunks zarr encodes at once in one call: one per core, up to its ``async.concurrency``."""
    import os

    import zarr

    return max(1, min(os.cpu_count() or 1, int(zarr.config.get("async.concurrency") or 1)))


def chunks_per_call(outer: tuple[int, ...], shape: tuple[int, ...]) -> int:
    """How many chunks a task hands zarr per call.

    Chunks that span all but the first dimension are contiguous slices of the data, which zarr encodes
    in place: a call may then cover as many as zarr keeps in flight (``async.concurrency``), sparing
    the waits between calls. Other chunks are copied by zarr before it encodes them: one per core.
    """
    import zarr

    if all(o >= n for o, n in zip(outer[1:], shape[1:])):
        return max(1, int(zarr.config.get("async.concurrency") or 1))
    return chunks_at_once()


def local_workers(data: Any, outer: tuple[int, ...]) -> int:
    """How many write tasks a local pool runs at once: as few as keep the cores busy.

    Each task holds a block, and hands zarr ``chunks_at_once()`` chunks per call, which zarr encodes
    on its own threads. One task is enough when a block holds that many chunks; blocks of fewer
    chunks take more tasks.
    """
    import os

    cores = os.cpu_count() or 1
    per_block = math.prod(data.shape) / max(math.prod(data.numblocks), 1) / max(math.prod(outer), 1)  # chunks
    return max(1, min(cores, ceil_div(cores, max(1, min(chunks_at_once(), int(per_block))))))


def _local_options(scheduler: Any, collections: list[Any], workers: int) -> dict[str, Any]:
    """``num_workers=workers`` for the thread and process pools, unless dask's config sets it."""
    import dask
    import dask.multiprocessing
    import dask.threaded
    from dask.base import get_scheduler

    if dask.config.get("num_workers", None) is not None:
        return {}
    if get_scheduler(scheduler=scheduler, collections=collections) in (dask.threaded.get, dask.multiprocessing.get):
        return {"num_workers": workers}
    return {}


def write_dask(store: Any, node: Any, progress: Any = False) -> None:
    """Store ``node.data.array`` into the array ``node.key`` (whose metadata the committer wrote)."""
    import dask

    if node.data.array.size == 0:
        return
    tasks, results = write_tasks(store, node)
    client = _active_client()
    if client is not None and _shareable(store):
        from distributed import as_completed

        with progress_bar(progress, total=len(results), desc=f"/{node.key}", unit="block") as bar:
            for future in as_completed(client.compute(results)):
                future.result()
                bar.update(1)
        return
    scheduler = "threads" if client is not None or not _shareable(store) else None
    with (
        progress_bar(progress, total=len(tasks), desc=f"/{node.key}", unit="block") as bar,
        _LocalScheduling(bar, [task.key for task in tasks]),
    ):
        outer = tuple(getattr(node.metadata.chunk_grid, "chunk_shape", node.data.array.shape))
        options = _local_options(scheduler, results, local_workers(node.data.array, outer))
        dask.compute(*results, scheduler=scheduler, **options)


class _LocalScheduling:
    """Dask callbacks for the local schedulers: compute the blocks in array order; count the tasks on ``bar``.

    A local scheduler runs first the task that became ready last (``dask.local``: the ``ready`` list of
    its state is a stack), so it finishes what a block feeds before it starts another block; but it
    starts the blocks themselves (the tasks ready at the start) in ``dask.order``'s order, which jumps
    about the array when tasks need two blocks, as those of straddling chunks do, and leaves slivers
    waiting for far-away blocks. ``start_state`` sorts that initial stack by the first write task (in
    array order) that needs each task, so every sliver waits only for the next block. Should a dask
    version keep its state otherwise, the stack is left as it is: the order, not the result, changes.
    """

    def __init__(self, bar: Any, writes: list[Any]) -> None:
        from dask.callbacks import Callback

        def start_state(dsk: Any, state: dict[str, Any]) -> None:
            ready, dependencies = state.get("ready"), state.get("dependencies")
            if not isinstance(ready, list) or not isinstance(dependencies, dict):
                return
            first: dict[Any, int] = {}
            for number, key in enumerate(writes):
                stack = [key]
                while stack:
                    node = stack.pop()
                    if node not in first:
                        first[node] = number
                        stack.extend(dependencies.get(node, ()))
            position = {key: place for place, key in enumerate(ready)}
            ready.sort(key=lambda key: (-first.get(key, len(writes)), position[key]))

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(result, (Written, Slivers)):
                bar.update(1)

        self.callback = Callback(start_state=start_state, posttask=posttask)

    def __enter__(self) -> _LocalScheduling:
        self.callback.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.callback.__exit__(*exc)


def write_dask_nodes(store: Any, nodes: Any, progress: Any = False) -> int:
    """Write every dask-backed node of ``nodes``; returns how many were written."""
    count = 0
    for node in nodes:
        if node.data is not None:
            write_dask(store, node, progress)
            count += 1
    return count
