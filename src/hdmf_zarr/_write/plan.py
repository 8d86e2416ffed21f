"""Builder tree -> WritePlan: every node to create, with final attributes, links and pending data.

Nothing here touches the store. The plan is committed by ``_commit``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import zarr
from hdmf.build import Builder, DatasetBuilder, GroupBuilder, LinkBuilder, ReferenceBuilder
from hdmf.container import Container
from hdmf.data_utils import AbstractDataChunkIterator, DataIO
from hdmf.query import HDMFDataset

from .. import _dtypes as dt
from .. import _names
from .._convention import (
    DIMENSIONS_ATTR,
    DTYPE_ATTR,
    REFERENCE_DTYPE_ATTR_VALUE,
    REFERENCE_FIELDS_ATTR,
    SAME_STORE,
    builder_path,
    join_key,
    link_entry,
    reference_path,
)
from .._convert.h5filters import is_h5py_dataset
from .._stores import get_store_path
from .copy import copy_settings, region_converter, source_dtype
from .options import WriteOptions


@dataclass
class GroupNode:
    """A group to create (or, when ``exists``, an existing group that gains links)."""

    key: str
    attributes: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    exists: bool = False


@dataclass
class InMemory:
    """Values in memory, encoded at commit."""

    values: np.ndarray


@dataclass
class CopiedSource:
    """An existing array (zarr array, h5py dataset) read region by region; ``convert`` turns each region read
    into the values stored."""

    source: Any
    convert: Callable[[Any], np.ndarray]


@dataclass
class ChunkIterator:
    """An HDMF chunk iterator, written chunk by chunk through the IO's iterator queue."""

    iterator: AbstractDataChunkIterator


@dataclass
class DaskBlocks:
    """A dask array, written block by block by dask itself (see ``dask.py``)."""

    array: Any


@dataclass
class ChunkReferences:
    """Chunks kept where they are: ``ranges`` maps chunk coordinates to the ``(offset, length)`` of the chunk's
    bytes in the file at ``url``; chunks not listed read as the fill value. ``complete``: every chunk is listed.
    The commit writes only the array's metadata; a virtual file's writer stores the references."""

    url: str
    ranges: dict[tuple[int, ...], tuple[int, int]]
    complete: bool


#: what an ``ArrayNode`` is filled from; None once its data is written (or when it has none)
ArrayData = InMemory | CopiedSource | ChunkIterator | DaskBlocks | ChunkReferences | None


@dataclass
class ArrayNode:
    """An array to create and the data to put in it."""

    key: str
    shape: tuple[int, ...]
    dtype: Any
    attributes: dict[str, Any]
    settings: dict[str, Any]
    data: ArrayData = None
    metadata: Any = None  # ArrayV3Metadata, set by the committer
    overwrite: bool = False

    @property
    def values(self) -> np.ndarray | None:
        """The in-memory values, when the data is in memory."""
        return self.data.values if isinstance(self.data, InMemory) else None

    @property
    def shape_is_final(self) -> bool:
        """True when data is still to be written and its shape is known now (an iterator may grow its array)."""
        return self.data is not None and not isinstance(self.data, ChunkIterator)


@dataclass
class WritePlan:
    groups: dict[str, GroupNode] = field(default_factory=dict)
    arrays: dict[str, ArrayNode] = field(default_factory=dict)
    builders: list[Builder] = field(default_factory=list)

    def add_array(self, node: ArrayNode) -> ArrayNode:
        self.arrays[node.key] = node
        return node


def where(key: str) -> str:
    return "/" + key


