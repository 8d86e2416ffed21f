"""The builder-level write API of ZarrIO: write one group, dataset, link or set of attributes
into an open file. Each call plans just that part and commits it like a whole-file write."""

from __future__ import annotations

from typing import Any

import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder
from hdmf.utils import docval, getargs

from . import _dtypes
from ._plan import GroupNode, Planner
from ._plan import join_key as _join_key
from ._stores import store_location


class PartialWriteMixin:
    """write_group / write_dataset / write_link / write_attributes for ZarrIO."""

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
        self._commit_partial(parent, lambda planner, node: planner.add_group(builder, key), link_data, export_source)
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
        plan = self._commit_partial(
            parent, lambda planner, node: planner.add_dataset(node, builder), link_data, export_source
        )
        key = _join_key(parent.path, builder.name)
        return zarr.open_array(self.store, path=key, mode="r+") if key in plan.arrays else None

    def write_link(self, parent: zarr.Group, builder: LinkBuilder, export_source: str | None = None) -> None:
        """Add one link to ``parent``'s ``_LINKS``."""
        self._commit_partial(parent, lambda planner, node: planner.add_link(node, builder), True, export_source)

    def _fresh(self, node: zarr.Group | zarr.Array) -> zarr.Group | zarr.Array:
        """``node`` reopened from its own metadata document (a consolidated copy may be stale)."""
        if isinstance(node, zarr.Array):
            return zarr.open_array(self.store, path=node.path, mode="r+")
        return zarr.open_group(self.store, path=node.path, mode="r+", use_consolidated=False)

    def _commit_partial(self, parent: zarr.Group, add: Any, link_data: bool, export_source: str | None) -> Any:
        """Plan what ``add(planner, parent node)`` records under ``parent`` and commit it."""
        planner = Planner(self.get_written, store_location(self.store), link_data, export_source)
        node = GroupNode(key=parent.path.strip("/"), exists=True)
        planner.plan.groups[node.key] = node
        add(planner, node)
        self._commit_plan(planner.plan, {node.key: self._fresh(parent).metadata}, True)
        return planner.plan

    @docval(
        {"name": "obj", "type": (zarr.Group, zarr.Array), "doc": "the group or array"},
        {"name": "attributes", "type": dict, "doc": "attributes to write"},
    )
    def write_attributes(self, **kwargs):
        """Write attributes (made JSON-safe, references wrapped) onto a zarr node."""
        obj, attributes = getargs("obj", "attributes", kwargs)
        where = "/" + obj.path
        self._fresh(obj).attrs.update({k: _dtypes.json_safe_attribute(k, v, where) for k, v in attributes.items()})
        self._mark_modified()
