"""Checking a Zarr v3 file of our convention end to end (``verify_store``); accepting what it holds is
``_repair.py``'s ``repair_store``. Problems are returned as data; nothing here prints.

``verify_store`` reads every node document by listing the store level by level (``_storescan.py``, never
trusting the consolidated block), and reports, each as a ``Problem``:

* the write-state mark of an unfinished writer on the root (``incomplete``);
* documents that are not JSON, not a JSON object, or not metadata zarr can read (``damaged-metadata``);
* the consolidated block against the node documents: a block that cannot be read (``damaged-block``),
  nodes it lists whose zarr.json is gone (``missing-node``), nodes it does not list (``unlisted-node``),
  nodes whose document differs from their entry, field by field (``block-mismatch``);
* per array: recorded chunks (``_chunkrecord.py``) that are not stored (``missing-chunk``), stored chunks that
  do not decode (``damaged-chunk``), codecs that are not installed (``missing-codec``);
* warnings, which do not make a file fail: stored objects outside an array's chunk grid (``extra-chunk``)
  and objects that belong to no node (``stray-object``: a leftover ``.partial`` document of a killed writer).

Arrays are read one stored object (chunk, or shard) at a time, a few at once, so memory stays at a few chunks.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from typing import Any

from zarr.abc.store import ByteRequest, Store
from zarr.core.array import AsyncArray
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.core.sync import sync
from zarr.storage import StorePath

from ._arrays import array_config, chunk_coords, chunk_region, chunk_shape_of, grid_shape
from ._chunkrecord import recorded_shape
from ._convention import V3_DOCUMENT, join_key
from ._inline import is_inline
from ._progress import ProgressOption, progress_bar
from ._remote import is_transport_failure
from ._repair import RepairReport, repair_store
from ._storescan import (
    CONCURRENCY,
    ERROR,
    WARNING,
    Problem,
    Requests,
    Scan,
    block_entries,
    check_format,
    check_orphans,
    comparable,
    counted,
    node_path,
    scan_hierarchy,
    uninstalled_codec,
)
from ._writestate import APPENDING, describe, write_state
from .errors import StoreUnreachableError

#: problems of one kind reported per array before the rest are counted in one last problem
MAX_CHUNK_PROBLEMS = 20
#: decoded bytes held at once per array while decoding (a batch of chunks read concurrently)
DECODE_BATCH_BYTES = 64 << 20
#: fields of a node document whose values are short enough to show when the block disagrees on them
_SHOWN_FIELDS = ("shape", "data_type", "fill_value", "node_type", "zarr_format", "dimension_names")


@dataclass
class VerifyReport:
    """What ``verify_store`` found, and how much it looked at."""

    location: str
    problems: list[Problem] = field(default_factory=list)
    nodes: int = 0  # node documents found (the root included)
    arrays: int = 0
    chunks: int = 0  # stored chunk objects checked (found; and decoded, when decoding)
    bytes_read: int = 0  # stored bytes of the chunks read
    decoded: bool = True

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != ERROR]

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings allowed)."""
        return not self.errors

    def summary(self) -> str:
        checked = "checked" if self.decoded else "found (not decoded)"
        text = (
            f"{self.location}: {counted(self.nodes, 'node')}, {counted(self.arrays, 'array')}, "
            f"{counted(self.chunks, 'chunk')} {checked}"
        )
        if self.decoded:
            text += f" ({_size(self.bytes_read)} read)"
        errors, warnings = len(self.errors), len(self.warnings)
        result = counted(errors, "problem") if errors else "no problems found"
        if warnings:
            result += f", {counted(warnings, 'warning')}"
        return f"{text}: {result}"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _describe_error(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _what(doc: Any) -> str:
    kind = doc.get("node_type") if isinstance(doc, dict) else None
    return kind if kind in ("group", "array") else "node"


def _check_block(scan: Scan, block: dict[str, dict[str, Any]]) -> None:
    """Problems where the consolidated block and the node documents disagree."""
    for key in sorted(block.keys() - scan.documents.keys() - scan.damaged):
        left = " (its folder is still there)" if key in scan.orphans else ""
        scan.add(
            key,
            "missing-node",
            f"the consolidated metadata lists this {_what(block[key])}, but its zarr.json is missing from the "
            f"store{left}",
        )
    for key in sorted(scan.documents.keys() - block.keys() - scan.damaged):
        scan.add(
            key,
            "unlisted-node",
            f"this {_what(scan.documents[key])} is in the store but not in the consolidated metadata, so readers "
            "that use it (mode 'r') do not see it",
        )
    for key in sorted(scan.documents.keys() & block.keys() - scan.damaged):
        own, entry = comparable(scan.documents[key]), comparable(block[key])
        if own == entry:
            continue
        changed = sorted(name for name in own.keys() | entry.keys() if own.get(name) != entry.get(name))
        fields = ", ".join(_field_difference(name, own, entry) for name in changed)
        scan.add(key, "block-mismatch", f"its zarr.json and the consolidated metadata disagree on {fields}")


def _field_difference(name: str, own: dict[str, Any], entry: dict[str, Any]) -> str:
    if name in _SHOWN_FIELDS:
        return f"{name} ({_short(own.get(name))} in zarr.json, {_short(entry.get(name))} in the consolidated metadata)"
    if name == "attributes" and isinstance(own.get(name), dict) and isinstance(entry.get(name), dict):
        mine, theirs = own[name], entry[name]
        names = sorted(n for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n))
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"attributes ({shown})"
    return name


