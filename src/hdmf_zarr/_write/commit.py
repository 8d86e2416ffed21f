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

from .._arrays import array_from_metadata
from .._convention import LINKS_ATTR
from .._convention import join_key as _join
from .._inline import can_inline, inline
from .._progress import NoProgress, chunk_count, progress_bar
from .._read.documents import block_is_current, load_documents, parse_nodes
from ..errors import PlanError  # noqa: F401  (raised here; importable from here as before)
from .chunkcopy import ArrayCopy, run_bounded, stage_small_sources
from .encode import encode_single_chunk, write_chunks
from .options import WriteOptions
from .plan import ArrayNode, ChunkIterator, CopiedSource, DaskBlocks, GroupNode, WritePlan

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
        return meta


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
    ) -> None:
        self.store = store
        self.existing = dict(existing or {})
        self.options = options or WriteOptions()
        self.iterators = iterators  # the IO's chunk-iterator queue (iterators may be left for close())
        self.bar: Any = NoProgress()  # advanced once per chunk streamed (big arrays, copies)
        self.prototype = default_buffer_prototype()
        self.written: dict[str, Any] = {}  # key -> metadata of every node this commit wrote

    # ------------------------------------------------------------------ entry points
    def commit_root(self) -> None:
        """Write an empty root group document (a new, empty file)."""
        sync(self._write_documents(self._encode("", GroupMetadata())))

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
        documents.update(
            await stage_small_sources(plan.arrays.values(), SMALL_SOURCE_BYTES, STAGING_FLUSH_BYTES, self.options)
        )
        fallback = self._encode_small_chunks(plan, documents)
        await self._clear_replaced_arrays(plan)
        await self._write_documents(documents)
        await self._write_small_arrays(fallback)
        big = [node for node in plan.arrays.values() if node.values is not None and _nbytes(node) > SMALL_ARRAY_BYTES]
        copies = [node for node in plan.arrays.values() if isinstance(node.data, CopiedSource)]
        total = sum(chunk_count(node.metadata) for node in big + copies)
        with progress_bar(self.options.progress if total else False, total, "writing chunks") as self.bar:
            for node in big:
                await self._write_array(node)
            await run_bounded((lambda n=node: self._copy_source(n) for node in copies), self.options.jobs)

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
        return AsyncArray(metadata=node.metadata, store_path=StorePath(store or self.store, node.key))

    async def _clear_replaced_arrays(self, plan: WritePlan) -> None:
        """Drop old chunks of arrays that are being replaced (spec documents rewritten in append mode)."""
        stale = [n.key for n in plan.arrays.values() if n.key in self.existing]
        await asyncio.gather(*(self.store.delete_dir(_join(key, "c")) for key in stale))
        await asyncio.gather(*(self.store.delete(_join(key, "c")) for key in stale))

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


def encode_metadata(meta: Any) -> dict[str, Buffer]:
    """The metadata documents of a node as compact JSON (C-accelerated; readers ignore whitespace)."""
    with zarr.config.set({"json_indent": None}):
        return meta.to_buffer_dict(default_buffer_prototype())


def _write_local_files(root: str, documents: Mapping[str, Buffer]) -> None:
    """Write documents as files, a folder at a time; many folders are written by a few threads at once.

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
            with open(path, "wb") as handle:
                handle.write(value.as_buffer_like())

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


def write_consolidated(store: Store, nodes: Mapping[str, Any]) -> None:
    """Write the root document with consolidated metadata for ``nodes`` (must include the root, key "")."""
    root = nodes[""]
    if not isinstance(root, GroupMetadata):
        return
    meta = consolidated_root(dataclasses.replace(root, consolidated_metadata=None), nodes)
    docs = encode_metadata(meta)
    sync(Committer(store)._write_documents(docs))


def refresh_consolidated(store: Store) -> bool:
    """Bring the consolidated block up to date with the store's nodes; False when it already was."""
    root, documents = sync(load_documents(store, use_consolidated=False))
    if block_is_current(root, documents):
        return False
    write_consolidated(store, parse_nodes(root, documents))
    return True
