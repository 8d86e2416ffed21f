"""Store metadata -> builder tree. One metadata load per store; arrays stay lazy.

``StoreIndex`` holds the metadata of every node of one store (from the consolidated block when
there is one, else from one concurrent listing). ``BuilderReader`` turns it into builders without
touching the store again, except to fetch the values of scalar datasets, in one concurrent batch.
"""

from __future__ import annotations

import asyncio
import posixpath
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder, ReferenceBuilder
from zarr.abc.store import Store
from zarr.core.array import AsyncArray
from zarr.core.group import AsyncGroup, GroupMetadata
from zarr.core.sync import sync
from zarr.storage import StorePath

from .._arrays import array_from_metadata
from .._buffers import host_prototype
from .._convention import (
    DTYPE_ATTR,
    LEGACY_DTYPE_ATTR,
    LEGACY_LINKS_ATTR,
    LINKS_ATTR,
    REFERENCE_DTYPE_ATTR_VALUE,
    REFERENCE_FIELDS_ATTR,
    RESERVED_ATTRS,
    ROOT_NAME,
    detect_format,
    parent_key,
    parse_reference_element,
    reference_target,
    spec_location,
)
from .._dtypes import STRING_DTYPE, compound_builder_dtype
from .._inline import inline_value, is_inline
from .._stores import resolve_source
from .._writestate import APPENDING, write_state
from .arrays import HDMFZarrArray, WriteHooks, guard_decoding
from .chunkguard import checked_store_path
from .documents import load_documents, parse_nodes
from .references import BuilderZarrReferenceDataset, BuilderZarrTableDataset


class NodeIndex(Protocol):
    """What the reader needs of a store: every node's metadata, and the nodes as zarr objects.

    ``StoreIndex`` implements it for Zarr v3; ``_legacy.index.V2StoreIndex`` for Zarr v2 (loaded only when a
    v2 store is opened). Nothing outside the indexes asks which format a store is.
    """

    store: Store
    nodes: dict[str, Any]
    children: dict[str, list[str]]
    allow_pickle: bool

    def prepare(self, ignored: Callable[[str], bool]) -> None: ...
    def is_group(self, key: str) -> bool: ...
    def attributes(self, key: str) -> dict[str, Any]: ...
    def native_dtype(self, key: str) -> np.dtype: ...
    def chunk_shape(self, key: str) -> tuple[int, ...]: ...
    def group(self, key: str = "") -> zarr.Group: ...
    def array(self, key: str) -> Any: ...
    def node(self, key: str) -> Any: ...
    def fetch_scalars(self, keys: list[str]) -> dict[str, Any]: ...
    def source_location(self, here: str, source: str) -> str: ...


def load_index(store: Store, use_consolidated: bool = True, allow_pickle: bool = False) -> NodeIndex:
    """The node index of ``store``: v3, or v2 (its reader is imported only then)."""
    if detect_format(store) == 2:
        from .._legacy.index import V2StoreIndex

        return V2StoreIndex.load(store, allow_pickle=allow_pickle)
    return StoreIndex.load(store, use_consolidated=use_consolidated)


