"""WritePlan -> store: metadata documents in one batch, data streamed, consolidated metadata once.

Small nodes are encoded into an in-memory staging store first (zarr's own metadata and codec code
does the encoding), then written to the target store in one batch. Large arrays, copies and
iterators are written straight to the target, chunk by chunk.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.core.array import AsyncArray, init_array
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.group import ConsolidatedMetadata, GroupMetadata
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore, StorePath

from .. import _arrays
from .._arrays import array_config, array_from_metadata
from .._chunkrecord import stores_every_chunk, with_chunk_record
from .._convention import LINKS_ATTR, V3_DOCUMENT
from .._convention import join_key as _join
from .._icechunk import is_icechunk_store
from .._inline import can_inline, inline, is_inline
from .._progress import NoProgress, chunk_count, progress_bar
from .._read.documents import block_is_current, load_documents, parse_nodes
from .._writestate import carries, mark_document, replace_root, unmarked, write_state
from ..errors import PlanError  # noqa: F401  (raised here; importable from here as before)
from .chunkcopy import ArrayCopy, run_bounded, stage_small_sources
from .encode import encode_single_chunk, write_chunks
from .options import WriteOptions
from .plan import ArrayNode, ChunkIterator, ChunkReferences, CopiedSource, DaskBlocks, GroupNode, WritePlan

#: arrays whose data is at most this many bytes are encoded in the staging batch
SMALL_ARRAY_BYTES = 4 << 20
#: lazy sources (h5py datasets, zarr arrays) up to this many bytes are read in the staging batch
SMALL_SOURCE_BYTES = 1 << 20
#: staged bytes after which the staging store is flushed to the target
STAGING_FLUSH_BYTES = 256 << 20


def _create_kwargs(node: ArrayNode) -> dict[str, Any]:
    """``init_array`` keywords for a node's storage settings."""
    settings = dict(node.settings)
    chunks = settings.pop("chunks", None)
    if chunks is None or chunks is True:
        chunks = "auto"
    if node.shape == ():
        chunks = ()
    elif any(s == 0 for s in node.shape) and chunks == "auto":
        chunks = tuple(1 for _ in node.shape)
    kwargs: dict[str, Any] = {"chunks": chunks}
    for name in ("compressors", "filters", "serializer", "shards", "fill_value"):
        if name in settings:
            kwargs[name] = settings[name]
    dtype = np.dtype(node.dtype) if isinstance(node.dtype, np.dtype) else None
    if dtype is not None and dtype.names and kwargs.get("fill_value") is None:
        kwargs["fill_value"] = np.zeros((), dtype)[()]  # zarr 3.4.0's own default puts "0" in text fields
    return kwargs