class Planner:
    """Walks a builder tree and records what must be written.

    ``is_written(builder)`` says which builders already exist in the store (append modes);
    ``location`` is this store's folder (None for non-local stores), used for external link paths;
    ``export_source`` is the source file's location when exporting; ``options`` are the write's (the
    objects it redirects to other stores, the compressors that replace those of copied arrays).

    Every group, dataset and link name to be written is checked (``_names``): a name Zarr forbids or the
    store cannot hold raises InvalidNameError while planning, so nothing is written. ``max_name_bytes``
    is the longest name the store holds (by default, that of the store at ``location``).
    """

    def __init__(
        self,
        is_written,
        location: str | None,
        link_data: bool = True,
        export_source: str | None = None,
        options: WriteOptions | None = None,
        max_name_bytes: int | None | Literal["location"] = "location",
    ) -> None:
        self.is_written = is_written
        self.location = location
        #: the longest node name (UTF-8 bytes) the store holds, None for no limit
        self.max_name_bytes = _names.max_name_bytes(location) if max_name_bytes == "location" else max_name_bytes
        self.link_data = link_data
        self.export_source = export_source
        self.options = options or WriteOptions()
        self.plan = WritePlan()
        #: key -> (store, path): objects written as links to another store instead (kept external links)
        self.redirects = self.options.redirects

    # ------------------------------------------------------------ groups and links
    def add_root(self, root: GroupBuilder) -> WritePlan:
        self.add_group(root, "")
        return self.plan

    def add_group(self, builder: GroupBuilder, key: str) -> GroupNode:
        exists = self.is_written(builder)
        node = GroupNode(key=key, exists=exists)
        if not exists:
            if key:  # the root's name is not stored
                self.check_name(builder.name, key)
            node.attributes = self.attributes(builder, key)
            self.plan.builders.append(builder)
        self.plan.groups[key] = node
        for sub in builder.groups.values():
            if not self._redirect(node, sub, join_key(key, sub.name)):
                self.add_group(sub, join_key(key, sub.name))
        for sub in builder.datasets.values():
            self.add_dataset(node, sub)
        for sub in builder.links.values():
            self.add_link(node, sub)
        return node

    def add_link(self, parent: GroupNode, link: LinkBuilder) -> None:
        if self.is_written(link):
            return
        self.check_name(link.name, join_key(parent.key, link.name), stored=False)
        if self._redirect(parent, link, join_key(parent.key, link.name)):
            return
        target = link.builder
        source = self.link_source(target.source)
        path = reference_path(target) if source == SAME_STORE else builder_path(target)
        parent.links.append(link_entry(link.name, source, path))
        self.plan.builders.append(link)

    def _redirect(self, parent: GroupNode, builder: Builder, key: str) -> bool:
        """Write ``builder`` as a link to its counterpart in another store when ``key`` is redirected."""
        target = self.redirects.get(key)
        if target is None:
            return False
        self.check_name(builder.name, key, stored=False)
        parent.links.append(link_entry(builder.name, self.link_source(target[0]), target[1]))
        self.plan.builders.append(builder)
        return True

    def link_source(self, target_source: str | None) -> str:
        """The ``source`` of a link entry: "." inside this store, else a path relative to this store."""
        if target_source is None or self.location is None:
            return SAME_STORE
        target = os.path.abspath(target_source) if "://" not in target_source else target_source
        same = {self.location}
        if self.export_source is not None:
            same.add(self.export_source)
        if target in same:
            return SAME_STORE
        from .._stores import relative_source

        return relative_source(self.location, target)

    def check_name(self, name: str, key: str, stored: bool = True) -> None:
        """InvalidNameError when ``name`` (of the object at ``key``) cannot be written; ``stored`` False for names
        that only go into a ``_LINKS`` entry (no store key, so no length limit)."""
        _names.check_node_name(name, where(key), self.max_name_bytes if stored else None)

    def attributes(self, builder: Builder, key: str) -> dict[str, Any]:
        out = {}
        for name, value in builder.attributes.items():
            _names.check_attribute_name(name, where(key))
            out[name] = dt.json_safe_attribute(name, value, where(key))
        return out

    # ------------------------------------------------------------ datasets
    def add_dataset(self, parent: GroupNode, builder: DatasetBuilder) -> None:
        key = join_key(parent.key, builder.name)
        if self.is_written(builder):
            return
        self.check_name(builder.name, key)
        if self._redirect(parent, builder, key):
            return
        data, settings, link_data = builder.data, {}, self.link_data
        if isinstance(data, DataIO):
            settings = dict(getattr(data, "io_settings", {}) or {})
            link_data = getattr(data, "link_data", link_data)
            data = data.data
        if isinstance(data, zarr.Array) and link_data and self._link_array(parent, builder, data, key):
            return
        node = self.array_node(builder, key, data, settings)
        if builder.dimension_labels is not None:
            node.attributes[DIMENSIONS_ATTR] = list(builder.dimension_labels)
        self.plan.add_array(node)
        self.plan.builders.append(builder)

    def _link_array(self, parent: GroupNode, builder: DatasetBuilder, array: zarr.Array, key: str) -> bool:
        """Record a link to an existing zarr array instead of copying it; False when it must be copied."""
        array_store = get_store_path(array.store)
        array_path = "/" + array.path.strip("/")
        if self.export_source is not None and array_store == self.export_source:
            if posixpath.dirname(array_path) == "/" + parent.key or array_path == "/" + key:
                return False  # the array itself is being exported: copy it into place
            source = SAME_STORE
        else:
            source = self.link_source(array_store)
        parent.links.append(link_entry(builder.name, source, array_path))
        self.plan.builders.append(builder)
        return True

    def array_node(self, builder: DatasetBuilder, key: str, data: Any, settings: dict) -> ArrayNode:
        spec_dtype = builder.dtype
        attrs = self.attributes(builder, key)
        if is_h5py_dataset(data) or isinstance(data, zarr.Array):
            return self._lazy_copy_node(builder, key, data, settings, attrs)
        if isinstance(data, HDMFDataset) and not isinstance(data, AbstractDataChunkIterator):
            data = _materialize(data)
        if dt.is_compound_dtype(spec_dtype):
            values = dt.compound_array(list(spec_dtype), data, where(key))
            refs = dt.reference_field_names(spec_dtype)
            if refs:
                attrs[REFERENCE_FIELDS_ATTR] = refs
            return ArrayNode(key, values.shape, values.dtype, attrs, settings, InMemory(values))
        if dt.is_reference_dtype(spec_dtype) or _is_reference_data(data):
            values = _reference_paths(data, where(key))
            attrs[DTYPE_ATTR] = REFERENCE_DTYPE_ATTR_VALUE
            return ArrayNode(key, values.shape, dt.STRING_DTYPE, attrs, settings, InMemory(values))
        if isinstance(data, AbstractDataChunkIterator):
            return self._iterator_node(builder, key, data, settings, attrs)
        kind = self._element_type(spec_dtype, data, builder, key)
        attrs[DTYPE_ATTR] = dt.type_name(kind)
        if is_dask_array(data) and kind is not str:
            dtype = np.dtype(kind) if kind is not None else np.dtype(data.dtype)
            if dtype.kind not in "OUSTV":  # text is written eagerly
                return ArrayNode(key, tuple(int(n) for n in data.shape), dtype, attrs, settings, DaskBlocks(data))
        if kind is str:
            values = dt.text_array(data, f"Dataset '{builder.name}' in '{where(key)}'")
        else:
            values = np.asarray(data, dtype=kind)
        return ArrayNode(key, values.shape, values.dtype, attrs, settings, InMemory(values))

    def _element_type(self, spec_dtype: Any, data: Any, builder: DatasetBuilder, key: str) -> Any:
        kind = dt.lookup_spec_dtype(spec_dtype)
        if kind is not None:
            return kind
        try:
            return dt.infer_type(data)
        except ValueError:
            raise ValueError(
                f"Cannot write dataset '{where(key)}': it is empty and has no dtype, so its element type "
                "cannot be determined. Give it a dtype (e.g. np.array([], dtype='int32'))."
            ) from None

    def _iterator_node(self, builder, key, iterator, settings, attrs) -> ArrayNode:
        kind = dt.lookup_spec_dtype(builder.dtype) if builder.dtype is not None else None
        dtype = np.dtype(iterator.dtype) if kind is None else dt.storage_dtype(kind)
        if dtype.kind in "OUS":
            dtype = dt.STRING_DTYPE
        shape = tuple(settings.pop("shape", None) or iterator.recommended_data_shape())
        if "chunks" not in settings and iterator.recommended_chunk_shape() is not None:
            settings["chunks"] = tuple(iterator.recommended_chunk_shape())
        attrs[DTYPE_ATTR] = "str" if dtype == dt.STRING_DTYPE else dtype.str
        return ArrayNode(key, shape, dtype, attrs, settings, ChunkIterator(iterator))

    def _lazy_copy_node(self, builder, key, source, settings, attrs) -> ArrayNode:
        """Copy a zarr array or h5py dataset region by region, keeping its storage settings."""
        settings = {**copy_settings(source, self.options.compressors), **settings}
        dtype, kind_name = source_dtype(source, builder.dtype)
        if dtype.names:
            refs = dt.reference_field_names(builder.dtype) if dt.is_compound_dtype(builder.dtype) else []
            if refs:
                attrs[REFERENCE_FIELDS_ATTR] = refs
        elif kind_name is not None:
            attrs[DTYPE_ATTR] = kind_name
        shape = tuple(source.shape)
        if shape == ():
            values = region_converter(source, dtype)(source[()])
            return ArrayNode(key, shape, dtype, attrs, settings, InMemory(np.asarray(values, dtype=dtype)))
        return ArrayNode(key, shape, dtype, attrs, settings, CopiedSource(source, region_converter(source, dtype)))


def is_dask_array(obj: Any) -> bool:
    """True for a dask array (recognised without importing dask)."""
    kind = type(obj)
    return kind.__name__ == "Array" and kind.__module__.startswith("dask.array")


def _materialize(data: HDMFDataset) -> Any:
    if len(data) and isinstance(data[0], Container):
        return data
    return data[:]


def _is_reference_data(data: Any) -> bool:
    if isinstance(data, (ReferenceBuilder, Builder)):
        return True
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], (ReferenceBuilder, Builder)):
        return True
    return False


def _reference_paths(data: Any, where_text: str) -> np.ndarray:
    def path_of(value: Any) -> str:
        if isinstance(value, ReferenceBuilder):
            return reference_path(value.builder)
        if isinstance(value, Builder):
            return reference_path(value)
        if isinstance(value, str):
            return value
        raise TypeError(f"Cannot write reference dataset '{where_text}': {value!r} is not a reference.")

    if isinstance(data, (ReferenceBuilder, Builder, str)):
        out = np.empty((), dtype=dt.STRING_DTYPE)
        out[()] = path_of(data)
        return out
    paths = [path_of(v) for v in data]
    out = np.empty(len(paths), dtype=dt.STRING_DTYPE)
    out[:] = paths
    return out