class StoreIndex:
    """The metadata of every node in a Zarr v3 store, keyed by store-relative path ("" is the root)."""

    #: only legacy v2 files hold pickled values; a v3 index has nothing to unpickle
    allow_pickle = False

    def __init__(self, store: Store, nodes: dict[str, Any], from_block: bool = False) -> None:
        self.store = store
        self.nodes = nodes
        self.from_block = from_block  # the nodes' metadata came from the root's consolidated block
        mark = write_state(nodes.get(""))
        # an edit that did not finish may have changed node documents; the block still describes the file before it
        self.edit_interrupted = mark is not None and mark.get("state") == APPENDING
        self.children: dict[str, list[str]] = {}
        for key in sorted(k for k in nodes if k):
            self.children.setdefault(parent_key(key), []).append(key)

    @classmethod
    def load(cls, store: Store, use_consolidated: bool = True) -> StoreIndex:
        return sync(cls._load(store, use_consolidated))

    @classmethod
    async def _load(cls, store: Store, use_consolidated: bool) -> StoreIndex:
        root, documents = await load_documents(store, use_consolidated)
        from_block = use_consolidated and isinstance(root.get("consolidated_metadata"), dict)
        return cls(store, parse_nodes(root, documents), from_block)

    def prepare(self, ignored: Callable[[str], bool]) -> None:
        """Hook run before builders are made from the index (the v2 index decodes legacy arrays here)."""

    def is_group(self, key: str) -> bool:
        return isinstance(self.nodes.get(key), GroupMetadata)

    def attributes(self, key: str) -> dict[str, Any]:
        return dict(self.nodes[key].attributes)

    def native_dtype(self, key: str) -> np.dtype:
        return self.nodes[key].data_type.to_native_dtype()

    def chunk_shape(self, key: str) -> tuple[int, ...]:
        meta = self.nodes[key]
        return tuple(getattr(meta.chunk_grid, "chunk_shape", meta.shape))

    def group(self, key: str = "") -> zarr.Group:
        """The group at ``key`` built from metadata in hand (no store request)."""
        return zarr.Group(AsyncGroup(metadata=self.nodes[key], store_path=StorePath(self.store, key)))

    def array(self, key: str) -> HDMFZarrArray:
        """A lazy array for ``key`` built from metadata in hand (no store request); its chunk reads are checked
        against its chunk record and, when its metadata came from the consolidated block, its own document."""
        meta = self.nodes[key]
        store_path = checked_store_path(self.store, key, meta, self.from_block and not self.edit_interrupted)
        return array_from_metadata(self.store, key, meta, HDMFZarrArray, store_path)

    def node(self, key: str) -> zarr.Group | zarr.Array:
        """The group or array at ``key`` (KeyError when there is none), from metadata in hand."""
        if key not in self.nodes:
            raise KeyError(key)
        return self.group(key) if self.is_group(key) else self.array(key)

    def source_location(self, here: str, source: str) -> str:
        """Where a link's or reference's ``source``, stored in the store at ``here``, points."""
        return resolve_source(here, source)

    def fetch_scalars(self, keys: list[str]) -> dict[str, Any]:
        """Values of 0-d arrays: inline ones from their metadata, the others fetched concurrently.

        A chunk that does not decode raises ``DamagedFileError`` naming the store, the dataset and the chunk.
        """
        inline = {key: inline_value(self.nodes[key]) for key in keys if is_inline(self.nodes[key])}
        keys = [key for key in keys if key not in inline]

        async def one(key: str) -> Any:
            meta = self.nodes[key]
            array = guard_decoding(AsyncArray(metadata=meta, store_path=StorePath(self.store, key)))
            return await array.getitem((), prototype=host_prototype())

        async def all_of() -> list[Any]:
            return await asyncio.gather(*(one(k) for k in keys))

        return {**inline, **dict(zip(keys, sync(all_of())))} if keys else inline


def unwrap_scalar(value: Any) -> Any:
    """numpy scalars for numbers and bools, ``str`` for text, 0-d structured arrays kept as such."""
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            return value
        if value.dtype == STRING_DTYPE or value.dtype.kind in "OU":
            item = value.reshape(-1)[0] if value.size else ""
            return str(item) if not isinstance(item, bytes) else item.decode("utf-8")
        return value[()] if value.ndim == 0 else value
    return value