def _short(value: Any) -> str:
    text = "absent" if value is None else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_mark(scan: Scan) -> None:
    mark = write_state(scan.nodes.get(""))
    if mark is None:
        return
    if mark.get("state") == APPENDING:
        consequence = (
            "an edit of the file did not finish (the process was killed, crashed or raised, or is still running). "
            "Readers in mode 'r' read the file as it was before that edit; `hdmf-zarr repair` accepts the edit "
            "as it is"
        )
    else:
        consequence = (
            "its writer did not finish (the process was killed, crashed or raised, or is still running), so "
            "the file may lack datasets or chunks. Write it again, or `hdmf-zarr repair --force` accepts what "
            "is there"
        )
    scan.add("", "incomplete", f"the root zarr.json is marked {describe(mark)}: {consequence}")


# ---------------------------------------------------------------------------------------------- chunks
class _CountingStorePath(StorePath):
    """A StorePath that adds the size of every answer to ``counter[0]``."""

    def __init__(self, store: Store, path: str, counter: list[int]) -> None:
        super().__init__(store, path)
        self.counter = counter

    def __truediv__(self, other: str) -> _CountingStorePath:
        return _CountingStorePath(self.store, join_key(self.path, other) if other else self.path, self.counter)

    async def get(
        self, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        found = await super().get(prototype=prototype, byte_range=byte_range)
        if found is not None:
            self.counter[0] += len(found)
        return found


@dataclass
class _ArrayChunks:
    """One array's stored objects, sorted into those of its grid and the rest."""

    key: str
    meta: ArrayV3Metadata
    stored: list[tuple[int, ...]]  # coordinates of stored chunks inside the grid, in C order
    stored_keys: dict[tuple[int, ...], str]
    missing: list[str]  # chunk keys (relative to the array) recorded as stored but absent
    extra: list[str]  # stored keys (relative) outside the grid or not chunk keys


def _sort_chunks(key: str, meta: ArrayV3Metadata, keys: list[str]) -> _ArrayChunks:
    prefix = f"{key}/" if key else ""
    shape, chunks = tuple(meta.shape), chunk_shape_of(meta)
    grid = grid_shape(shape, chunks)
    stored: dict[tuple[int, ...], str] = {}
    extra = []
    for found in keys:
        relative = found[len(prefix) :]
        if relative == V3_DOCUMENT or not relative or relative.endswith("/"):  # zip files list folders too
            continue
        try:
            coords = tuple(int(i) for i in meta.chunk_key_encoding.decode_chunk_key(relative))
        except (ValueError, TypeError):
            coords = None
        inside = coords is not None and len(coords) == len(grid) and all(0 <= i < n for i, n in zip(coords, grid))
        if inside and meta.encode_chunk_key(coords) == relative:
            stored[coords] = relative
        else:
            extra.append(relative)
    missing = []
    record = recorded_shape(meta)
    if record is not None:
        region = tuple(min(r, s) for r, s in zip(record, shape))
        missing = [meta.encode_chunk_key(tuple(c)) for c in chunk_coords(region, chunks) if tuple(c) not in stored]
    return _ArrayChunks(key, meta, sorted(stored), stored, missing, sorted(extra))


def _add_limited(scan_problems: list[Problem], path: str, kind: str, messages: list[str], more: str) -> None:
    for message in messages[:MAX_CHUNK_PROBLEMS]:
        scan_problems.append(Problem(path, kind, message))
    if len(messages) > MAX_CHUNK_PROBLEMS:
        scan_problems.append(Problem(path, kind, f"and {len(messages) - MAX_CHUNK_PROBLEMS:,} more {more}"))


def _chunk_problems(report: VerifyReport, array: _ArrayChunks) -> None:
    path = node_path(array.key)
    _add_limited(
        report.problems,
        path,
        "missing-chunk",
        [
            f"chunk '{key}' is missing from the store, but the writer stored it (readers raise MissingChunkError)"
            for key in array.missing
        ],
        "chunks of this dataset are missing",
    )
    for key in array.extra[:MAX_CHUNK_PROBLEMS]:
        report.problems.append(
            Problem(path, "extra-chunk", f"'{key}' is stored but lies outside the array's chunk grid", WARNING)
        )
    if len(array.extra) > MAX_CHUNK_PROBLEMS:
        more = len(array.extra) - MAX_CHUNK_PROBLEMS
        report.problems.append(Problem(path, "extra-chunk", f"and {more:,} more objects outside the grid", WARNING))


def _batch_size(meta: ArrayV3Metadata) -> int:
    try:
        itemsize = meta.data_type.to_native_dtype().itemsize or 16
    except Exception:  # noqa: BLE001 - an exotic data type: assume a small item
        itemsize = 16
    nbytes = math.prod(chunk_shape_of(meta)) * max(itemsize, 1)
    return max(1, min(CONCURRENCY, DECODE_BATCH_BYTES // max(nbytes, 1)))


def _is_store_failure(err: BaseException) -> bool:
    """Errors of the store rather than of a chunk: verify stops and raises them."""
    return isinstance(err, (StoreUnreachableError, ConnectionError, PermissionError)) or is_transport_failure(err)


async def _decode(store: Store, array: _ArrayChunks, report: VerifyReport, bar: Any) -> None:
    """Read every stored object of ``array`` through zarr, a batch at a time; a problem per one that fails."""
    path = node_path(array.key)
    counter = [0]
    store_path = _CountingStorePath(store, array.key, counter)
    reader = AsyncArray(metadata=array.meta, store_path=store_path, config=array_config(array.meta))
    shape, chunks = tuple(array.meta.shape), chunk_shape_of(array.meta)
    size = _batch_size(array.meta)
    failures: list[str] = []
    try:
        for start in range(0, len(array.stored), size):
            batch = array.stored[start : start + size]
            results = await asyncio.gather(
                *(reader.getitem(chunk_region(c, chunks, shape)) for c in batch), return_exceptions=True
            )
            for coords, result in zip(batch, results):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception) or _is_store_failure(result):
                        raise result
                    failures.append(f"chunk '{array.stored_keys[coords]}' does not decode ({_describe_error(result)})")
            del results
            bar.update(len(batch))
    finally:
        report.bytes_read += counter[0]
    _add_limited(report.problems, path, "damaged-chunk", failures, "chunks of this dataset do not decode")


async def _check_arrays(store: Store, scan: Scan, report: VerifyReport, decode: bool, progress: ProgressOption) -> None:
    requests = Requests(store)
    arrays = {
        key: meta
        for key, meta in sorted(scan.nodes.items())
        if isinstance(meta, ArrayV3Metadata) and not is_inline(meta) and 0 not in tuple(meta.shape)
    }
    listings = await asyncio.gather(*(requests.list_prefix(key) for key in arrays))
    sorted_chunks = [_sort_chunks(key, meta, keys) for (key, meta), keys in zip(arrays.items(), listings)]
    for array in sorted_chunks:
        _chunk_problems(report, array)
        report.chunks += len(array.stored)
    if not decode:
        return
    readable = []
    for array in sorted_chunks:
        codec = uninstalled_codec(array.meta)
        if codec is None:
            readable.append(array)
        elif array.stored:
            report.problems.append(
                Problem(
                    node_path(array.key),
                    "missing-codec",
                    f"its codec '{codec.codec}' is not installed, so its chunks cannot be decoded (only their "
                    "presence was checked). Install the package that provides it",
                )
            )
    total = sum(len(array.stored) for array in readable)
    with progress_bar(progress if total else False, total, "verifying chunks") as bar:
        for array in readable:
            await _decode(store, array, report, bar)


# ---------------------------------------------------------------------------------------------- entry point
def verify_store(store: Store, *, decode: bool = True, progress: ProgressOption = False) -> VerifyReport:
    """Check the Zarr v3 file in ``store`` end to end; a ``VerifyReport`` of every problem found.

    ``decode=False`` only checks that the recorded chunks exist (one listing per array, no chunk read).
    ``progress``: a progress bar over the chunks decoded (True, or a dict of tqdm keywords).
    A Zarr v2 file raises ``ValueError``; errors of the store itself (unreachable) propagate.
    """
    check_format(store)
    scan = scan_hierarchy(store, "r")
    report = VerifyReport(location=scan.location, decoded=decode)
    report.nodes = len(scan.nodes) + len(scan.damaged)
    report.arrays = sum(isinstance(meta, ArrayV3Metadata) for meta in scan.nodes.values())
    _check_mark(scan)
    block = block_entries(scan)
    if block is not None:
        _check_block(scan, block)
    check_orphans(scan, block)
    report.problems.extend(scan.problems)
    sync(_check_arrays(store, scan, report, decode, progress))
    return report


__all__ = ["Problem", "RepairReport", "VerifyReport", "repair_store", "verify_store"]