def _settings_key(value: Any) -> Any:
    """A hashable description of storage settings (codecs by their JSON form)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _settings_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_settings_key(v) for v in value)
    if hasattr(value, "to_dict"):
        return repr(value.to_dict())
    return repr(value)


class MetadataFactory:
    """Array metadata for plan nodes, built by zarr's own ``init_array`` (in memory).

    Arrays that differ only in their attributes share one template, so a file with hundreds of
    similar datasets costs a handful of ``init_array`` calls.
    """

    def __init__(self) -> None:
        self.staging = MemoryStore()
        self.templates: dict[Any, Any] = {}

    async def build(self, node: ArrayNode) -> Any:
        kwargs = _create_kwargs(node)
        key = (node.shape, str(node.dtype), _settings_key(kwargs))
        template = self.templates.get(key)
        if template is None:
            try:
                array = await init_array(
                    store_path=StorePath(self.staging, f"t{len(self.templates)}"),
                    shape=node.shape,
                    dtype=node.dtype,
                    overwrite=True,
                    **kwargs,
                )
            except (ValueError, TypeError) as err:
                raise PlanError(f"Cannot create dataset '/{node.key}' with settings {node.settings}: {err}") from err
            template = self.templates[key] = array.metadata
        meta = copy.copy(template)
        object.__setattr__(meta, "attributes", dict(node.attributes))
        if can_inline(node.shape, node.values, node.settings):
            meta = inline(meta, node.values)
        elif _written_in_full(node):
            meta = with_chunk_record(meta)
        return meta


def _written_in_full(node: ArrayNode) -> bool:
    """True for arrays whose every chunk this commit writes (not iterators, which may leave gaps) or references."""
    if isinstance(node.data, ChunkReferences):
        return node.data.complete and len(node.shape) > 0 and all(n > 0 for n in node.shape)
    has_data = node.values is not None or isinstance(node.data, (CopiedSource, DaskBlocks))
    return has_data and len(node.shape) > 0 and all(n > 0 for n in node.shape)


def _nbytes(node: ArrayNode) -> int:
    if node.values is None:
        return 0
    if node.values.dtype.kind == "T":
        return sum(len(s) for s in node.values.reshape(-1)) + node.values.size * 8
    return node.values.nbytes


class Committer:
    """Writes a WritePlan into ``store``; ``existing`` holds metadata of nodes already in the store."""

    def __init__(
        self,
        store: Store,
        existing: Mapping[str, Any] | None = None,
        options: WriteOptions | None = None,
        iterators: Any = None,
        root_mark: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.root_mark = root_mark  # the writer's write-state mark, kept on the root document while it works
        self.existing = dict(existing or {})
        self.options = options or WriteOptions()
        self.iterators = iterators  # the IO's chunk-iterator queue (iterators may be left for close())
        self.bar: Any = NoProgress()  # advanced once per chunk streamed (big arrays, copies)
        self.prototype = default_buffer_prototype()
        self.written: dict[str, Any] = {}  # key -> metadata of every node this commit wrote

    # ------------------------------------------------------------------ entry points
    def commit_root(self, root: GroupMetadata, mark: dict[str, Any] | None = None) -> None:
        """Write the root group document ``root`` on its own, carrying the write-state ``mark`` when given."""
        documents = self._encode("", root)
        if mark is not None:
            documents[V3_DOCUMENT] = _marked_buffer(documents[V3_DOCUMENT], mark)
        sync(self._write_documents(documents))

    def commit(self, plan: WritePlan, exhaust_iterators: bool = True) -> dict[str, Any]:
        """Write ``plan``, each array by the writer its data needs; the metadata of every node written.

        In-memory values, copies of existing arrays and dask arrays are written here; chunk iterators go to
        the iterator queue and, with ``exhaust_iterators``, are written to the end (they may grow their array:
        its final metadata is returned).
        """
        sync(self._commit(plan))
        dask_nodes = [node for node in plan.arrays.values() if isinstance(node.data, DaskBlocks)]
        if dask_nodes:
            from .dask import write_dask_nodes

            write_dask_nodes(self.store, dask_nodes, self.options.progress)
        iterated = {
            key: array_from_metadata(self.store, key, node.metadata)
            for key, node in plan.arrays.items()
            if isinstance(node.data, ChunkIterator)
        }
        if iterated:
            if self.iterators is None:
                raise PlanError("Chunk iterators need an iterator queue to be written through.")
            for key, array in iterated.items():
                self.iterators.append(array, plan.arrays[key].data.iterator)
            if exhaust_iterators:
                self.iterators.progress = self.options.progress
                self.iterators.exhaust_queue()
                self.written.update({key: array.metadata for key, array in iterated.items()})
        return self.written

    async def _commit(self, plan: WritePlan) -> None:
        factory = MetadataFactory()
        metas = [await factory.build(node) for node in plan.arrays.values()]
        for node, meta in zip(plan.arrays.values(), metas):
            node.metadata = meta
        documents: dict[str, Buffer] = {}
        for node in plan.groups.values():
            meta = self._group_metadata(node)
            if meta is not None:
                self.written[node.key] = meta
                documents.update(self._encode(node.key, meta))
        for node in plan.arrays.values():
            self.written[node.key] = node.metadata
            documents.update(self._encode(node.key, node.metadata))
        if V3_DOCUMENT in documents and self.root_mark is not None:  # the root keeps the mark until the last step
            documents[V3_DOCUMENT] = _marked_buffer(documents[V3_DOCUMENT], self.root_mark)
        documents.update(
            await stage_small_sources(plan.arrays.values(), SMALL_SOURCE_BYTES, STAGING_FLUSH_BYTES, self.options)
        )
        fallback = self._encode_small_chunks(plan, documents)
        replaced = [node for node in plan.arrays.values() if node.key in self.existing]
        rewritten = [node for node in replaced if is_inline(node.metadata) or stores_every_chunk(node.metadata)]
        await self._delete_chunks([node for node in replaced if node not in rewritten])
        await self._write_documents(documents)
        await self._write_small_arrays(fallback)
        big = [node for node in plan.arrays.values() if node.values is not None and _nbytes(node) > SMALL_ARRAY_BYTES]
        copies = [node for node in plan.arrays.values() if isinstance(node.data, CopiedSource)]
        total = sum(chunk_count(node.metadata) for node in big + copies)
        with progress_bar(self.options.progress if total else False, total, "writing chunks") as self.bar:
            for node in big:
                await self._write_array(node)
            await run_bounded((lambda n=node: self._copy_source(n) for node in copies), self.options.jobs)
        await self._delete_chunks(rewritten, keep_written=True)

    def _group_metadata(self, node: GroupNode) -> GroupMetadata | None:
        if not node.exists:
            attrs = dict(node.attributes)
            if node.links:
                attrs[LINKS_ATTR] = list(node.links)
            return GroupMetadata(attributes=attrs)
        if not node.links:
            return None
        current = self.existing.get(node.key)
        attrs = dict(current.attributes) if current is not None else {}
        links = [
            entry for entry in attrs.get(LINKS_ATTR, []) if entry.get("name") not in {n["name"] for n in node.links}
        ]
        attrs[LINKS_ATTR] = links + list(node.links)
        consolidated = current.consolidated_metadata if current is not None else None
        return GroupMetadata(attributes=attrs, consolidated_metadata=consolidated)

    def _encode(self, key: str, meta: Any) -> dict[str, Buffer]:
        return {_join(key, name): buf for name, buf in encode_metadata(meta).items()}

    def _async_array(self, node: ArrayNode, store: Store | None = None) -> AsyncArray:
        store_path = StorePath(store or self.store, node.key)
        return AsyncArray(metadata=node.metadata, store_path=store_path, config=array_config(node.metadata))

    async def _delete_chunks(self, nodes: list[ArrayNode], keep_written: bool = False) -> None:
        """Drop the old chunks of arrays being replaced (spec documents rewritten in append mode).

        With ``keep_written``, called after the new array was written: the chunks the new array stored (all
        of its grid, or none for an inline scalar) stay, so a writer killed at any point leaves a readable array.
        """
        for node in nodes:
            prefix = _join(node.key, "c")
            keys = [key async for key in self.store.list_prefix(prefix)]
            if keep_written and not is_inline(node.metadata):
                grid = _arrays.grid_shape(tuple(node.metadata.shape), _arrays.chunk_shape_of(node.metadata))
                current = {_join(node.key, node.metadata.encode_chunk_key(c)) for c in np.ndindex(*grid)}
                keys = [key for key in keys if key not in current]
            await asyncio.gather(*(self.store.delete(key) for key in keys))

    def _encode_small_chunks(self, plan: WritePlan, documents: dict[str, Buffer]) -> list[ArrayNode]:
        """Add the single chunk of each small array to ``documents``; return those zarr must write."""
        fallback = []
        for node in plan.arrays.values():
            if node.values is None or _nbytes(node) > SMALL_ARRAY_BYTES:
                continue
            encoded = encode_single_chunk(node.metadata, node.values)
            if encoded is None:
                fallback.append(node)
            elif encoded[1] is not None:
                documents[_join(node.key, encoded[0])] = encoded[1]
        return fallback

    async def _write_small_arrays(self, nodes: list[ArrayNode]) -> None:
        """Encode arrays through zarr into an in-memory staging store, then write them in batches."""
        staging = MemoryStore()
        pending, staged = [], 0
        for node in nodes:
            pending.append(self._async_array(node, staging).setitem(..., node.values))
            staged += _nbytes(node)
            if staged > STAGING_FLUSH_BYTES:
                await self._flush(staging, pending)
                staging, pending, staged = MemoryStore(), [], 0
        await self._flush(staging, pending)

    async def _flush(self, staging: MemoryStore, pending: list) -> None:
        await asyncio.gather(*pending)
        await self._write_documents(dict(staging._store_dict))

    async def _write_documents(self, documents: Mapping[str, Buffer]) -> None:
        if not documents:
            return
        if isinstance(self.store, LocalStore) and not self.store.read_only:
            await asyncio.to_thread(_write_local_files, str(self.store.root), documents)
            return
        semaphore = asyncio.Semaphore(zarr.config.get("async.concurrency") * 4)

        async def put(key: str, value: Buffer) -> None:
            async with semaphore:
                await self.store.set(key, value)

        if is_icechunk_store(self.store):  # Icechunk takes a chunk only once its array's zarr.json is in
            metadata = {k: v for k, v in documents.items() if k.rsplit("/", 1)[-1] == V3_DOCUMENT}
            await asyncio.gather(*(put(k, v) for k, v in metadata.items()))
            documents = {k: v for k, v in documents.items() if k not in metadata}
        await asyncio.gather(*(put(k, v) for k, v in documents.items()))

    async def _write_array(self, node: ArrayNode) -> None:
        """Write a big in-memory array a few chunks at a time (zarr's setitem where we cannot encode)."""
        values = np.asarray(node.values)
        loop = asyncio.get_running_loop()
        streamed = await asyncio.to_thread(
            write_chunks, self.store, node.key, node.metadata, values, loop, self.bar.update
        )
        if not streamed:
            await self._async_array(node).setitem(..., values)

    async def _copy_source(self, node: ArrayNode) -> None:
        """Copy a lazy source (zarr array, h5py dataset) chunk by chunk, as stored bytes where the codecs match."""
        setitem = self._async_array(node).setitem
        source, convert = node.data.source, node.data.convert
        array_copy = ArrayCopy(
            self.store, node.key, node.metadata, source, convert, setitem, self.options, self.bar.update
        )
        await array_copy.run()


def _marked_buffer(document: Buffer, mark: dict[str, Any]) -> Buffer:
    return default_buffer_prototype().buffer.from_bytes(mark_document(document.to_bytes(), mark))


def encode_metadata(meta: Any) -> dict[str, Buffer]:
    """The metadata documents of a node as compact JSON (C-accelerated; readers ignore whitespace)."""
    with zarr.config.set({"json_indent": None}):
        return meta.to_buffer_dict(default_buffer_prototype())


def _write_local_files(root: str, documents: Mapping[str, Buffer]) -> None:
    """Write documents as files, a folder at a time; many folders are written by a few threads at once.

    Each file is written under a temporary name and renamed into place, so a reader (or a writer killed
    half way) never sees a half-written document: an existing one is replaced whole or not at all.

    Creating folders and files is mostly waiting on the file system (about half a millisecond each on
    slow disks), so threads overlap it: thousands of small nodes are written several times faster.
    """
    folders: dict[str, list[tuple[str, Buffer]]] = {}
    for key, value in documents.items():
        path = os.path.join(root, key)
        folders.setdefault(os.path.dirname(path), []).append((path, value))

    def write_folder(item: tuple[str, list[tuple[str, Buffer]]]) -> None:
        folder, files = item
        os.makedirs(folder, exist_ok=True)  # safe when threads create common parents at the same time
        for path, value in files:
            temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.partial"
            with open(temporary, "wb") as handle:
                handle.write(value.as_buffer_like())
            os.replace(temporary, path)

    if len(folders) < 32:
        for item in folders.items():
            write_folder(item)
        return
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(write_folder, folders.items()):
            pass


def consolidated_root(root: GroupMetadata, nodes: Mapping[str, Any]) -> GroupMetadata:
    """The root metadata with a consolidated block describing ``nodes`` (key -> metadata, root excluded)."""
    members = {}
    for key, meta in nodes.items():
        if not key:
            continue
        if isinstance(meta, GroupMetadata):
            meta = dataclasses.replace(meta, consolidated_metadata=ConsolidatedMetadata(metadata={}))
        members[key] = meta
    ConsolidatedMetadata._flat_to_nested(members)
    return dataclasses.replace(root, consolidated_metadata=ConsolidatedMetadata(metadata=members))


def finish_root(
    store: Store,
    nodes: Mapping[str, Any],
    consolidate: bool = True,
    mark: dict[str, Any] | None = None,
    location: str = "",
) -> None:
    """A writer's last step: the root document of ``nodes[""]`` without the write mark, with consolidated
    metadata for ``nodes`` (key -> metadata) unless ``consolidate`` is False; replaced only if the stored
    root still carries this writer's ``mark`` (when given), else ConcurrentWriteError."""
    root = nodes[""]
    if not isinstance(root, GroupMetadata):
        return
    meta = unmarked(dataclasses.replace(root, consolidated_metadata=None))
    if consolidate and getattr(store, "supports_consolidated_metadata", True):  # Icechunk: opens fast without
        meta = consolidated_root(meta, nodes)
    document = encode_metadata(meta)[V3_DOCUMENT].to_bytes()
    if mark is None:
        sync(Committer(store)._write_documents({V3_DOCUMENT: default_buffer_prototype().buffer.from_bytes(document)}))
        return
    error = (
        f"Cannot finish writing '{location}': another writer changed the file since this one started, so "
        "finishing would lose its changes or mix them with these. The other writer's root document was kept; "
        "open the file again and repeat this write."
    )
    replace_root(store, document, lambda current: carries(current, mark), error)


def write_consolidated(store: Store, nodes: Mapping[str, Any]) -> None:
    """Write the root document with consolidated metadata for ``nodes`` (must include the root, key ""), unmarked."""
    finish_root(store, nodes)


def refresh_consolidated(store: Store, mark: dict[str, Any] | None = None, location: str = "") -> bool:
    """Bring the consolidated block up to date with the store's nodes and drop the write mark; False when
    there was nothing to change."""
    root, documents = sync(load_documents(store, use_consolidated=False))
    nodes = parse_nodes(root, documents)
    current = block_is_current(root, documents) or not getattr(store, "supports_consolidated_metadata", True)
    if current and write_state(nodes[""]) is None:
        return False
    finish_root(store, nodes, mark=mark, location=location)
    return True