class BuilderReader:
    """Builds (and caches) the builders of one store.

    ``source`` is the store's location as builders report it; ``resolve_external(source, path)``
    returns a builder in another store (for links whose ``source`` is not "."); ``on_build`` is
    called with every builder (and link builder) created.
    """

    def __init__(
        self,
        index: StoreIndex,
        source: str | None,
        resolve_external: Callable[[str, str], Any],
        ref_datasets: Callable[[Any, str], Any],
        on_build: Callable[[Any], None] = lambda builder: None,
        write_hooks: WriteHooks | None = None,
    ) -> None:
        self.index = index
        self.write_hooks = write_hooks  # given to every array read, when the IO writes
        self.on_build = on_build
        self.source = source
        self.resolve_external = resolve_external
        self.ref_datasets = ref_datasets
        self.builders: dict[str, Any] = {}
        self.scalars: dict[str, Any] = {}
        self.ignored: set[str] = set()

    # ------------------------------------------------------------------ entry points
    def read_root(self) -> GroupBuilder:
        if "" in self.builders:
            return self.builders[""]
        specloc = spec_location(self.index.nodes[""].attributes)
        if specloc:
            self.ignored.add(specloc)
        self.index.prepare(self._is_ignored)
        self.scalars.update(
            self.index.fetch_scalars(
                [
                    key
                    for key, meta in self.index.nodes.items()
                    if not isinstance(meta, GroupMetadata) and not meta.shape and not self._is_ignored(key)
                ]
            )
        )
        return self.node_builder("")

    def node_builder(self, key: str) -> Any:
        """The builder of the node at ``key`` (built on first use, then cached)."""
        builder = self.builders.get(key)
        if builder is None:
            if key not in self.index.nodes:
                raise KeyError(key)
            builder = self._group(key) if self.index.is_group(key) else self._dataset(key)
        return builder

    def resolve(self, entry: dict[str, Any]) -> Any:
        """The builder a link entry or reference ``{"source", "path"}`` points to."""
        source, path = entry.get("source") or ".", entry.get("path")
        if source not in (".", "", None) and source != self.source:
            return self.resolve_external(source, path or "/")
        key = (path or "/").strip("/")
        try:
            return self.node_builder(key)
        except KeyError:
            raise ValueError(
                f"Found bad link to object {path} in file {self.source}: there is no such object. The file was "
                "changed after the link or reference was written; restore the object or remove the link."
            ) from None

    # ------------------------------------------------------------------ builders
    def _is_ignored(self, key: str) -> bool:
        return any(key == i or key.startswith(i + "/") for i in self.ignored)

    def _location(self, key: str) -> str:
        return "/" + parent_key(key) if key else "/"

    def _attributes(self, key: str) -> dict[str, Any]:
        out = {}
        for name, value in self.index.attributes(key).items():
            if name in RESERVED_ATTRS:
                continue
            target = reference_target(value)
            out[name] = self.resolve(target) if target is not None else value
        return out

    def _group(self, key: str) -> GroupBuilder:
        name = ROOT_NAME if not key else posixpath.basename(key)
        builder = GroupBuilder(name, source=self.source, attributes={})
        builder.location = self._location(key)
        self.builders[key] = builder
        self.on_build(builder)
        children = [c for c in self.index.children.get(key, []) if not self._is_ignored(c)]
        for child in children:
            if self.index.is_group(child):
                builder.set_group(self.node_builder(child))
        for child in children:
            if not self.index.is_group(child):
                builder.set_dataset(self.node_builder(child))
        raw = self.index.attributes(key)
        for entry in raw.get(LINKS_ATTR, []) + raw.get(LEGACY_LINKS_ATTR, []):
            link = LinkBuilder(builder=self.resolve(entry), name=entry["name"], source=self.source)
            link.location = "/" + key
            builder.set_link(link)
            self.on_build(link)
        for name, value in self._attributes(key).items():
            builder.set_attribute(name, value)
        return builder

    def _dataset(self, key: str) -> DatasetBuilder:
        meta = self.index.nodes[key]
        attrs = self.index.attributes(key)
        native = self.index.native_dtype(key)
        dtype = self._builder_dtype(key, native, attrs)
        shape = tuple(meta.shape)
        chunk_shape = self.index.chunk_shape(key)
        builder = DatasetBuilder(
            posixpath.basename(key),
            data=None,
            dtype=dtype,
            attributes={},
            maxshape=shape,
            chunks=tuple(chunk_shape) != shape,
            source=self.source,
        )
        builder.location = self._location(key)
        self.builders[key] = builder
        self.on_build(builder)
        builder.data = self._data(key, native, dtype, attrs, shape)
        for name, value in self._attributes(key).items():
            builder.set_attribute(name, value)
        return builder

    def _builder_dtype(self, key: str, native: np.dtype, attrs: dict[str, Any]) -> Any:
        if native.names:
            return compound_builder_dtype(native, attrs.get(REFERENCE_FIELDS_ATTR, ()))
        if DTYPE_ATTR in attrs:
            value = attrs[DTYPE_ATTR]
            return DatasetBuilder.OBJECT_REF_TYPE if value == REFERENCE_DTYPE_ATTR_VALUE else value
        if LEGACY_DTYPE_ATTR in attrs:
            return attrs[LEGACY_DTYPE_ATTR]
        warnings.warn(f"Inferred dtype from zarr type. Dataset missing dtype attributes: /{key}", stacklevel=4)
        return "str" if native == STRING_DTYPE else native.name

    def _data(self, key: str, native: np.dtype, dtype: Any, attrs: dict[str, Any], shape: tuple) -> Any:
        is_ref = dtype == DatasetBuilder.OBJECT_REF_TYPE
        if not shape:
            value = self.scalars[key] if key in self.scalars else self.index.array(key)[()]
            if is_ref:
                return ReferenceBuilder(self.resolve(parse_reference_element(unwrap_scalar(value))))
            if native.names:
                record = np.array(value, dtype=native)
                ref_fields = attrs.get(REFERENCE_FIELDS_ATTR)
                return self._resolve_record(record, ref_fields) if ref_fields else record
            return unwrap_scalar(value)
        array = self.index.array(key)
        if self.write_hooks is not None:
            object.__setattr__(array, "write_hooks", self.write_hooks)
        if attrs.get(LEGACY_DTYPE_ATTR) == "scalar":
            return unwrap_scalar(np.asarray(array[...]).reshape(-1)[:1].reshape(()))
        if is_ref:
            return self.ref_datasets(array, "references")
        if native.names and attrs.get(REFERENCE_FIELDS_ATTR):
            return self.ref_datasets(array, dtype)
        return array

    def _resolve_record(self, record: np.ndarray, ref_fields: list[str]) -> np.ndarray:
        """A 0-d compound record whose reference fields hold the target builders (object fields)."""
        out = np.empty((), dtype=[(n, object if n in ref_fields else record.dtype[n]) for n in record.dtype.names])
        for name in record.dtype.names:
            if name in ref_fields:
                path = str(record[name][()])
                out[name] = self.resolve(parse_reference_element(path)) if path else None
            else:
                out[name] = record[name]
        return out


def make_reference_dataset(io: Any) -> Callable[[Any, Any], Any]:
    def build(array: Any, kind: Any) -> Any:
        if kind == "references":
            return BuilderZarrReferenceDataset(array, io)
        return BuilderZarrTableDataset(array, io, kind)

    return build
