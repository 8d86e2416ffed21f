"""The builder-level write API of ZarrIO: write one group, dataset, link or set of attributes
into an open file. Each call plans just that part and commits it at once, like a whole-file write,
so the store (and the zarr object the caller holds) shows it when the call returns."""

from __future__ import annotations

import posixpath
from typing import Any

import zarr
from hdmf.build import Builder, DatasetBuilder, GroupBuilder, LinkBuilder
from hdmf.container import Container
from hdmf.utils import docval, getargs

from .. import _dtypes
from .._convention import LINKS_ATTR, attribute_reference, builder_path
from .._names import check_attribute_name
from .._stores import has_key, store_location
from .plan import GroupNode, Planner
from .plan import join_key as _join_key


class PartialWriteMixin:
    """write_group / write_dataset / write_link / write_attributes, and what is on disk, for ZarrIO."""

    def write_group(
        self,
        parent: zarr.Group,
        builder: GroupBuilder,
        link_data: bool = True,
        exhaust_dci: bool = True,
        export_source: str | None = None,
    ) -> zarr.Group:
        """Write one group builder (and everything below it) into ``parent``."""
        key = _join_key(parent.path, builder.name)
        _place(builder, parent)
        add = lambda planner, node: planner.add_group(builder, key)  # noqa: E731
        self._commit_partial(parent, add, link_data, export_source, exhaust_dci)
        return zarr.open_group(self.store, path=key, mode="r+")

    def write_dataset(
        self,
        parent: zarr.Group,
        builder: DatasetBuilder,
        link_data: bool = True,
        exhaust_dci: bool = True,
        force_data: Any = None,
        export_source: str | None = None,
    ) -> zarr.Array | None:
        """Write one dataset builder into ``parent``; None when it became a link or was already written."""
        if self.get_written(builder):
            return None
        if force_data is not None:
            builder.data = force_data
        _place(builder, parent)
        add = lambda planner, node: planner.add_dataset(node, builder)  # noqa: E731
        plan = self._commit_partial(parent, add, link_data, export_source, exhaust_dci)
        key = _join_key(parent.path, builder.name)
        return zarr.open_array(self.store, path=key, mode="r+") if key in plan.arrays else None

    def write_link(self, parent: zarr.Group, builder: LinkBuilder, export_source: str | None = None) -> None:
        """Add one link to ``parent``'s ``_LINKS``."""
        _place(builder, parent)
        self._commit_partial(parent, lambda planner, node: planner.add_link(node, builder), True, export_source)

    def _fresh(self, node: zarr.Group | zarr.Array) -> zarr.Group | zarr.Array:
        """``node`` reopened from its own metadata document (a consolidated copy may be stale)."""
        if isinstance(node, zarr.Array):
            return zarr.open_array(self.store, path=node.path, mode="r+")
        return zarr.open_group(self.store, path=node.path, mode="r+", use_consolidated=False)

    def _commit_partial(
        self, parent: zarr.Group, add: Any, link_data: bool, export_source: str | None, exhaust_dci: bool = True
    ) -> Any:
        """Plan what ``add(planner, parent node)`` records under ``parent``, commit it, and show it in ``parent``
        (its members and ``_LINKS`` are then read from the store, not from a consolidated copy). With
        ``exhaust_dci`` False, chunk iterators are queued and written on ``close()``."""
        planner = Planner(self.get_written, store_location(self.store), link_data, export_source)
        node = GroupNode(key=parent.path.strip("/"), exists=True)
        planner.plan.groups[node.key] = node
        add(planner, node)
        current = self._fresh(parent).metadata
        written = self._commit_plan(planner.plan, {node.key: current}, exhaust_dci, planner.options)
        _adopt(parent, written.get(node.key, current))  # the document as it is now, without reading it again
        return planner.plan

    @docval(
        {"name": "obj", "type": (zarr.Group, zarr.Array), "doc": "the group or array"},
        {"name": "attributes", "type": dict, "doc": "attributes to write"},
    )
    def write_attributes(self, **kwargs):
        """Write attributes onto a zarr node at once; ``obj.attrs`` shows them when the call returns.

        Values are stored in their JSON form (numpy scalars and arrays as numbers and nested lists, sets
        as sorted lists, bytes as text); a Builder, ReferenceBuilder, Container or zarr node of this file
        is stored as an object reference.
        """
        obj, attributes = getargs("obj", "attributes", kwargs)
        where = "/" + obj.path
        values = {name: self._attribute_value(name, value, where) for name, value in attributes.items()}
        fresh = self._fresh(obj)
        fresh.attrs.update(values)
        _adopt(obj, fresh.metadata)
        self._mark_modified()

    def _attribute_value(self, name: str, value: Any, where: str) -> Any:
        check_attribute_name(name, where)
        if isinstance(value, Container):
            value = self.manager.build(value)
        if isinstance(value, (zarr.Group, zarr.Array)):
            return attribute_reference("/" + value.path.strip("/"))
        return _dtypes.json_safe_attribute(name, value, where)

    # ------------------------------------------------------------------ what is on disk
    def get_builder_exists_on_disk(self, builder: Builder) -> bool:
        """True when the store holds ``builder``'s node (for a link: its entry in the parent's ``_LINKS``)."""
        key = builder_path(builder).strip("/")
        store = self.store
        if store is None:
            return False
        if not isinstance(builder, LinkBuilder):
            return has_key(store, _join_key(key, "zarr.json"))
        parent = posixpath.dirname(key)
        if not has_key(store, _join_key(parent, "zarr.json")):
            return False
        group = zarr.open_group(store, path=parent, mode="r", use_consolidated=False)
        return any(entry.get("name") == builder.name for entry in group.attrs.get(LINKS_ATTR, []))

    def get_builder_disk_path(self, builder: Builder, filepath: str | None = None) -> str:
        """Where ``builder`` lives: this file's location (or ``filepath``) joined with its in-store path."""
        base = filepath or self.source
        return posixpath.join(base.rstrip("/"), builder_path(builder).lstrip("/"))


def _place(builder: Builder, parent: zarr.Group) -> None:
    """Give a builder written on its own (no parent builder) its place in the file, so that references to
    it and its path are those of the node written."""
    if builder.parent is None:
        builder.location = "/" + parent.path.strip("/")


def _adopt(obj: zarr.Group | zarr.Array, metadata: Any) -> None:
    """Make the caller's zarr object carry the metadata just written (zarr objects cache their document)."""
    inner = obj.async_array if isinstance(obj, zarr.Array) else obj._async_group
    object.__setattr__(inner, "metadata", metadata)
